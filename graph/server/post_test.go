package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/graph"
	"github.com/neksio/neksio/plugins/sdk"
)

// TestPostTransportMatchesGqlgen runs the same requests through
// postTransport and gqlgen's transport.POST on one executor and requires
// the same status, content type and body, byte for byte: answers with
// data only (texts with characters encoding/json escapes), with errors,
// and requests that fail before the operation starts. A body the server's
// readBody accepts is also run with the operation it decoded (the path
// every request through Server takes), with the same answer.
func TestPostTransportMatchesGqlgen(t *testing.T) {
	rt := setupRT(t, storetest.SQLite)
	for i, text := range []string{`plain`, `<b>Q&A</b> "quoted" \ back\slash`, "line\u2028sep\u2029 tab\t é 🙂 \x01"} {
		rt.ingest(t, rt.channel, "cust-post", text, "wamid.post."+string(rune('a'+i)), sdk.ActionCreated)
	}
	exec := executor.New(graph.NewExecutableSchema(graph.Deps{Store: rt.store, Auth: rt.auth, Inbox: rt.inbox}))
	exec.SetErrorPresenter(graph.ErrorPresenter(slog.New(slog.DiscardHandler)))
	exec.SetRecoverFunc(graph.Recover(slog.New(slog.DiscardHandler)))
	ctx := tenant.NewContext(context.Background(), tenant.System(rt.ws, "test"))

	const thread = `{ conversations(first: 5) { edges { node { id status lastMessageAt contact { name }
	  messages(first: 10) { edges { node { id text direction sentAt } } pageInfo { hasNextPage endCursor } } } } } }`
	cases := []struct{ name, body, accept string }{
		{"data", gqlBody(t, thread, nil), ""},
		{"data, graphql-response+json", gqlBody(t, thread, nil), "application/graphql-response+json"},
		{"data, any", gqlBody(t, thread, nil), "text/html, */*;q=0.8"},
		{"unknown accept", gqlBody(t, thread, nil), "text/html"},
		{"field error", gqlBody(t, `{ node(id: "not-an-id") { id } }`, nil), ""},
		{"bad variable", gqlBody(t, `query($n: Int!) { conversations(first: $n) { edges { node { id } } } }`, map[string]any{"n": "x"}), ""},
		{"validation", gqlBody(t, `{ nope }`, nil), ""},
		{"validation, graphql-response+json", gqlBody(t, `{ nope }`, nil), "application/graphql-response+json"},
		{"syntax", gqlBody(t, `{ conversations(`, nil), ""},
		{"bad json", `{"query": `, ""},
		{"no query", `{}`, ""},
	}
	run := func(ctx context.Context, tr graphql.Transport, body, accept string) *httptest.ResponseRecorder {
		// handler.Server.ServeHTTP starts the trace before a transport runs.
		req := httptest.NewRequestWithContext(graphql.StartOperationTrace(ctx), http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		require.True(t, tr.Supports(req))
		w := httptest.NewRecorder()
		tr.Do(w, req, exec)
		return w
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, got := run(ctx, transport.POST{}, c.body, c.accept), run(ctx, postTransport{}, c.body, c.accept)
			require.Equal(t, want.Code, got.Code)
			require.Equal(t, want.Header().Values("Content-Type"), got.Header().Values("Content-Type"))
			require.Equal(t, want.Body.String(), got.Body.String())
			if params, msg := checkRequest([]byte(c.body)); msg == "" {
				// The body the transport would read is gone: only the
				// decoded operation can answer.
				decoded := run(context.WithValue(ctx, decodedParamsKey{}, params), postTransport{}, "", c.accept)
				require.Equal(t, want.Code, decoded.Code)
				require.Equal(t, want.Body.String(), decoded.Body.String())
			}
			if c.name == "data" {
				require.Contains(t, got.Body.String(), `\u003cb\u003eQ\u0026A`) // the escaping was exercised
				require.Contains(t, got.Body.String(), `\u2028`)
			}
		})
	}
}

// TestHTMLEscapeMatchesEncodingJSON requires htmlEscape to write what
// json.HTMLEscape writes, for texts with and without characters it
// escapes, at the start, in the middle and at the end.
func TestHTMLEscapeMatchesEncodingJSON(t *testing.T) {
	for _, src := range []string{
		"", `{"text":"plain"}`, `<`, `>`, `&`, "\u2028", "\u2029", "€ costs", "x\u2028", "a<b", `{"t":"Q&A <b>"}`,
		"\xe2", "ab\xe2\x80", "no escape é 🙂 but \u2029 later", strings.Repeat("a", 100) + ">",
	} {
		var want, got bytes.Buffer
		json.HTMLEscape(&want, []byte(src))
		htmlEscape(&got, []byte(src))
		require.Equal(t, want.String(), got.String(), "%q", src)
	}
}

func FuzzHTMLEscape(f *testing.F) {
	f.Add([]byte(`{"text":"<b>Q&A</b>"}`))
	f.Add([]byte("line\u2028sep\u2029 € é"))
	f.Fuzz(func(t *testing.T, src []byte) {
		var want, got bytes.Buffer
		json.HTMLEscape(&want, src)
		htmlEscape(&got, src)
		if !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("htmlEscape(%q) = %q, json.HTMLEscape %q", src, got.Bytes(), want.Bytes())
		}
	})
}

func gqlBody(t *testing.T, query string, vars map[string]any) string {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	return string(b)
}

// BenchmarkWriteResponse compares writing a 50-conversation inbox answer
// (about 19 KB of data) with encoding/json, as gqlgen's POST transport
// does, and with writeResponse.
//
//	go test ./graph/server -run '^$' -bench WriteResponse -benchmem
func BenchmarkWriteResponse(b *testing.B) {
	var data strings.Builder
	data.WriteString(`{"conversations":{"edges":[`)
	for i := range 50 {
		if i > 0 {
			data.WriteByte(',')
		}
		fmt.Fprintf(&data, `{"node":{"id":"cnv_01JD8X3K4M5N6P7Q8R9S%06d","status":"OPEN","lastMessageAt":"2026-11-30T03:46:20.123456Z",`+
			`"contact":{"id":"ctc_01JD8X3K4M5N6P7Q8R9S%06d","name":"Customer %d"},"messages":{"edges":[{"node":{"id":"msg_01JD8X3K4M5N6P7Q8R9S%06d",`+
			`"text":"Hello, is my order on its way? It was due yesterday.","direction":"INBOUND","sentAt":"2026-11-30T03:46:20.123456Z"}}]}}}`, i, i, i, i)
	}
	data.WriteString(`],"pageInfo":{"hasNextPage":true,"endCursor":"gaFpuGNudl8wMUpEOFgzSzRNNU42UDdROFI5UzAwMDA0OQ"}}}`)
	resp := &graphql.Response{Data: json.RawMessage(data.String())}
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(resp.Data)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := json.Marshal(resp)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Discard.Write(out)
		}
	})
	b.Run("writeResponse", func(b *testing.B) {
		b.SetBytes(int64(len(resp.Data)))
		b.ReportAllocs()
		w := httptest.NewRecorder()
		for b.Loop() {
			w.Body.Reset()
			writeResponse(w, resp)
		}
	})
}
