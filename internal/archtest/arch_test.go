// Package archtest enforces the import rules that docs/architecture.md
// states, so a dependency that crosses a boundary fails `make test` instead of
// waiting for a reviewer to notice.
package archtest

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/neksio/neksio"

// rule forbids packages under from to import anything matching one of deny,
// unless the import matches one of allow.
type rule struct {
	from   string   // package path prefix, relative to the module ("" for every package)
	except []string // packages under from the rule leaves out
	deny   []string // import path prefixes, module-relative for the app's own packages
	allow  []string // exceptions to deny
	why    string
}

var rules = []rule{
	{
		from:  "core/",
		deny:  []string{"graph", "jobs", "cmd", "bench", "plugins/", "github.com/99designs/gqlgen", "github.com/riverqueue/river/rivertest"},
		allow: []string{"jobs/jobargs", "plugins/sdk"},
		why:   "the domain knows no GraphQL, no workers and no concrete connector: jobs/jobargs and the SDK's types only",
	},
	{
		from: "core/",
		deny: []string{"core/ai/openai"},
		why:  "core holds an ai.Provider (the Chooser); the external provider is constructed in cmd/neksio only",
	},
	{
		from:  "jobs/",
		deny:  []string{"graph", "cmd", "bench", "plugins/", "github.com/99designs/gqlgen"},
		allow: []string{"plugins/sdk"},
		why:   "workers are thin: decode arguments, call core",
	},
	{
		from:  "jobs/jobargs",
		deny:  []string{""}, // nothing of the app: core inserts jobs through it
		allow: []string{
			// standard library and River's own types are not app packages
		},
		why: "jobargs is a leaf so that core can insert jobs without importing workers",
	},
	{
		from:  "graph",
		deny:  []string{"jobs", "cmd", "bench", "plugins/"},
		allow: []string{"jobs/jobargs", "plugins/sdk"},
		why:   "resolvers call core; wiring of workers and connectors happens in cmd/neksio",
	},
	{
		from:   "graph",
		except: []string{"graph/server"},
		deny:   []string{"graph/server"},
		why:    "the transport (graph/server) builds the schema from the resolvers, never the other way: graph reaches a connection only through graph.Conn",
	},
	{
		from: "graph/limits",
		deny: []string{"graph"},
		why:  "limits sit below the server and its resolvers: graph uses them, never the other way",
	},
	{
		from:  "ent/schema",
		deny:  []string{"core/", "graph", "jobs", "cmd", "plugins/"},
		allow: []string{"core/tenant"},
		why:   "the data model depends only on the tenancy rules its privacy policies apply",
	},
	{
		from: "core/apperr",
		deny: []string{""},
		why:  "apperr is the one classification every layer shares (tenant and so the data model included): a leaf",
	},
	{
		from:  "internal/",
		deny:  []string{"graph", "jobs", "cmd", "bench"},
		allow: nil,
		why:   "shared internals sit below the layers that use them",
	},
	{
		from:   "",
		except: []string{"bench", "internal/testenv", "core/store/storetest", "core/vector/milvuslite"},
		deny:   []string{"internal/testenv", "core/store/storetest"},
		why:    "the test kit (test databases on both engines, the CI policy) is for tests and the bench only: _test.go files, the kit's own packages and bench/",
	},
}

// TestImportRules walks every package of the main module (the SDK and the
// connectors are checked by plugins/imports_test.go) and fails on an import
// a rule forbids.
func TestImportRules(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if rel != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "data" || name == "bin") {
			return filepath.SkipDir
		}
		if rel != "." && fileExists(filepath.Join(path, "go.mod")) {
			return filepath.SkipDir // another module (plugins/sdk)
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		checked++
		for _, imp := range pkg.Imports {
			for _, r := range rules {
				if !covers(r, rel) {
					continue
				}
				if violates(imp, r) {
					t.Errorf("%s imports %s: %s", rel, imp, r.why)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 30 {
		t.Fatalf("checked only %d packages: is the module root right (%s)?", checked, root)
	}
}

// TestNoInitWiring keeps cmd/neksio's construction explicit: components
// are built in App.wireFeatures, in an order written down, not registered
// by init functions that run in file-name order.
func TestNoInitWiring(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "cmd", "neksio")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				t.Errorf("%s: func init(): construct in App.wireFeatures (cmd/neksio/app.go) instead", name)
			}
		}
	}
	if files == 0 {
		t.Fatal("no files of cmd/neksio parsed")
	}
}

// riverDecisions are River's outcomes a worker may return instead of an
// error; only jobs/retry.go turns a classified error into one.
var riverDecisions = map[string]bool{"JobSnooze": true, "JobCancel": true}

// TestRetryDecisionsOnlyInJobs keeps one error taxonomy: core classifies
// (apperr.Retry, apperr.Permanent, connector.Classify) and only
// jobs/retry.go maps a class to River's snooze or cancel; no package
// grows its own "retryable" error type again.
func TestRetryDecisionsOnlyInJobs(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "data" || name == "bin" ||
				fileExists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, msg := range retryViolations(rel, f) {
			t.Error(msg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("parsed only %d files: is the module root right (%s)?", files, root)
	}
}

// retryViolations lists what file rel (parsed as f) breaks of the rule.
func retryViolations(rel string, f *ast.File) []string {
	var out []string
	river := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"github.com/riverqueue/river"` {
			river = "river"
			if imp.Name != nil {
				river = imp.Name.Name
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && river != "" && x.Name == river && riverDecisions[n.Sel.Name] && rel != "jobs/retry.go" {
				out = append(out, fmt.Sprintf("%s: river.%s: return a classified error (apperr) and let jobs/retry.go decide", rel, n.Sel.Name))
			}
		case *ast.TypeSpec:
			if strings.Contains(strings.ToLower(n.Name.Name), "retryable") {
				out = append(out, fmt.Sprintf("%s: type %s: classify with apperr.Retry instead of a retryable error type of its own", rel, n.Name.Name))
			}
		}
		return true
	})
	return out
}

// TestRulesCatchViolations proves the checker is not vacuous.
func TestRulesCatchViolations(t *testing.T) {
	cases := []struct {
		pkg, imp string
		bad      bool
	}{
		{"core/inbox", module + "/graph", true},
		{"core/inbox", module + "/jobs", true},
		{"core/inbox", module + "/jobs/jobargs", false},
		{"core/inbox", module + "/plugins/meta", true},
		{"core/inbox", module + "/plugins/sdk", false},
		{"core/inbox", "github.com/99designs/gqlgen/graphql", true},
		{"core/inbox", "context", false},
		{"jobs/jobargs", module + "/core/tenant", true},
		{"jobs/jobargs", "github.com/riverqueue/river", false},
		{"ent/schema", module + "/core/inbox", true},
		{"ent/schema", module + "/core/tenant", false},
		{"graph", module + "/jobs", true},
		{"core/agent", module + "/core/ai/openai", true},
		{"graph/limits", module + "/graph", true},
		{"graph", module + "/graph/server", true},
		{"graph/generated", module + "/graph/server", true},
		{"graph/server", module + "/graph", false},
		{"graph/server", module + "/graph/limits", false},
		{"graph/limits", module + "/core/knowledge", false},
		{"core/agent", module + "/core/ai/builtin", false},
		{"graph/generated", module + "/plugins/whatsapp", true},
		{"cmd/neksio", module + "/internal/testenv", true},
		{"core/inbox", module + "/core/store/storetest", true},
		{"core/store/storetest", module + "/internal/testenv", false},
		{"bench", module + "/internal/testenv", false},
		{"core/apperr", module + "/core/tenant", true},
		{"core/apperr", "errors", false},
		{"core/tenant", module + "/core/apperr", false},
	}
	for _, src := range []struct {
		rel, code string
		bad       bool
	}{
		{"core/inbox/x.go", "package inbox\nimport \"github.com/riverqueue/river\"\nvar _ = river.JobSnooze", true},
		{"core/publish/x.go", "package publish\nimport rv \"github.com/riverqueue/river\"\nvar _ = rv.JobCancel", true},
		{"jobs/outbound.go", "package jobs\nimport \"github.com/riverqueue/river\"\nvar _ = river.JobCancel", true},
		{"jobs/retry.go", "package jobs\nimport \"github.com/riverqueue/river\"\nvar _ = river.JobSnooze", false},
		{"core/inbox/x.go", "package inbox\ntype RetryableError struct{}", true},
		{"core/publish/x.go", "package publish\nimport \"github.com/neksio/neksio/core/apperr\"\nvar _ = apperr.Retry", false},
	} {
		f, err := parser.ParseFile(token.NewFileSet(), src.rel, src.code, 0)
		if err != nil {
			t.Fatal(err)
		}
		if bad := len(retryViolations(src.rel, f)) > 0; bad != src.bad {
			t.Errorf("%s %q: violation=%v, want %v", src.rel, src.code, bad, src.bad)
		}
	}
	for _, c := range cases {
		bad := false
		for _, r := range rules {
			if covers(r, c.pkg) && violates(c.imp, r) {
				bad = true
			}
		}
		if bad != c.bad {
			t.Errorf("%s importing %s: violation=%v, want %v", c.pkg, c.imp, bad, c.bad)
		}
	}
}

// covers reports whether rule r applies to the package at rel.
func covers(r rule, rel string) bool {
	if r.from != "" && !matches(rel, r.from) {
		return false
	}
	return !slices.ContainsFunc(r.except, func(e string) bool { return matches(rel, e) })
}

func matches(rel, from string) bool {
	if strings.HasSuffix(from, "/") {
		return strings.HasPrefix(rel, from)
	}
	return rel == from || strings.HasPrefix(rel, from+"/")
}

func violates(imp string, r rule) bool {
	local, ok := strings.CutPrefix(imp, module+"/")
	if !ok {
		// A third-party import: denied only when a rule names it in full.
		return slices.ContainsFunc(r.deny, func(d string) bool { return strings.Contains(d, ".") && strings.HasPrefix(imp, d) }) &&
			!slices.ContainsFunc(r.allow, func(a string) bool { return strings.HasPrefix(imp, a) })
	}
	if slices.ContainsFunc(r.allow, func(a string) bool { return matches(local, a) }) {
		return false
	}
	return slices.ContainsFunc(r.deny, func(d string) bool { return d == "" || matches(local, d) })
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "gqlgen.yml")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("module root not found")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
