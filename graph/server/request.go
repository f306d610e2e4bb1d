package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"

	"github.com/99designs/gqlgen/graphql"

	"github.com/neksio/neksio/graph/limits"
)

// readBody bounds and checks the body of a POST before gqlgen sees it:
// JSON bodies (queries and SSE subscriptions) are read whole, up to
// MaxBodyBytes, and must be one well-formed GraphQL request; multipart
// uploads are bounded by MaxUploadBytes as gqlgen reads them. It answers
// the client itself (4xx, a GraphQL-shaped error, nothing logged: these are
// the client's mistakes) and returns false when the request must go no
// further. The request it returns carries the decoded operation of a JSON
// body (decodedParams). The body never appears in an error or a log line.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, bool) {
	if r.Method != http.MethodPost {
		return w, r, true
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		limit := s.opts.MaxBodyBytes
		if r.ContentLength > limit {
			tooLarge(w, "request body", limit)
			return w, r, false
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			bodyReadError(w, err, "request body", limit)
			return w, r, false
		}
		params, msg := checkRequest(body)
		if msg != "" {
			writeError(w, http.StatusBadRequest, limits.CodeBadRequest, msg)
			return w, r, false
		}
		// The body stays readable (the SSE transport reads it); the POST
		// transport takes the operation decoded here instead of decoding
		// the same JSON a second time.
		r = r.WithContext(context.WithValue(r.Context(), decodedParamsKey{}, params))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	case "multipart/form-data":
		limit := s.opts.MaxUploadBytes
		if r.ContentLength > limit {
			tooLarge(w, "upload", limit)
			return w, r, false
		}
		// gqlgen answers a body cut short by its own limit with 422 (or
		// 200): the limit is applied here, and its answer replaced by 413.
		lb := &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit)}
		r.Body = lb
		return &uploadWriter{ResponseWriter: w, body: lb, limit: limit}, r, true
	}
	return w, r, true
}

// decodedParamsKey holds, in a request's context, the operation readBody
// decoded from its JSON body (a *graphql.RawParams).
type decodedParamsKey struct{}

// decodedParams is the operation readBody decoded for the request of
// ctx, or nil when the body was not read there.
func decodedParams(ctx context.Context) *graphql.RawParams {
	p, _ := ctx.Value(decodedParamsKey{}).(*graphql.RawParams)
	return p
}

// checkRequest returns the operation body holds, or why body is not one
// GraphQL request ("" when it is). It decodes as gqlgen's POST transport
// does (into RawParams, numbers kept as json.Number); the server's POST
// transport runs what it returns (decodedParams), and gqlgen's own
// decoding, whose error quotes the whole body, cannot fail afterwards on
// the SSE path.
func checkRequest(body []byte) (*graphql.RawParams, string) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return nil, "batched operations are not supported: send one operation per request"
	}
	p, err := decodeParams(body)
	if err != nil {
		return nil, "the request body is not a GraphQL request: " + describeJSONError(err)
	}
	if limits.ParamsHaveNUL(p) {
		return nil, limits.MsgNUL
	}
	return p, ""
}

// decodeParams decodes a JSON request body as gqlgen's POST transport
// does: into RawParams, numbers kept as json.Number.
func decodeParams(body []byte) (*graphql.RawParams, error) {
	p := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return p, dec.Decode(p)
}

// describeJSONError says what is wrong without quoting the body.
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return "expected a JSON object with query, variables, operationName and extensions"
		}
		return fmt.Sprintf("%s must be %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	return "invalid JSON"
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "map":
		return "an object"
	}
	return goKind
}

func tooLarge(w http.ResponseWriter, what string, limit int64) {
	writeError(w, http.StatusRequestEntityTooLarge, limits.CodeTooLarge,
		fmt.Sprintf("%s over the limit of %d bytes", what, limit))
}

// bodyReadError answers a body that could not be read: too large, too
// slow (the server's read deadline), or cut off.
func bodyReadError(w http.ResponseWriter, err error, what string, limit int64) {
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		tooLarge(w, what, limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		writeError(w, http.StatusRequestTimeout, limits.CodeBadRequest, what+" not received in time")
	default:
		writeError(w, http.StatusBadRequest, limits.CodeBadRequest, what+" could not be read")
	}
}

// limitedBody remembers that the upload limit cut the body short.
type limitedBody struct {
	io.ReadCloser
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		b.exceeded = true
	}
	return n, err
}

// uploadWriter replaces gqlgen's answer to a body cut short by the upload
// limit with a 413.
type uploadWriter struct {
	http.ResponseWriter
	body    *limitedBody
	limit   int64
	written bool
}

func (w *uploadWriter) intercept() bool {
	if !w.body.exceeded {
		return false
	}
	if !w.written {
		w.written = true
		tooLarge(w.ResponseWriter, "upload", w.limit)
	}
	return true
}

func (w *uploadWriter) WriteHeader(code int) {
	if !w.intercept() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *uploadWriter) Write(b []byte) (int, error) {
	if w.intercept() {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *uploadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
