package generated

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Not generated: graph/gqlgen.go rewrites two calls in generated.go into
// calls of these helpers (gqlgen has no option for either), and writes
// concurrentFields (concurrent_gen.go).

// deferredGroup is graphql.NewDeferredGroup(ctx) when one of the object's
// fields is deferred (@defer), else the empty group. gqlgen only adds a
// field to the group when it is deferred, and processes the group only
// when it holds one, so the empty group behaves the same; building the
// real one costs the object's path (a slice walked up from the field
// contexts), a field set and a map, for every object of every response.
func deferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	for i := range fields {
		if fields[i].IsDeferred() {
			return graphql.NewDeferredGroup(ctx)
		}
	}
	return graphql.DeferredGroup{}
}

// marshalSlice marshals a list of n objects selected with sel. gqlgen
// marshals each element in a goroutine of its own, so that the elements'
// resolvers wait for the database or a platform side by side; when no
// field under sel resolves concurrently (only struct fields and ent's
// edge methods, which read what the page's query loaded), the goroutines
// only cost their start and stack growth, and the elements are marshalled
// in order here instead. Each element gets the same field context (its
// index) and the same recovery from a panic as in
// graphql.MarshalSliceConcurrently.
func marshalSlice(ctx context.Context, sel ast.SelectionSet, n int, marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if n < 2 || resolvesConcurrently(sel) {
		return graphql.MarshalSliceConcurrently(ctx, n, 0, false, marshal)
	}
	ret := make(graphql.Array, n)
	for i := range n {
		ret[i] = marshalElement(graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i}), i, marshal)
	}
	return ret
}

func marshalElement(ctx context.Context, i int, marshal func(ctx context.Context, i int) graphql.Marshaler) (ret graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			ret = graphql.Null
		}
	}()
	return marshal(ctx, i)
}

// resolvesConcurrently reports whether a field in sel, at any depth,
// through fragments too, is one gqlgen resolves in a goroutine of its
// own (concurrentFields: by the object or interface the field is
// selected on).
func resolvesConcurrently(sel ast.SelectionSet) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.ObjectDefinition != nil && concurrentFields[[2]string{s.ObjectDefinition.Name, s.Name}] {
				return true
			}
			if resolvesConcurrently(s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if resolvesConcurrently(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && resolvesConcurrently(s.Definition.SelectionSet) {
				return true
			}
		}
	}
	return false
}
