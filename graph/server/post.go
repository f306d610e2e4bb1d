package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport serves GraphQL over HTTP POST with a JSON body, as gqlgen's
// transport.POST does — the same content negotiation (application/json or
// application/graphql-response+json, from Accept), statuses and error
// answers (TestPostTransportMatchesGqlgen compares them) — and writes the
// answer itself. gqlgen's encodes the whole response with encoding/json,
// which re-scans and copies the data the generated marshallers have just
// written as JSON (json.RawMessage is compacted and validated byte by
// byte): about a tenth of a read's CPU for a 50-conversation inbox page
// (docs/benchmarks.md). An answer with data and nothing else is written as
// `{"data":…}` with encoding/json's HTML escaping applied to the data
// (json.HTMLEscape, the same bytes encoding/json would write); every other
// answer (errors, extensions) goes through encoding/json as before.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

// Supports is transport.POST's: a POST with a JSON body, not an upgrade.
func (postTransport) Supports(r *http.Request) bool { return transport.POST{}.Supports(r) }

// Do runs the operation — the one readBody decoded, or else read from the
// body — and writes its answer.
func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseContentType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()
	// The server's readBody has decoded the operation already when it
	// checked the body (graph/server/request.go); a request that did not
	// pass there (this transport used on its own) is decoded here.
	params := decodedParams(ctx)
	if params == nil {
		var body bytes.Buffer
		if _, err := body.ReadFrom(r.Body); err != nil {
			writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}))
			return
		}
		var err error
		if params, err = decodeParams(body.Bytes()); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf(
				"json request body could not be decoded: %+v body:%s", err, body.String())}))
			return
		}
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		w.WriteHeader(errorStatus(contentType, errs))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	writeResponse(w, responses(ctx))
}

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// responseContentType chooses the answer's media type from the Accept
// header as transport.POST does with its defaults: application/json when
// Accept is empty or its first known media type is application/json, */*
// or application/*; application/graphql-response+json when that comes
// first or nothing in Accept is known (GraphQL over HTTP).
func responseContentType(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// errorStatus is the status of an operation that could not start: a
// request error (parse, validation, unknown operation) is 422 for
// application/json and 400 for application/graphql-response+json, as
// GraphQL over HTTP asks; any other error 200.
func errorStatus(contentType string, errs gqlerror.List) int {
	if errcode.GetErrorKind(errs) != errcode.KindProtocol {
		return http.StatusOK
	}
	if contentType == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// answerBuffers hold answers while they are written: an inbox answer is
// tens of KiB, a thread's about ten, and a buffer of its own per request
// was several percent of the bytes a request allocated. Buffers that grew
// past maxPooledAnswer (a rare large answer) are left to the collector
// rather than kept.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledAnswer = 1 << 20

// htmlEscape appends src to dst as json.HTMLEscape does (<, >, & and the
// line and paragraph separators U+2028 and U+2029 as \u escapes), but
// copies the part before the first byte that may need escaping at once:
// json.HTMLEscape looks at every byte in a loop of its own, several
// percent of a thread read's CPU, while most answers hold none of these
// characters. bytes.IndexByte finds each candidate with vector
// instructions; 0xE2 is the first byte of both separators in UTF-8.
func htmlEscape(dst *bytes.Buffer, src []byte) {
	first := len(src)
	for _, c := range []byte{'<', '>', '&', 0xE2} {
		if i := bytes.IndexByte(src[:first], c); i >= 0 {
			first = i
		}
	}
	dst.Write(src[:first])
	if first < len(src) {
		json.HTMLEscape(dst, src[first:])
	}
}

// writeResponse writes resp as encoding/json would (the field order and
// omissions of graphql.Response's tags), without re-encoding the data when
// the answer is data alone.
func writeResponse(w http.ResponseWriter, resp *graphql.Response) {
	if len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.Label == "" && resp.Path == nil &&
		resp.HasNext == nil && len(resp.Data) > 0 {
		b := answerBuffers.Get().(*bytes.Buffer)
		b.Reset()
		b.Grow(len(resp.Data) + len(`{"data":}`) + 64)
		b.WriteString(`{"data":`)
		htmlEscape(b, resp.Data)
		b.WriteByte('}')
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		_, _ = w.Write(b.Bytes())
		if b.Cap() <= maxPooledAnswer {
			answerBuffers.Put(b)
		}
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(fmt.Errorf("graphql: unable to marshal %s: %w", string(resp.Data), err))
	}
	_, _ = w.Write(b)
}
