package webhook

import (
	"context"

	"github.com/neksio/neksio/plugins/sdk"
)

// fetchNotified replaces the notifications among a channel's events
// (sdk.EventNotify: "this item changed", without what it now is, like
// TikTok's comment.update) with the items they name, fetched from the
// platform with Sync{Only} before the delivery is stored and acknowledged.
// A passing failure answers 503 so the platform redelivers; any other
// failure drops the notifications (logged): the periodic sync reads the
// items again.
func (h *Handler) fetchNotified(ctx context.Context, name string, g *group) error {
	var items []string
	kept := g.events[:0:0]
	for _, ev := range g.events {
		if ev.Kind != sdk.EventNotify {
			kept = append(kept, ev)
			continue
		}
		if ev.Notify != nil && ev.Notify.ItemID != "" {
			items = append(items, ev.Notify.ItemID)
		}
	}
	if len(kept) == len(g.events) {
		return nil
	}
	g.events = kept
	if len(items) == 0 {
		return nil
	}
	drop := func(why string, err error) {
		h.dropped.WithLabelValues(name).Add(float64(len(items)))
		h.Log.Warn("webhook: notified items not fetched; the next sync reads them", "connector", name,
			"channel", g.ch.ID, "items", len(items), "reason", why, "err", err)
	}
	conn, err := h.Gateway.Get(name)
	if err != nil {
		return err
	}
	creds, err := h.Channels.Credentials(g.ch)
	if err != nil {
		drop("no credentials", err) // authorization removed: nothing to fetch with
		return nil
	}
	res, err := conn.Sync(ctx, &sdk.SyncRequest{App: h.Channels.AppFor(g.ch), Credentials: creds,
		AccountID: g.ch.ExternalID, Cursor: g.ch.SyncCursor, Only: items})
	switch sdk.ClassOf(err) {
	case "":
		g.events = append(g.events, res.Events...)
		return nil
	case sdk.ClassRetryable:
		return err
	default:
		drop(string(sdk.ClassOf(err)), err)
		return nil
	}
}
