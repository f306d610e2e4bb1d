package generated

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// Not generated: graph/gqlgen.go rewrites gqlgen's
// `deferred := graphql.NewDeferredGroup(ctx)`, written for every object
// resolved, into a call of deferredGroup.

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
