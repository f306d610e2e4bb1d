//go:build ignore

// Generates the GraphQL server (graph/generated, graph/model, the resolver
// stubs) from gqlgen.yml, as `gqlgen generate` does, with one plugin of
// ours: inlineEdges. Run from the module root (go generate ./... does).
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

// entPackage holds the ent entities and entgql's edge methods.
const entPackage = "github.com/neksio/neksio/ent"

// inlineEdges resolves ent's edge methods (Conversation.contact,
// Conversation.messages, Message.conversation, … from entgql's
// gql_edge.go) in the goroutine that resolves their parent, instead of
// gqlgen's one goroutine per concurrent field. gqlgen resolves a field
// concurrently when its Go method takes a context, which every edge
// method does because it may query; but on the read paths the edge was
// loaded by the page's own query (entgql's CollectFields: a LEFT JOIN for
// unique edges on PostgreSQL, one statement for all the parents' pages of
// a one-to-many edge), so the method only reads Edges. When an edge was
// not loaded the method still queries, with the request's context and so
// under the viewer's privacy policy, only without running beside its
// siblings. Resolvers (hand-written, some calling the AI provider or a
// platform) stay concurrent.
type inlineEdges struct{}

func (inlineEdges) Name() string { return "inline-edges" }

func (inlineEdges) GenerateCode(data *codegen.Data) error {
	n := 0
	for _, o := range data.Objects {
		if o.Root || o.Stream || o.DisableConcurrency || !strings.HasPrefix(o.Type.String(), "*"+entPackage+".") &&
			!strings.HasPrefix(o.Type.String(), entPackage+".") {
			continue
		}
		for _, f := range o.Fields {
			if f.IsResolver || f.GoFieldType != codegen.GoFieldMethod || !f.MethodHasContext {
				continue
			}
			// IsConcurrent reads the field's object: give the field a copy
			// that does not resolve concurrently. Everything else gqlgen
			// reads through Field.Object (its name, its type) is the same.
			inline := *o
			inline.DisableConcurrency = true
			f.Object = &inline
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no ent edge methods found in %s", entPackage)
	}
	return nil
}

func main() {
	cfg, err := config.LoadConfig("gqlgen.yml")
	if err != nil {
		log.Fatalf("loading gqlgen.yml: %v", err)
	}
	if err := api.Generate(cfg, api.AddPlugin(inlineEdges{})); err != nil {
		log.Fatalf("running gqlgen: %v", err)
	}
	if err := lazyDeferredGroups(cfg.Exec.Filename); err != nil {
		log.Fatal(err)
	}
}

// lazyDeferredGroups makes every object's deferred group (for @defer)
// lazy: gqlgen builds one for every object it resolves, deferred fields or
// not, and has no option to leave it out. graph/generated/deferred.go
// builds the group only when a field of the object is deferred.
func lazyDeferredGroups(filename string) error {
	const (
		from = "deferred := graphql.NewDeferredGroup(ctx)"
		to   = "deferred := deferredGroup(ctx, fields)"
	)
	src, err := os.ReadFile(filename)
	if err != nil {
		return err
	}
	n := bytes.Count(src, []byte(from))
	if n == 0 {
		return fmt.Errorf("%s: no %q to rewrite: has gqlgen's object template changed?", filename, from)
	}
	return os.WriteFile(filename, bytes.ReplaceAll(src, []byte(from), []byte(to)), 0o644)
}
