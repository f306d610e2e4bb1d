package generated

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"sync/atomic"
	"time"

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
	if n < 1 || resolvesConcurrently(sel) {
		return graphql.MarshalSliceConcurrently(ctx, n, 0, false, marshal)
	}
	ret := make(graphql.Array, n)
	// The elements' field contexts and indexes, in one allocation.
	elems := make([]struct {
		fc    graphql.FieldContext
		index int
	}, n)
	for i := range elems {
		e := &elems[i]
		e.index = i
		e.fc.Index = &e.index
		ret[i] = marshalElement(graphql.WithFieldContext(ctx, &e.fc), i, marshal)
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

// gqlgen marshals every object through a graphql.FieldSet, whose
// MarshalGQL allocates for each object a map of the aliases written (to
// skip a repeated one) and an iterator, and for each field a copy of its
// CollectedField (the iterator yields the address of its range variable)
// — about as many allocations as the fields themselves. graph/gqlgen.go
// rewrites every object's graphql.NewFieldSet into newFieldSet, whose
// MarshalGQL (writeFields) writes the same JSON without those.

// fieldSet is an object's field set: the values, the count of invalid
// (null non-null) fields, and, once a field is resolved concurrently (a
// resolver, ResolveConcurrently), gqlgen's field set to schedule it,
// sharing the values. The values of up to inlineFields fields live in
// the same allocation.
type fieldSet struct {
	Values     []graphql.Marshaler
	Invalids   uint32
	fields     []graphql.CollectedField
	concurrent *graphql.FieldSet
	values     [inlineFields]graphql.Marshaler
}

const inlineFields = 8

func newFieldSet(fields []graphql.CollectedField) *fieldSet {
	m := &fieldSet{fields: fields}
	if len(fields) <= inlineFields {
		m.Values = m.values[:len(fields)]
	} else {
		m.Values = make([]graphql.Marshaler, len(fields))
	}
	return m
}

// ResolveConcurrently schedules field i on gqlgen's field set (created on
// the first call, with the values of m), as the generated code does on
// gqlgen's: Dispatch runs it.
func (m *fieldSet) ResolveConcurrently(oc *graphql.OperationContext, deferred *graphql.DeferredGroup, i int,
	recoverFromPanic, nonNull bool, resolve func(context.Context) graphql.Marshaler,
) {
	if m.concurrent == nil {
		m.concurrent = graphql.NewFieldSet(m.fields)
		m.concurrent.Values = m.Values
	}
	m.concurrent.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
}

// Dispatch runs the fields scheduled, if any, and waits for them; their
// invalid values count with the others.
func (m *fieldSet) Dispatch(ctx context.Context) {
	if m.concurrent != nil {
		m.concurrent.Dispatch(ctx)
		m.Invalids += atomic.LoadUint32(&m.concurrent.Invalids)
	}
}

// MarshalGQL is called once the object's marshaller has returned, after
// Dispatch.
func (m *fieldSet) MarshalGQL(w io.Writer) { writeFields(w, m.fields, m.Values) }

// writeFields writes an object as graphql.FieldSet.MarshalGQL does: each
// field's alias and value in order, a repeated alias only the first time
// (CollectFields keeps one field per alias and object type, so an alias
// repeats only across fragments on different types). Aliases are GraphQL
// names, which JSON needs no escape for; one that was not would be
// escaped as gqlgen escapes it.
func writeFields(w io.Writer, fields []graphql.CollectedField, values []graphql.Marshaler) {
	_, _ = io.WriteString(w, "{")
	for i := range fields {
		alias := fields[i].Alias
		if repeated(fields[:i], alias) {
			continue
		}
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		if isName(alias) {
			_, _ = io.WriteString(w, `"`)
			_, _ = io.WriteString(w, alias)
			_, _ = io.WriteString(w, `":`)
		} else {
			graphql.MarshalString(alias).MarshalGQL(w)
			_, _ = io.WriteString(w, ":")
		}
		values[i].MarshalGQL(w)
	}
	_, _ = io.WriteString(w, "}")
}

func repeated(fields []graphql.CollectedField, alias string) bool {
	for i := range fields {
		if fields[i].Alias == alias {
			return true
		}
	}
	return false
}

// isName reports whether s is a GraphQL name (/[_A-Za-z][_0-9A-Za-z]*/).
func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// marshalTime is graphql.MarshalTime, which the fast paths of time
// fields call instead (graph/gqlgen.go): the same null for a zero time,
// the same JSON, without the formatted and the quoted copy of the time
// gqlgen makes for every time it writes.
func marshalTime(t time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return timeValue{t}
}

type timeValue struct{ t time.Time }

// MarshalGQL writes the time in RFC 3339 with nanoseconds, quoted, as
// graphql.MarshalTime does (strconv.Quote of the formatted time, which
// is printable ASCII and so only gains the quotes), into the buffer's
// free space when w is the bytes.Buffer gqlgen marshals a response into.
func (v timeValue) MarshalGQL(w io.Writer) {
	if b, ok := w.(*bytes.Buffer); ok {
		out := append(b.AvailableBuffer(), '"')
		out = v.t.AppendFormat(out, time.RFC3339Nano)
		b.Write(append(out, '"'))
		return
	}
	_, _ = io.WriteString(w, strconv.Quote(v.t.Format(time.RFC3339Nano)))
}
