package generated

import "sync/atomic"

// Not generated: the switch of the fast paths graph/gqlgen.go writes into
// fastfields_gen.go.
//
// gqlgen resolves every field through graphql.ResolveField: a field
// context (with a closure), a context.WithValue, the resolver and marshal
// closures, the value boxed into an interface, a deferred recover, the
// operation's field middleware. For a field that is a plain read of a
// struct field of a scalar or enum type (the ids, texts, enums and times
// that are most of every response), none of that does anything the value
// needs: the read cannot fail or do I/O, and the value's marshaller needs
// no field context. Its fast path (fast_<Object>_<field>) marshals the
// value the way gqlgen's marshal function for its type does and returns
// it; where gqlgen's function could do more than that (a non-null field
// whose value marshals to null, e.g. a zero time, which gqlgen reports as
// an error with the field's path), the fast path calls gqlgen's function.
// The output is the same on both paths; TestFastFieldsSameResponses
// (graph/server) compares them.
//
// What the fast path skips is the operation's field middleware
// (OperationContext.ResolverMiddleware: graph/server's budget,
// aroundField) for these fields. The middleware bounds resolvers and
// methods, which may query the database or call a platform, and those
// still all go through it; for a struct field it only checked that the
// request's deadline had not passed, and a struct field's value is
// already in memory, loaded under the viewer's privacy policy by the
// query that loaded its object (isolation is enforced when the query
// runs, by ent's privacy rules, not per field). The deadline still stops
// every resolver and method, so a timed-out request still resolves no
// more data.

// gqlgenPath, when set, sends every field through gqlgen's own path, as
// generated: for tests comparing the two.
var gqlgenPath atomic.Bool

// UseGqlgenPath makes every field take gqlgen's path (on) or plain struct
// fields their fast path (off, the default). For tests only: it is
// process-wide.
func UseGqlgenPath(on bool) { gqlgenPath.Store(on) }
