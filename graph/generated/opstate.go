package generated

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Not generated: graph/gqlgen.go adds opState to gqlgen's
// executionContext (one per operation) and rewrites two calls into calls
// of the methods below.
//
// gqlgen works out, for every object of a response, which of the
// operation's fields it selects (graphql.CollectFields, cached per
// operation under a key it builds, with a hash of the object's type
// names, for each call), and decodes the arguments of a field for every
// parent it is resolved under (a conversation's messages(first: 1, …)
// once per conversation of the page), although both depend only on the
// operation: its document and variables. opState keeps both for the
// operation, under the selection's and the field's addresses in the
// parsed document.

// opState is what one operation caches. The mutex: fields resolved
// concurrently (resolvers) read and fill it from their goroutines.
type opState struct {
	mu     sync.Mutex
	fields map[collectKey][]graphql.CollectedField
	args   map[*ast.Field]map[string]any
}

// collectKey names a selection set (the address of its array and its
// length, as gqlgen's own cache key does: a field merged from fragments
// has selections of its own, in an array of its own) selected on an
// object (its implementors, a package variable of generated.go, by
// address).
type collectKey struct {
	sel *ast.Selection
	n   int
	on  *string
}

// collectFields is graphql.CollectFields(ec.OperationContext, sel,
// satisfies), computed once per operation for each selection set and
// object type.
func (ec *executionContext) collectFields(sel ast.SelectionSet, satisfies []string) []graphql.CollectedField {
	if len(sel) == 0 || len(satisfies) == 0 {
		return graphql.CollectFields(ec.OperationContext, sel, satisfies)
	}
	key := collectKey{sel: &sel[0], n: len(sel), on: &satisfies[0]}
	ec.op.mu.Lock()
	fields, ok := ec.op.fields[key]
	ec.op.mu.Unlock()
	if ok {
		return fields
	}
	fields = graphql.CollectFields(ec.OperationContext, sel, satisfies)
	ec.op.mu.Lock()
	if ec.op.fields == nil {
		ec.op.fields = map[collectKey][]graphql.CollectedField{}
	}
	ec.op.fields[key] = fields
	ec.op.mu.Unlock()
	return fields
}

// fieldArgs returns the arguments of field, decoded by decode (gqlgen's
// field_<Object>_<field>_args) from the operation's variables the first
// time and kept for the operation: the same field under another parent
// has the same arguments. An error is never kept: decode runs again and
// reports it under each parent, as gqlgen does. The map and the values in
// it are shared by every parent's field context, as they are read only
// (by the field's resolver or method).
func (ec *executionContext) fieldArgs(ctx context.Context, field graphql.CollectedField,
	decode func(*executionContext, context.Context, map[string]any) (map[string]any, error),
) (map[string]any, error) {
	ec.op.mu.Lock()
	args, ok := ec.op.args[field.Field]
	ec.op.mu.Unlock()
	if ok {
		return args, nil
	}
	args, err := decode(ec, ctx, field.ArgumentMap(ec.Variables))
	if err != nil {
		return args, err
	}
	ec.op.mu.Lock()
	if ec.op.args == nil {
		ec.op.args = map[*ast.Field]map[string]any{}
	}
	ec.op.args[field.Field] = args
	ec.op.mu.Unlock()
	return args, nil
}
