package server

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/sync/semaphore"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/graph/limits"
)

// What one request may hold while it resolves. gqlgen resolves the fields
// of a query concurrently, each in its own goroutine: without a bound, one
// operation with many resolvers takes every database connection of the
// pool (shared with other workspaces and with River's job fetching).
//
//   - at most ResolverConcurrency resolvers of one operation run at once;
//   - at most ExpensiveConcurrency expensive fields (fieldCosts at or above
//     expensiveCost: the AI provider, platforms, uploads) run at once per
//     workspace, whatever the number of requests;
//   - once the request's deadline has passed nothing more is resolved.

// fieldBudget installs the budget as the operation's field middleware:
// gqlgen's AroundFields would wrap every field of the response, struct
// fields included, in a closure of its own (one allocation per field);
// replacing OperationContext.ResolverMiddleware once per operation calls
// the budget directly, and a struct field costs one ctx.Err and a flag
// test. Queries and mutations get their resolver semaphore here;
// subscriptions' resolvers only open a stream and re-read in their own
// goroutine, bounded by the subscription limits.
type fieldBudget struct{ s *Server }

var (
	_ graphql.HandlerExtension        = fieldBudget{}
	_ graphql.OperationContextMutator = fieldBudget{}
)

func (fieldBudget) ExtensionName() string                   { return "FieldBudget" }
func (fieldBudget) Validate(graphql.ExecutableSchema) error { return nil }

func (b fieldBudget) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	var sem *semaphore.Weighted
	if oc.Operation != nil && oc.Operation.Operation != ast.Subscription {
		sem = semaphore.NewWeighted(int64(b.s.opts.ResolverConcurrency))
	}
	prev := oc.ResolverMiddleware
	if prev == nil {
		prev = func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) }
	}
	oc.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		return b.s.aroundField(ctx, sem, prev, next)
	}
	return nil
}

// aroundField stops resolving once the request is over and holds the
// semaphores while a resolver runs. A resolver's children are resolved
// after it returns, so a field never waits for a slot its parent holds.
func (s *Server) aroundField(ctx context.Context, sem *semaphore.Weighted, prev graphql.FieldMiddleware, next graphql.Resolver) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sem == nil {
		return prev(ctx, next)
	}
	fc := graphql.GetFieldContext(ctx)
	// Struct fields are read in place; resolvers and methods (ent edges)
	// may read the database.
	if fc == nil || (!fc.IsResolver && !fc.IsMethod) {
		return prev(ctx, next)
	}
	if err := sem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	defer sem.Release(1)
	if limits.FieldCost(fc.Object, fc.Field.Name) >= limits.ExpensiveCost {
		if v := tenant.FromContext(ctx); v != nil && v.WorkspaceID != "" {
			release, err := s.expensive.acquire(ctx, v.WorkspaceID)
			if err != nil {
				return nil, err
			}
			defer release()
		}
	}
	return prev(ctx, next)
}

// keyedLimit is a semaphore per key (workspace), created on first use and
// dropped when nobody holds or waits for it: the map holds only the
// workspaces running expensive fields right now.
type keyedLimit struct {
	n  int64
	mu sync.Mutex
	m  map[string]*keyedSlot
}

type keyedSlot struct {
	sem  *semaphore.Weighted
	refs int
}

func newKeyedLimit(n int) *keyedLimit {
	return &keyedLimit{n: int64(n), m: map[string]*keyedSlot{}}
}

func (k *keyedLimit) acquire(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	s := k.m[key]
	if s == nil {
		s = &keyedSlot{sem: semaphore.NewWeighted(k.n)}
		k.m[key] = s
	}
	s.refs++
	k.mu.Unlock()
	if err := s.sem.Acquire(ctx, 1); err != nil {
		k.drop(key, s)
		return nil, err
	}
	return func() {
		s.sem.Release(1)
		k.drop(key, s)
	}, nil
}

func (k *keyedLimit) drop(key string, s *keyedSlot) {
	k.mu.Lock()
	s.refs--
	if s.refs == 0 {
		delete(k.m, key)
	}
	k.mu.Unlock()
}

func (k *keyedLimit) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
