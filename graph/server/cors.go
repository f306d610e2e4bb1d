package server

import (
	"net/http"

	"github.com/rs/cors"
)

// WithCORS answers browser frontends on other origins with CORS for
// exactly the origins patterns allow (NEKSIO_ALLOWED_ORIGINS, the same
// list and matcher as the WebSocket check: hosts, full origins,
// wildcards). With no patterns it returns h itself: no CORS headers are
// sent, so only same-origin pages and non-browser clients call the API.
func WithCORS(h http.Handler, patterns []string) http.Handler {
	if len(patterns) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowOriginVaryRequestFunc: func(r *http.Request, _ string) (bool, []string) {
			return OriginAllowed(r, patterns), nil
		},
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", WorkspaceHeader},
		MaxAge:         600,
	}).Handler(h)
}
