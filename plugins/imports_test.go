package plugins_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	module = "github.com/neksio/neksio"
	sdkPkg = module + "/plugins/sdk"
)

// connectorModules are the third-party modules a connector may import
// beyond the SDK's own dependencies, named one by one: each is a
// maintained library doing a job the connector must not hand-write
// (OAuth, OIDC token verification), and each connector's go.mod would
// list it if it were shipped on its own.
var connectorModules = map[string][]string{
	"google": {"golang.org/x/oauth2", "github.com/coreos/go-oidc/v3", "github.com/go-jose/go-jose/v4"},
	"meta":   {"golang.org/x/oauth2"},
}

func inModule(imp, mod string) bool { return imp == mod || strings.HasPrefix(imp, mod+"/") }

type listedPackage struct {
	ImportPath   string
	ForTest      string
	Standard     bool
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// touchSources opens every Go file under plugins/: go test caches a result
// by the files the test process itself opened, and go list runs in a child.
func touchSources(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		_, err = os.ReadFile(path)
		return err
	})
	require.NoError(t, err)
}

func goList(t *testing.T, args ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestConnectorsImportOnlyTheSDK keeps connectors shippable on their own:
// every package under plugins/ (the SDK module aside) may import, of
// Neksio, only the SDK and its own subpackages, and otherwise only the
// standard library, what the SDK itself depends on, and the modules
// connectorModules names for it. Tests count too. It is the one import
// boundary test of the connectors: it finds every package by itself, so a
// new connector directory is checked without being named here, and every
// directory holding Go code must be among those it checked.
func TestConnectorsImportOnlyTheSDK(t *testing.T) {
	t.Parallel()
	touchSources(t)
	allowed := map[string]bool{}
	for _, p := range goList(t, "-deps", "-test", sdkPkg+"/...") {
		allowed[p.ImportPath] = true
	}
	standard := map[string]bool{}
	for _, p := range goList(t, "-deps", "-test", "./...") {
		if p.Standard {
			standard[p.ImportPath] = true
		}
	}

	checked := 0
	seen := map[string]bool{}
	for _, p := range goList(t, "./...") {
		if !strings.HasPrefix(p.ImportPath, module+"/plugins/") || strings.HasPrefix(p.ImportPath, sdkPkg) {
			continue
		}
		checked++
		seen[strings.TrimPrefix(p.ImportPath, module+"/")] = true
		// The connector's root: plugins/<name> or plugins/examples/<name>.
		parts := strings.Split(strings.TrimPrefix(p.ImportPath, module+"/plugins/"), "/")
		root := module + "/plugins/" + parts[0]
		if parts[0] == "examples" && len(parts) > 1 {
			root += "/" + parts[1]
		}
		imports := append(append(append([]string(nil), p.Imports...), p.TestImports...), p.XTestImports...)
		for _, imp := range imports {
			switch {
			case imp == root || strings.HasPrefix(imp, root+"/"):
			case imp == sdkPkg || strings.HasPrefix(imp, sdkPkg+"/"):
			case strings.HasPrefix(imp, module+"/"):
				t.Errorf("%s imports %s: connectors may import only %s/...", p.ImportPath, imp, sdkPkg)
			case standard[imp], allowed[imp]:
			case slices.ContainsFunc(connectorModules[parts[0]], func(m string) bool { return inModule(imp, m) }):
			default:
				t.Errorf("%s imports %s: connectors may import only the standard library and what the SDK depends on", p.ImportPath, imp)
			}
		}
	}
	require.NotZero(t, checked, "no connector package found under plugins/")

	// A directory go list would skip (every file behind a build tag, only
	// tests) would escape the check: there is none.
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		dir := filepath.ToSlash(filepath.Join("plugins", filepath.Dir(path)))
		if dir == "plugins" || dir == "plugins/sdk" || strings.HasPrefix(dir, "plugins/sdk/") || strings.Contains(dir, "/testdata") {
			return nil
		}
		if !seen[dir] {
			t.Errorf("%s holds Go code but is not a package the test checked", dir)
		}
		return nil
	})
	require.NoError(t, err)
}
