package graph

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// depthLimit rejects operations nested deeper than Max selections, before
// anything is resolved (gqlgen ships a complexity limit, not a depth one).
type depthLimit struct{ Max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, 0); depth > d.Max {
		err := gqlerror.Errorf("operation is nested %d levels deep; the limit is %d", depth, d.Max)
		err.Extensions = map[string]any{"code": "BAD_USER_INPUT"}
		return err
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, seen int) int {
	if seen > 64 { // fragment cycles are rejected by validation; stay bounded anyway
		return seen
	}
	max := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = 1
			} else {
				d = 1 + selectionDepth(s.SelectionSet, frags, seen+1)
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, seen+1)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, frags, seen+1)
			}
		default:
			panic(fmt.Sprintf("unexpected selection %T", sel))
		}
		if d > max {
			max = d
		}
	}
	return max
}

// complexityLimit rejects operations whose estimated cost is over Max. A
// field costs 1 plus its selections, and a paginated field multiplies its
// selections by the page size it asks for (first or last): asking for 1000
// conversations with 1000 messages each costs a million, not two thousand.
// gqlgen's built-in limit does not know about page sizes.
type complexityLimit struct{ Max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = complexityLimit{}

func (complexityLimit) ExtensionName() string                   { return "ComplexityLimit" }
func (complexityLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (c complexityLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	cost := selectionCost(oc.Operation.SelectionSet, oc.Doc.Fragments, oc.Variables, 0)
	if cost > c.Max {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", cost, c.Max)
		err.Extensions = map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"}
		return err
	}
	return nil
}

const maxCost = 1 << 40

func selectionCost(set ast.SelectionSet, frags ast.FragmentDefinitionList, vars map[string]any, depth int) int {
	if depth > 64 {
		return maxCost
	}
	total := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			cost := 1
			if len(s.SelectionSet) > 0 {
				cost += selectionCost(s.SelectionSet, frags, vars, depth+1) * pageSize(s, vars)
			}
			total += cost
		case *ast.InlineFragment:
			total += selectionCost(s.SelectionSet, frags, vars, depth+1)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				total += selectionCost(f.SelectionSet, frags, vars, depth+1)
			}
		}
		if total > maxCost {
			return maxCost
		}
	}
	return total
}

// pageSize is the larger of a field's first and last arguments, 1 when
// it has neither.
func pageSize(f *ast.Field, vars map[string]any) int {
	n := 1
	for _, name := range []string{"first", "last"} {
		arg := f.Arguments.ForName(name)
		if arg == nil {
			continue
		}
		v, err := arg.Value.Value(vars)
		if err != nil {
			continue
		}
		var size int
		switch x := v.(type) {
		case int64:
			size = int(x)
		case int:
			size = x
		case float64:
			size = int(x)
		case json.Number:
			i, _ := x.Int64()
			size = int(i)
		}
		if size > n {
			n = size
		}
	}
	return n
}
