package generated

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestResolvesConcurrently: a list is marshalled in order only when no
// field below it is a resolver, wherever the resolver is selected (deeper,
// in an inline fragment, in a named fragment, on an interface).
func TestResolvesConcurrently(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	edges := func(q string) ast.SelectionSet {
		t.Helper()
		doc, errs := gqlparser.LoadQueryWithRules(schema, q, nil)
		require.Empty(t, errs)
		// query → conversations → edges
		return doc.Operations[0].SelectionSet[0].(*ast.Field).SelectionSet[0].(*ast.Field).SelectionSet
	}
	for q, want := range map[string]bool{
		`{ conversations(first: 5) { edges { cursor node { id status contact { id name }
		   messages(first: 1) { edges { node { id text sentAt } } } } } } }`: false,
		`{ conversations(first: 5) { edges { node { id assignedBy { __typename } } } } }`:                                                                    true,
		`{ conversations(first: 5) { edges { node { messages(first: 2) { edges { node { isNote } } } } } } }`:                                                true,
		`{ conversations(first: 5) { edges { node { ... on Conversation { assignedBy { __typename } } } } } }`:                                               true,
		`query { conversations(first: 5) { edges { node { ...C } } } } fragment C on Conversation { messages { edges { node { author { __typename } } } } }`: true,
		`query { conversations(first: 5) { edges { node { ...C } } } } fragment C on Conversation { id contact { name } }`:                                   false,
	} {
		require.Equal(t, want, resolvesConcurrently(edges(q)), q)
	}
	// A field selected on an interface counts when an implementation
	// resolves it concurrently.
	require.True(t, concurrentFields[[2]string{"Node", "author"}])
	require.False(t, concurrentFields[[2]string{"Conversation", "contact"}], "ent edges resolve in their parent's goroutine")
}

// TestMarshalSliceInOrder: marshalled in order, each element with its
// index on the path, a panic in one element recovered into an error on
// its path and a null, the others kept.
func TestMarshalSliceInOrder(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
		func(ctx context.Context, err any) error { return fmt.Errorf("internal: %v", err) })
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "items"}}})
	var paths []string
	got := marshalSlice(ctx, nil, 3, func(ctx context.Context, i int) graphql.Marshaler {
		paths = append(paths, graphql.GetPath(ctx).String())
		if i == 1 {
			panic("boom")
		}
		return graphql.MarshalInt(i)
	})
	var out bytes.Buffer
	got.MarshalGQL(&out)
	require.Equal(t, "[0,null,2]", out.String())
	require.Equal(t, []string{"items[0]", "items[1]", "items[2]"}, paths)
	errs := graphql.GetErrors(ctx)
	require.Len(t, errs, 1)
	require.Equal(t, "internal: boom", errs[0].Message)
	require.Equal(t, "items[1]", errs[0].Path.String())

	// One element: the same, in place.
	paths = nil
	one := marshalSlice(ctx, nil, 1, func(ctx context.Context, i int) graphql.Marshaler {
		paths = append(paths, graphql.GetPath(ctx).String())
		return graphql.MarshalInt(i)
	})
	out.Reset()
	one.MarshalGQL(&out)
	require.Equal(t, "[0]", out.String())
	require.Equal(t, []string{"items[0]"}, paths)
}

// TestWriteFieldsAsGqlgen: our field sets write an object as
// graphql.FieldSet does, repeated and unusual aliases included.
func TestWriteFieldsAsGqlgen(t *testing.T) {
	for _, aliases := range [][]string{
		{},
		{"id"},
		{"id", "text", "__typename", "_x9"},
		{"a", "b", "a", "c", "b"},
		{"a", "é\"\n", "9"},
		{"a", "b", "c", "d", "e", "f", "g", "h", "i"},
	} {
		fields := make([]graphql.CollectedField, len(aliases))
		for i, a := range aliases {
			fields[i] = graphql.CollectedField{Field: &ast.Field{Alias: a, Name: a}}
		}
		gqlgen := graphql.NewFieldSet(fields)
		ours := newFieldSet(fields)
		for i := range fields {
			v := graphql.MarshalInt(i)
			if i == 1 {
				v = graphql.Null
			}
			gqlgen.Values[i], ours.Values[i] = v, v
		}
		var want, got bytes.Buffer
		gqlgen.MarshalGQL(&want)
		ours.MarshalGQL(&got)
		require.Equal(t, want.String(), got.String())
	}
	require.True(t, isName("_a9Z"))
	require.False(t, isName("9a"))
	require.False(t, isName(""))
}

// TestMarshalTimeAsGqlgen: marshalTime writes what graphql.MarshalTime
// writes, into a bytes.Buffer or another writer, and is null for a zero
// time.
func TestMarshalTimeAsGqlgen(t *testing.T) {
	require.Equal(t, graphql.Null, marshalTime(time.Time{}))
	east := time.FixedZone("", 5*3600+30*60)
	for _, tm := range []time.Time{
		time.Date(2026, 11, 30, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 11, 30, 3, 4, 5, 600, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(-3, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(12026, 1, 1, 0, 0, 0, 123456789, east),
		time.Date(2026, 6, 1, 23, 59, 59, 999999999, time.FixedZone("X", -7*3600)),
		time.Now(),
	} {
		var want, got bytes.Buffer
		graphql.MarshalTime(tm).MarshalGQL(&want)
		got.WriteString("x")
		marshalTime(tm).MarshalGQL(&got)
		require.Equal(t, "x"+want.String(), got.String())
		var other strings.Builder
		marshalTime(tm).MarshalGQL(&other)
		require.Equal(t, want.String(), other.String())
	}
}

// TestFieldSetConcurrently: fields scheduled with ResolveConcurrently run
// at Dispatch, into the same values, and a null non-null one counts as
// invalid with those resolved in place.
func TestFieldSetConcurrently(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	oc := &graphql.OperationContext{RecoverFunc: graphql.DefaultRecover}
	fields := make([]graphql.CollectedField, 12)
	for i := range fields {
		fields[i] = graphql.CollectedField{Field: &ast.Field{Alias: fmt.Sprintf("f%d", i)}}
	}
	for _, nullAt := range []int{-1, 3, 5} {
		m := newFieldSet(fields)
		var deferred graphql.DeferredGroup
		for i := range fields {
			if i%2 == 0 {
				m.Values[i] = graphql.MarshalInt(i)
				continue
			}
			m.ResolveConcurrently(oc, &deferred, i, true, true, func(context.Context) graphql.Marshaler {
				if i == nullAt {
					return graphql.Null
				}
				return graphql.MarshalInt(i)
			})
		}
		require.Nil(t, m.Values[1], "not before Dispatch")
		m.Dispatch(ctx)
		if nullAt < 0 {
			require.Zero(t, m.Invalids)
			var out bytes.Buffer
			m.MarshalGQL(&out)
			require.Equal(t, `{"f0":0,"f1":1,"f2":2,"f3":3,"f4":4,"f5":5,"f6":6,"f7":7,"f8":8,"f9":9,"f10":10,"f11":11}`, out.String())
		} else {
			require.Equal(t, uint32(1), m.Invalids)
		}
	}
}
