package whatsapp_test

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The connector ships as a plugin others may copy: it depends on the
// standard library and the public SDK only.
func TestImportsStdlibAndSDKOnly(t *testing.T) {
	t.Parallel()

	for _, dir := range []string{".", "sandbox"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(gotoken.NewFileSet(), name, nil, parser.ImportsOnly)
			require.NoError(t, err)
			for _, imp := range f.Imports {
				path, err := strconv.Unquote(imp.Path.Value)
				require.NoError(t, err)
				first, _, _ := strings.Cut(path, "/")
				stdlib := !strings.Contains(first, ".")
				require.True(t, stdlib || path == "github.com/neksio/neksio/plugins/sdk",
					"%s imports %s", name, path)
			}
		}
	}
}
