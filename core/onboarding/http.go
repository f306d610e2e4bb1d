package onboarding

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/neksio/neksio/ent/channelauthorization"
)

// Handler serves the platforms' redirects and the page the browser ends
// on.
type Handler struct {
	Service *Service
	// ReturnURL is where the browser is sent after the callback
	// (NEKSIO_OAUTH_RETURN_URL), with authorization, status and, on
	// failure, error added to its query; empty: the built-in result page.
	ReturnURL string
}

// Register mounts the routes on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth/{connector}/callback", h.callback)
	mux.HandleFunc("GET /oauth/result", h.result)
}

// callback answers the platform's redirect. A state that cannot be
// trusted gets a 400 page and changes nothing; otherwise the browser is
// sent on to the result, carrying the authorization's id, never a token.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	connector := r.PathValue("connector")
	a, err := h.Service.Callback(r.Context(), connector, r.URL.Query())
	var ce *CallbackError
	switch {
	case errors.As(err, &ce):
		h.Service.logger().Warn("oauth: callback refused", "connector", connector, "reason", ce.Code)
		page(w, http.StatusBadRequest, resultData{Title: "Authorization refused", Message: ce.Message, Code: ce.Code})
		return
	case err != nil:
		h.Service.logger().Error("oauth: callback failed", "connector", connector, "err", err)
		page(w, http.StatusInternalServerError, resultData{Title: "Authorization failed", Message: "Neksio could not record the authorization: start again."})
		return
	}
	q := url.Values{"authorization": {string(a.ID)}, "status": {strings.ToLower(string(a.Status))}}
	if a.Status == channelauthorization.StatusFailed {
		q.Set("error", a.ErrorCode)
	}
	target := "/oauth/result"
	if h.ReturnURL != "" {
		target = h.ReturnURL
	}
	u, perr := url.Parse(target)
	if perr != nil {
		page(w, http.StatusInternalServerError, resultData{Title: "Authorization recorded", Message: "NEKSIO_OAUTH_RETURN_URL is not a URL.", ID: string(a.ID)})
		return
	}
	merged := u.Query()
	for k, v := range q {
		merged[k] = v
	}
	u.RawQuery = merged.Encode()
	w.Header().Set("Cache-Control", "no-store")
	// The code and state stay out of the next page's Referer.
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// result is the built-in page the browser ends on. It has no viewer (the
// browser carries no API key), so it shows only what its query says.
func (h *Handler) result(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := resultData{ID: q.Get("authorization"), Code: q.Get("error")}
	switch q.Get("status") {
	case "granted":
		d.Title = "Authorization granted"
		d.Message = "Back in your application, list the accounts it opens with channelAuthorization(id) and connect them with connectChannel(input: {authorizationId, externalId})."
	case "failed":
		d.Title = "Authorization failed"
		d.Message = "The platform did not grant access. channelAuthorization(id) says why; start again to retry."
	default:
		d.Title = "Authorization"
	}
	page(w, http.StatusOK, d)
}

type resultData struct {
	Title, Message, Code, ID string
}

var resultPage = template.Must(template.New("result").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>{{.Title}} · Neksio</title></head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .ID}}<p>Authorization: <code id="authorization">{{.ID}}</code></p>{{end}}
{{if .Code}}<p>Reason: <code id="error">{{.Code}}</code></p>{{end}}
</body></html>
`))

func page(w http.ResponseWriter, status int, d resultData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = resultPage.Execute(w, d)
}
