package server

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// WorkspaceHeader names the workspace a request acts in, for people who
// belong to several (a key belongs to one: naming another is FORBIDDEN).
const WorkspaceHeader = "X-Neksio-Workspace"

// RequestIDHeader carries a request's ID: the client may send one (a
// token of at most 64 letters, digits and -_.:), the server always
// answers it; audit entries record it.
const RequestIDHeader = "X-Request-ID"

// publicFields are the only operations served without a credential:
// they are how a person gets one.
var publicFields = map[string]bool{"signIn": true, "acceptInvite": true, "__typename": true}

// maxPublicBody bounds what is read of an anonymous request to tell
// whether it is public.
const maxPublicBody = 64 << 10

// publicOperation reports whether an unauthenticated request is a POST of
// a mutation that selects only signIn and acceptInvite. It reads and
// restores the body. Everything else without a credential is answered
// 401 before any operation runs.
func publicOperation(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPublicBody+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	if err != nil || len(body) > maxPublicBody {
		return false
	}
	var req struct {
		Query         string `json:"query"`
		OperationName string `json:"operationName"`
	}
	if json.Unmarshal(body, &req) != nil || req.Query == "" {
		return false
	}
	doc, perr := parser.ParseQuery(&ast.Source{Input: req.Query})
	if perr != nil {
		return false
	}
	var op *ast.OperationDefinition
	switch {
	case req.OperationName != "":
		op = doc.Operations.ForName(req.OperationName)
	case len(doc.Operations) == 1:
		op = doc.Operations[0]
	}
	if op == nil || op.Operation != ast.Mutation || len(op.SelectionSet) == 0 {
		return false
	}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || !publicFields[f.Name] {
			return false
		}
	}
	return true
}

// servePublic runs a public operation and answers HTTP 429 with
// Retry-After when it was throttled (the error's code is RATE_LIMITED),
// as the per-key limit does; gqlgen itself would answer 200.
func (s *Server) servePublic(w http.ResponseWriter, r *http.Request) {
	b := &bufferedWriter{header: http.Header{}, code: http.StatusOK}
	s.gql.ServeHTTP(b, r)
	var resp struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	code := b.code
	if json.Unmarshal(b.buf.Bytes(), &resp) == nil {
		for _, e := range resp.Errors {
			if e.Extensions["code"] == "RATE_LIMITED" {
				code = http.StatusTooManyRequests
				b.header.Set("Retry-After", "60")
			}
		}
	}
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	_, _ = w.Write(b.buf.Bytes())
}

type bufferedWriter struct {
	header http.Header
	code   int
	buf    bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferedWriter) WriteHeader(code int)        { b.code = code }
