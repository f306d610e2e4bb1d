package main

import (
	"cmp"
	"io"
	"net/http"
	"time"

	"github.com/neksio/neksio/core/config"
)

// maxHeaderBytes bounds a request's headers (and a GET query string); use
// POST for larger operations.
const maxHeaderBytes = 64 << 10

// configureHTTPServer applies the timeouts of cfg to srv and wraps its
// handler with the per-request deadlines. ReadHeaderTimeout bounds the
// headers; the body and the response get per-request deadlines (through
// http.ResponseController) rather than ReadTimeout and WriteTimeout, so the
// GraphQL server can lift them for WebSocket and SSE streams, which last.
func configureHTTPServer(srv *http.Server, cfg *config.Config) {
	srv.ReadHeaderTimeout = cmp.Or(cfg.HTTPReadHeaderTimeout, 10*time.Second)
	srv.IdleTimeout = cmp.Or(cfg.HTTPIdleTimeout, 2*time.Minute)
	srv.MaxHeaderBytes = maxHeaderBytes
	srv.Handler = withDeadlines(srv.Handler, cmp.Or(cfg.HTTPReadTimeout, time.Minute), cmp.Or(cfg.HTTPWriteTimeout, 90*time.Second))
}

// withDeadlines gives each request read time to send its body, counted
// from when its handler starts, and write time to be answered. Once the
// body has been read the read deadline is lifted: the server keeps reading
// the connection in the background to notice a client going away, and a
// deadline there would cancel a handler still working.
func withDeadlines(next http.Handler, read, write time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Now().Add(write))
		if r.Body == nil || r.Body == http.NoBody {
			_ = rc.SetReadDeadline(time.Time{})
		} else {
			_ = rc.SetReadDeadline(time.Now().Add(read))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body has been read whole.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
