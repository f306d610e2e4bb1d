package meta_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImports keeps the connector a plugin: outside tests it may import
// only the standard library, the SDK, its own packages, and the
// maintained OAuth library for Facebook Login.
func TestImports(t *testing.T) {
	t.Parallel()
	const self = "github.com/neksio/neksio/plugins/meta"
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			allowed := !strings.Contains(first, ".") || p == "github.com/neksio/neksio/plugins/sdk" ||
				p == self || strings.HasPrefix(p, self+"/") || p == "golang.org/x/oauth2"
			require.True(t, allowed, "%s imports %s", path, p)
		}
		return nil
	})
	require.NoError(t, err)
}
