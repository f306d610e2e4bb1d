// Package webhook receives platform webhooks. A delivery is verified and
// parsed by its connector plugin, then every event is stored in one
// transaction; only after the commit does the platform get its 200. The
// answers are those of docs/architecture.md ("200 only after commit"): 401 for a bad signature (nothing
// stored), 413 over the size limit, 400 for a malformed body, 503 when the
// plugin or the database is down (the platform retries), and 200 with a
// counted drop for accounts no channel owns. A notification that only names
// what changed (Google's Pub/Sub) is resolved first: the item is read from
// the platform with Sync{Only} and stored with the rest, so the 200 still
// means stored (503 when the platform cannot be read: it delivers again).
package webhook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// unknownConnector labels the metrics of requests for connectors that do
// not exist.
const unknownConnector = "unknown"

// Handler serves GET|POST /webhooks/{connector} and
// /webhooks/{connector}/{channelId}.
type Handler struct {
	Store    *store.Store
	Gateway  channel.Gateway
	Channels *channel.Service
	Inbox    *inbox.Service
	MaxBytes int64
	Log      *slog.Logger

	deliveries *prometheus.CounterVec
	events     *prometheus.CounterVec
	dropped    *prometheus.CounterVec
}

// Register mounts the handler's routes on mux and its metrics on reg.
func (h *Handler) Register(mux *http.ServeMux, reg prometheus.Registerer) {
	if h.MaxBytes <= 0 {
		h.MaxBytes = 1 << 20
	}
	if h.Log == nil {
		h.Log = slog.Default()
	}
	h.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "neksio_webhook_deliveries_total", Help: "Webhook deliveries by connector and HTTP status.",
	}, []string{"connector", "status"})
	h.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "neksio_webhook_events_total", Help: "Events stored from webhooks by connector and outcome.",
	}, []string{"connector", "outcome"})
	h.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "neksio_webhook_dropped_events_total", Help: "Events for accounts no channel owns.",
	}, []string{"connector"})
	if reg != nil {
		reg.MustRegister(h.deliveries, h.events, h.dropped)
	}
	mux.HandleFunc("GET /webhooks/{connector}", h.verify)
	mux.HandleFunc("GET /webhooks/{connector}/{channelId}", h.verify)
	mux.HandleFunc("POST /webhooks/{connector}", h.receive)
	mux.HandleFunc("POST /webhooks/{connector}/{channelId}", h.receive)
}

// app returns the settings to verify with, and the channel when the URL
// names one (a customer who brought their own app).
func (h *Handler) app(ctx context.Context, r *http.Request, name string) (sdk.App, *ent.Channel, int) {
	id := r.PathValue("channelId")
	if id == "" {
		return h.Channels.Apps(name), nil, 0
	}
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("webhook.channel"))
	ch, err := h.Store.Ent.Channel.Get(pctx, pulid.ID(id))
	if ent.IsNotFound(err) || (err == nil && ch.Connector != name) {
		return sdk.App{}, nil, http.StatusNotFound
	}
	if err != nil {
		return sdk.App{}, nil, http.StatusServiceUnavailable
	}
	return h.Channels.AppFor(ch), ch, 0
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
	conn, err := h.Gateway.Get(name)
	if err != nil {
		// The client chose this name: a label per name would let anyone
		// add series without bound.
		h.respond(w, unknownConnector, http.StatusNotFound, "unknown connector")
		return
	}
	app, _, status := h.app(r.Context(), r, name)
	if status != 0 {
		h.respond(w, name, status, http.StatusText(status))
		return
	}
	res, err := conn.VerifySubscription(r.Context(), &sdk.VerifyRequest{App: app, Query: r.URL.Query(), Header: r.Header})
	if err != nil {
		switch sdk.ClassOf(err) {
		case sdk.ClassUnsupported:
			h.respond(w, name, http.StatusMethodNotAllowed, "this connector has no subscription handshake")
		case sdk.ClassRetryable:
			h.respond(w, name, http.StatusServiceUnavailable, "connector unavailable")
		default:
			h.respond(w, name, http.StatusForbidden, "verification failed")
		}
		return
	}
	if res.ContentType != "" {
		w.Header().Set("Content-Type", res.ContentType)
	}
	code := res.StatusCode
	if code == 0 {
		code = http.StatusOK
	}
	h.deliveries.WithLabelValues(name, http.StatusText(code)).Inc()
	w.WriteHeader(code)
	_, _ = w.Write(res.Body)
}

func (h *Handler) respond(w http.ResponseWriter, connector string, status int, msg string) {
	h.deliveries.WithLabelValues(connector, http.StatusText(status)).Inc()
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	http.Error(w, msg, status)
}

func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
	conn, err := h.Gateway.Get(name)
	if err != nil {
		// The client chose this name: a label per name would let anyone
		// add series without bound.
		h.respond(w, unknownConnector, http.StatusNotFound, "unknown connector")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.respond(w, name, http.StatusRequestEntityTooLarge, "body over the size limit")
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) { // the server's read deadline (a slow client)
			h.respond(w, name, http.StatusRequestTimeout, "body not received in time")
			return
		}
		h.respond(w, name, http.StatusBadRequest, "cannot read body")
		return
	}
	app, own, status := h.app(r.Context(), r, name)
	if status != 0 {
		h.respond(w, name, status, http.StatusText(status))
		return
	}
	res, err := conn.HandleWebhook(r.Context(), &sdk.WebhookRequest{
		App: app, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header,
		Body: body, ReceivedAt: time.Now(),
	})
	if err != nil {
		switch sdk.ClassOf(err) {
		case sdk.ClassUnauthenticated:
			h.respond(w, name, http.StatusUnauthorized, "invalid signature")
		case sdk.ClassMalformed:
			h.respond(w, name, http.StatusBadRequest, "malformed payload")
		case sdk.ClassUnsupported:
			h.respond(w, name, http.StatusNotFound, "this connector takes no webhooks")
		default:
			h.Log.Warn("webhook: connector failed", "connector", name, "err", err)
			h.respond(w, name, http.StatusServiceUnavailable, "connector unavailable")
		}
		return
	}
	if err := h.store(r.Context(), name, own, res.Events); err != nil {
		var fe *fetchError
		if errors.As(err, &fe) {
			h.Log.Warn("webhook: fetching the notified items failed; the platform will deliver again", "connector", name, "err", err)
			h.respond(w, name, http.StatusServiceUnavailable, "platform unavailable")
			return
		}
		h.Log.Error("webhook: storing events failed", "connector", name, "err", err)
		h.respond(w, name, http.StatusServiceUnavailable, "storage unavailable")
		return
	}
	h.deliveries.WithLabelValues(name, http.StatusText(http.StatusOK)).Inc()
	w.WriteHeader(http.StatusOK)
}

// group is one channel's share of a delivery.
type group struct {
	ch     *ent.Channel
	events []*sdk.Event
}

// store routes events to their channels and writes them all in one
// transaction.
func (h *Handler) store(ctx context.Context, name string, own *ent.Channel, events []*sdk.Event) error {
	groups := map[string]*group{}
	var order []string
	// One lookup per account, however many of its events a delivery
	// batches (Meta batches up to 1000 changes).
	routed := map[string]*ent.Channel{}
	for _, ev := range events {
		if ev == nil {
			continue
		}
		var ch *ent.Channel
		switch {
		case own != nil:
			// A channel's own endpoint only takes its own account's events.
			if ev.AccountID != own.ExternalID {
				h.drop(name, ev, "account does not match the channel of this endpoint")
				continue
			}
			ch = own
		default:
			var seen bool
			if ch, seen = routed[ev.AccountID]; !seen {
				var err error
				ch, err = h.Channels.Route(ctx, name, ev.AccountID)
				if err != nil && !errors.Is(err, channel.ErrNoChannel) {
					return err
				}
				routed[ev.AccountID] = ch // nil: no channel owns it
			}
			if ch == nil {
				h.drop(name, ev, "no channel owns this account")
				continue
			}
		}
		g := groups[string(ch.ID)]
		if g == nil {
			g = &group{ch: ch}
			groups[string(ch.ID)] = g
			order = append(order, string(ch.ID))
		}
		g.events = append(g.events, ev)
	}
	if len(order) == 0 {
		return nil
	}
	for _, id := range order {
		if err := h.fetchNotified(ctx, name, groups[id]); err != nil {
			return err
		}
	}
	// Deliveries race: two at once may both create the same new contact,
	// conversation or message, and the loser's transaction fails on a
	// unique key. Ingestion is idempotent, so it runs again and finds
	// what the winner committed, instead of answering 503.
	var err error
	for attempt := 0; attempt < maxConflictRetries; attempt++ {
		if err = h.ingest(ctx, name, groups, order); !ent.IsConstraintError(err) {
			return err
		}
	}
	return err
}

// maxConflictRetries bounds the attempts of one delivery's transaction.
const maxConflictRetries = 3

func (h *Handler) ingest(ctx context.Context, name string, groups map[string]*group, order []string) error {
	var total inbox.IngestResult
	err := h.Store.InTx(ctx, func(tx *store.Tx) error {
		total = inbox.IngestResult{}
		for _, id := range order {
			g := groups[id]
			cctx := tenant.NewContext(ctx, tenant.System(string(g.ch.WorkspaceID), "webhook"))
			res, err := h.Inbox.Ingest(cctx, tx, g.ch, g.events)
			if err != nil {
				return err
			}
			total.Add(res)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Counted once committed, so a retried transaction counts once.
	h.events.WithLabelValues(name, "created").Add(float64(total.Created))
	h.events.WithLabelValues(name, "updated").Add(float64(total.Updated))
	h.events.WithLabelValues(name, "duplicate").Add(float64(total.Duplicates))
	h.events.WithLabelValues(name, "status").Add(float64(total.Statuses))
	h.events.WithLabelValues(name, "ignored").Add(float64(total.Ignored))
	return nil
}

// fetchError says the items a notification named cannot be read now (the
// platform is down or rate limiting): answered 503, so it delivers again.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return "fetching notified items: " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// fetchNotified replaces a group's notifications that name an item (a
// Google review) by what the item is now, read from the platform with
// Sync{Only} before the delivery's transaction, so the delivery is
// acknowledged only once the item is stored. A redelivery reads the same
// item again and stores nothing new. Notifications naming nothing stay:
// Ingest queues a sync of the channel for them. The platform being down or
// rate limiting answers 503 (it delivers again); a refused token marks the
// channel for reconnection, and that and any other refusal drop the
// notifications (200, counted): delivering them again cannot help.
func (h *Handler) fetchNotified(ctx context.Context, name string, g *group) error {
	var items []string
	seen := map[string]bool{}
	kept := g.events[:0:0]
	var notified []*sdk.Event
	for _, ev := range g.events {
		if ev.Kind != sdk.EventNotify || ev.Notify == nil || ev.Notify.ItemID == "" {
			kept = append(kept, ev)
			continue
		}
		notified = append(notified, ev)
		if !seen[ev.Notify.ItemID] {
			seen[ev.Notify.ItemID] = true
			items = append(items, ev.Notify.ItemID)
		}
	}
	if len(items) == 0 {
		return nil
	}
	cctx := tenant.NewContext(ctx, tenant.System(string(g.ch.WorkspaceID), "webhook"))
	fetched, err := h.Inbox.FetchNotified(cctx, g.ch, items)
	switch class := sdk.ClassOf(err); {
	case err == nil:
		g.events = append(kept, fetched...)
		return nil
	case class == sdk.ClassRetryable:
		return &fetchError{err: err}
	case class == sdk.ClassAuthRevoked:
		if merr := h.Inbox.MarkNeedsReconnect(cctx, g.ch, "the platform refused the token when reading a notified item: "+err.Error()); merr != nil {
			return merr
		}
	}
	for _, ev := range notified {
		h.drop(name, ev, "the notified item cannot be read: "+err.Error())
	}
	g.events = kept
	return nil
}

func (h *Handler) drop(name string, ev *sdk.Event, why string) {
	h.dropped.WithLabelValues(name).Inc()
	h.Log.Info("webhook: event dropped", "connector", name, "account", ev.AccountID, "kind", ev.Kind, "reason", why)
}
