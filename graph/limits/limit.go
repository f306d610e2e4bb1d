package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/publish"
	"github.com/neksio/neksio/ent"
)

// maxCost is where cost arithmetic saturates: far above any sane limit,
// far below overflow (a product of two saturated values is never formed).
const maxCost int64 = 1 << 40

// maxNesting bounds the walker's recursion whatever the depth limit is.
const maxNesting = 128

// fieldCosts are the fields that cost more than 1 before their
// selections: work beyond a database read (the AI provider, the
// platforms, file extraction) or objects that should not be created by
// the hundred. Fields costing expensiveCost or more also take a slot of
// the workspace's concurrency limit while they run (Options.ExpensiveConcurrency).
var fieldCosts = map[string]int64{
	// Embeds the question, searches the vectors, calls the chat model.
	"Query.askKnowledgeBase": 5000,
	// Aggregate a workspace's facts; an export also writes a file.
	"Analytics.summary":        100,
	"Analytics.timeseries":     100,
	"Analytics.breakdown":      100,
	"Mutation.exportAnalytics": 1000,
	// Reads and extracts a file of up to 5 MB, then queues embedding.
	"Mutation.uploadKnowledgeDocument": 2000,
	// Queue chunking and embedding of a whole document.
	"Mutation.addKnowledgeDocument":    1000,
	"Mutation.updateKnowledgeDocument": 1000,
	// Call the platform.
	"Mutation.connectChannel":            1000,
	"Mutation.disconnectChannel":         1000,
	"Mutation.startChannelAuthorization": 1000,
	"Query.whatsappTemplates":            1000,
	// Lists the templates when they are not cached, then queues a delivery.
	"Mutation.sendTemplate": 1000,
	// A credential: never worth creating in bulk.
	"Mutation.createAPIKey": 1000,
	// Queue a delivery to the platform.
	"Mutation.sendReply":    100,
	"Mutation.approveDraft": 100,
	// Retrieves from the knowledge base and calls the model once per channel.
	"Mutation.generatePost": 5000,
	// Stores a file of up to the multipart cap in the media store.
	"Mutation.uploadMedia": 2000,
	// Validate every target (the connector's ValidatePost may call the platform).
	"Mutation.createPost": 100,
	"Mutation.updatePost": 100,
	// Validate again and queue a publication per target.
	"Mutation.submitPost":      100,
	"Mutation.approvePost":     100,
	"Mutation.schedulePost":    100,
	"Mutation.retryPostTarget": 100,
}

const ExpensiveCost = 1000

// listSizes are the most items of the lists that are not connections (and
// so have no page size), for the cost: a document's chunks, up to 5 MB of
// text cut every ~750 bytes.
var listSizes = map[string]int64{
	"KnowledgeDocument.chunks": knowledge.MaxContentBytes / (knowledge.DefaultMaxChars - knowledge.DefaultOverlap),
	// A calendar and a post's targets are bounded by core/publish.
	"Query.calendar": publish.MaxCalendarPosts,
	"Post.targets":   publish.MaxTargets,
}

func FieldCost(object, field string) int64 {
	if c, ok := fieldCosts[object+"."+field]; ok {
		return c
	}
	return 1
}

// codeBadRequest marks requests that are not a well-formed GraphQL
// request (body, JSON, characters); codeTooLarge bodies over the limit.
const (
	CodeBadRequest = "BAD_REQUEST"
	CodeTooLarge   = "REQUEST_TOO_LARGE"
)

func init() {
	// Operations refused before anything runs are answered 4xx (422, or 400
	// with Accept: application/graphql-response+json), like gqlgen's parse
	// and validation failures; errors of resolvers stay 200.
	for _, c := range []string{CodeBadRequest, "BAD_USER_INPUT", "COMPLEXITY_LIMIT_EXCEEDED"} {
		errcode.RegisterErrorType(c, errcode.KindProtocol)
	}
}

// operationLimits rejects an operation before anything is resolved when it
// is nested too deeply, costs too much, uses too many aliases or root
// mutations, asks for a page over the maximum, or introspects with
// introspection off. A connection asked for without first or last gets
// the default page size, on a copy of the document: the parsed document
// itself is cached and shared between requests.
//
// Cost: a field costs fieldCost plus its selections, and a connection
// multiplies its selections by its page size (first or last, the default
// when omitted; nodes(ids:) by the number of ids): asking for 1000
// conversations with 1000 messages each costs a million, not two
// thousand. The arithmetic saturates at maxCost.
type OperationLimits struct {
	MaxComplexity    int
	MaxDepth         int
	MaxAliases       int
	MaxRootMutations int
	DefaultPage      int
	MaxPage          int
	Introspection    bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.OperationParameterMutator
} = OperationLimits{}

func (OperationLimits) ExtensionName() string                   { return "OperationLimits" }
func (OperationLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters refuses NUL characters on every transport
// (POST bodies are checked earlier, with a 400): PostgreSQL cannot store
// them, and no query needs them.
func (OperationLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if ParamsHaveNUL(p) {
		return badRequest(MsgNUL)
	}
	return nil
}

func (l OperationLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := &walker{frags: oc.Doc.Fragments, vars: oc.Variables, defaultPage: int64(l.DefaultPage), maxPage: int64(l.MaxPage),
		memo: map[string]shape{}, active: map[string]bool{}}
	s := w.set(oc.Operation.SelectionSet, 0)
	switch {
	case s.introspection && !l.Introspection:
		err := gqlerror.Errorf("introspection is disabled on this server")
		errcode.Set(err, errcode.ValidationFailed)
		return err
	case w.pageErr != nil:
		return w.pageErr
	case s.depth > l.MaxDepth:
		return userInput("operation is nested %d levels deep; the limit is %d", s.depth, l.MaxDepth)
	case s.aliases > int64(l.MaxAliases):
		return userInput("operation has %s aliased fields; the limit is %d", count(s.aliases), l.MaxAliases)
	case oc.Operation.Operation == ast.Mutation && s.fields > int64(l.MaxRootMutations):
		return userInput("operation runs %s mutations; the limit is %d per operation", count(s.fields), l.MaxRootMutations)
	case s.cost > int64(l.MaxComplexity):
		err := gqlerror.Errorf("operation has complexity %s, which exceeds the limit of %d", count(s.cost), l.MaxComplexity)
		err.Extensions = map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"}
		return err
	}
	if s.unpaged {
		oc.Doc, oc.Operation = withDefaultPages(oc.Doc, oc.Operation, oc.Variables, l.DefaultPage)
	}
	return nil
}

func userInput(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": "BAD_USER_INPUT"}
	return err
}

func badRequest(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": CodeBadRequest}}
}

// count prints a saturated count as "more than".
func count(n int64) string {
	if n >= maxCost {
		return "more than " + strconv.FormatInt(maxCost, 10)
	}
	return strconv.FormatInt(n, 10)
}

// shape is what the walker learns about a selection set.
type shape struct {
	cost    int64 // saturating at maxCost
	aliases int64 // aliased fields as written, each fragment spread counted
	fields  int64 // fields directly in the set (through fragments): root mutations
	depth   int
	// unpaged: some connection has neither first nor last.
	unpaged       bool
	introspection bool
}

func (s *shape) add(o shape) {
	s.cost = satAdd(s.cost, o.cost)
	s.aliases = satAdd(s.aliases, o.aliases)
	s.fields = satAdd(s.fields, o.fields)
	s.depth = max(s.depth, o.depth)
	s.unpaged = s.unpaged || o.unpaged
	s.introspection = s.introspection || o.introspection
}

// walker computes an operation's shape in one pass. A fragment's shape
// does not depend on where it is spread, so each is computed once: a
// fragment spreading another twice, forty levels down, is 40 steps, not 2^40.
type walker struct {
	frags       ast.FragmentDefinitionList
	vars        map[string]any
	defaultPage int64
	maxPage     int64
	memo        map[string]shape
	active      map[string]bool
	pageErr     *gqlerror.Error
	steps       int // fields and fragments visited, for tests
}

func (w *walker) set(set ast.SelectionSet, nesting int) shape {
	var out shape
	if nesting > maxNesting {
		return shape{cost: maxCost, depth: nesting}
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			out.add(w.field(s, nesting))
		case *ast.InlineFragment:
			out.add(w.set(s.SelectionSet, nesting+1))
		case *ast.FragmentSpread:
			out.add(w.fragment(s.Name, nesting))
		default:
			panic(fmt.Sprintf("unexpected selection %T", sel))
		}
	}
	return out
}

func (w *walker) fragment(name string, nesting int) shape {
	w.steps++
	if s, ok := w.memo[name]; ok {
		return s
	}
	f := w.frags.ForName(name)
	if f == nil {
		return shape{}
	}
	if w.active[name] { // a cycle: validation rejects them; stay bounded anyway
		return shape{cost: maxCost, depth: maxNesting + 1}
	}
	w.active[name] = true
	s := w.set(f.SelectionSet, nesting+1)
	delete(w.active, name)
	w.memo[name] = s
	return s
}

func (w *walker) field(f *ast.Field, nesting int) shape {
	w.steps++
	s := shape{fields: 1, depth: 1}
	object := ""
	if f.ObjectDefinition != nil {
		object = f.ObjectDefinition.Name
	}
	s.cost = FieldCost(object, f.Name)
	if f.Alias != "" && f.Alias != f.Name {
		s.aliases = 1
	}
	if f.Name == "__schema" || f.Name == "__type" {
		s.introspection = true
	}
	size := w.pageSize(f, object, &s)
	if len(f.SelectionSet) == 0 {
		return s
	}
	c := w.set(f.SelectionSet, nesting+1)
	s.cost = satAdd(s.cost, satMul(c.cost, size))
	s.aliases = satAdd(s.aliases, c.aliases)
	s.depth = 1 + c.depth
	s.unpaged = s.unpaged || c.unpaged
	s.introspection = s.introspection || c.introspection
	return s
}

// pageSize is how many times a field's selections may be resolved: the
// page size of a connection (first or last; the default when neither is
// given, marking the shape unpaged), the number of ids of nodes(ids:), the
// bound of listSizes, 1 otherwise. Sizes outside [0, maxPage] and malformed cursors are recorded
// as the walker's error.
func (w *walker) pageSize(f *ast.Field, object string, s *shape) int64 {
	if f.Definition == nil {
		return 1
	}
	if isConnection(f.Definition) {
		w.checkCursors(f)
		var size int64
		given := false
		for _, name := range []string{"first", "last"} {
			n, ok := w.intArg(f, name)
			if !ok {
				continue
			}
			given = true
			if n < 0 || n > w.maxPage {
				w.fail(userInput("%s: %s must be between 0 and %d, not %s", f.Alias, name, w.maxPage, count(n)))
				n = min(max(n, 0), maxCost)
			}
			size = max(size, n)
		}
		if !given {
			s.unpaged = true
			return w.defaultPage
		}
		return size
	}
	if f.Name == "nodes" && f.Definition.Arguments.ForName("ids") != nil {
		arg := f.Arguments.ForName("ids")
		if arg == nil {
			return 1
		}
		v, _ := arg.Value.Value(w.vars)
		ids, _ := v.([]any)
		if int64(len(ids)) > w.maxPage {
			w.fail(userInput("%s: at most %d ids per request, not %d", f.Alias, w.maxPage, len(ids)))
		}
		return int64(len(ids))
	}
	if n, ok := listSizes[object+"."+f.Name]; ok {
		return n
	}
	return 1
}

// checkCursors refuses after and before values that are not cursors: ent's
// eager loading of a nested connection would otherwise fail on them as an
// internal error.
func (w *walker) checkCursors(f *ast.Field) {
	for _, name := range []string{"after", "before"} {
		arg := f.Arguments.ForName(name)
		if arg == nil {
			continue
		}
		v, err := arg.Value.Value(w.vars)
		if err != nil || v == nil {
			continue
		}
		var c ent.Cursor
		if c.UnmarshalGQL(v) != nil {
			w.fail(userInput("%s: %s is not a cursor of this connection", f.Alias, name))
		}
	}
}

func (w *walker) fail(err *gqlerror.Error) {
	if w.pageErr == nil {
		w.pageErr = err
	}
}

// intArg evaluates an Int argument; ok is false when it is absent or null.
// Values beyond int64 saturate.
func (w *walker) intArg(f *ast.Field, name string) (int64, bool) {
	arg := f.Arguments.ForName(name)
	if arg == nil {
		return 0, false
	}
	v, err := arg.Value.Value(w.vars)
	if err != nil {
		return maxCost, true // an Int literal too large for int64
	}
	return toInt64(v)
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case nil:
		return 0, false
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case float64:
		if x > math.MaxInt64 || x < math.MinInt64 || math.IsNaN(x) {
			return maxCost, true
		}
		return int64(x), true
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		return maxCost, true
	}
	return 0, false
}

// isConnection tells Relay connection fields (entgql's, with first, last,
// after and before) from the rest.
func isConnection(def *ast.FieldDefinition) bool {
	return def.Arguments.ForName("first") != nil && def.Arguments.ForName("last") != nil
}

func satAdd(a, b int64) int64 {
	if a >= maxCost || b >= maxCost || a+b >= maxCost {
		return maxCost
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a >= maxCost || b >= maxCost || a > maxCost/b {
		return maxCost
	}
	return a * b
}

// withDefaultPages returns a copy of doc and op in which every connection
// without first or last (or with them null) asks for size: first, or last
// when it pages backwards from a before cursor. Only what changes is
// copied; doc and op are never modified (they live in the query cache).
// Both the resolvers and ent's eager loading, which reads arguments from
// the document, then see the same page size.
func withDefaultPages(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, size int) (*ast.QueryDocument, *ast.OperationDefinition) {
	p := &pager{doc: doc, vars: vars, size: strconv.Itoa(size), frags: map[string]*ast.FragmentDefinition{}}
	set, changed := p.set(op.SelectionSet)
	if !changed {
		return doc, op
	}
	newOp := *op
	newOp.SelectionSet = set
	newDoc := *doc
	newDoc.Operations = make(ast.OperationList, len(doc.Operations))
	for i, o := range doc.Operations {
		newDoc.Operations[i] = o
		if o == op {
			newDoc.Operations[i] = &newOp
		}
	}
	newDoc.Fragments = make(ast.FragmentDefinitionList, len(doc.Fragments))
	for i, f := range doc.Fragments {
		newDoc.Fragments[i] = f
		if c := p.frags[f.Name]; c != nil {
			newDoc.Fragments[i] = c
		}
	}
	return &newDoc, &newOp
}

type pager struct {
	doc  *ast.QueryDocument
	vars map[string]any
	size string
	// frags holds the rewritten fragments, nil for those left as they are.
	frags map[string]*ast.FragmentDefinition
}

func (p *pager) set(set ast.SelectionSet) (ast.SelectionSet, bool) {
	var out ast.SelectionSet // allocated on the first change
	for i, sel := range set {
		var repl ast.Selection
		switch s := sel.(type) {
		case *ast.Field:
			children, cc := p.set(s.SelectionSet)
			args, ac := p.args(s)
			if cc || ac {
				c := *s
				c.SelectionSet, c.Arguments = children, args
				repl = &c
			}
		case *ast.InlineFragment:
			if children, cc := p.set(s.SelectionSet); cc {
				c := *s
				c.SelectionSet = children
				repl = &c
			}
		case *ast.FragmentSpread:
			if def := p.fragment(s.Name); def != nil {
				c := *s
				c.Definition = def
				repl = &c
			}
		}
		if repl == nil {
			continue
		}
		if out == nil {
			out = make(ast.SelectionSet, len(set))
			copy(out, set)
		}
		out[i] = repl
	}
	if out == nil {
		return set, false
	}
	return out, true
}

// fragment returns the rewritten fragment, nil when it needs no change.
func (p *pager) fragment(name string) *ast.FragmentDefinition {
	if c, done := p.frags[name]; done {
		return c
	}
	p.frags[name] = nil // validation rules out cycles; this also ends one
	f := p.doc.Fragments.ForName(name)
	if f == nil {
		return nil
	}
	set, changed := p.set(f.SelectionSet)
	if !changed {
		return nil
	}
	c := *f
	c.SelectionSet = set
	p.frags[name] = &c
	return &c
}

// args returns f's arguments with the default page size added when f is
// a connection with neither first nor last.
func (p *pager) args(f *ast.Field) (ast.ArgumentList, bool) {
	if f.Definition == nil || !isConnection(f.Definition) {
		return f.Arguments, false
	}
	name := "first"
	for _, n := range []string{"first", "last"} {
		if a := f.Arguments.ForName(n); a != nil {
			if v, _ := a.Value.Value(p.vars); v != nil {
				return f.Arguments, false
			}
		}
	}
	if a := f.Arguments.ForName("before"); a != nil && f.Arguments.ForName("after") == nil {
		if v, _ := a.Value.Value(p.vars); v != nil {
			name = "last" // paging backwards: the page just before the cursor
		}
	}
	def := f.Definition.Arguments.ForName(name)
	out := make(ast.ArgumentList, 0, len(f.Arguments)+1)
	for _, a := range f.Arguments {
		if a.Name != "first" && a.Name != "last" { // present but null
			out = append(out, a)
		}
	}
	out = append(out, &ast.Argument{Name: name, Position: f.Position,
		Value: &ast.Value{Kind: ast.IntValue, Raw: p.size, Position: f.Position, ExpectedType: def.Type}})
	return out, true
}

// MsgNUL answers a query or variables carrying a NUL character.
const MsgNUL = `NUL characters (\u0000) are not allowed in queries or variables`

// ParamsHaveNUL reports a NUL anywhere in the request's query, operation
// name, variables or extensions.
func ParamsHaveNUL(p *graphql.RawParams) bool {
	return strings.IndexByte(p.Query, 0) >= 0 || strings.IndexByte(p.OperationName, 0) >= 0 ||
		hasNUL(p.Variables) || hasNUL(p.Extensions)
}

// hasNUL looks through decoded JSON (objects, arrays, strings) for a NUL.
func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	}
	return false
}
