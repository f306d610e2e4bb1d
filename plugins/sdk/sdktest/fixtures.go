package sdktest

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Fixtures is what a connector hands Conformance so it can run real
// deliveries: how its platform signs them, and payloads the platform
// sends. Only connectors with CapWebhook (Sign, Deliveries) or
// CapVerifySubscription (Handshake) need them.
type Fixtures struct {
	// App is the app the host hands the connector with every delivery:
	// the secret or settings the signature is checked with.
	App sdk.App
	// Sign authenticates req as the platform would for req.App: it sets
	// on req, from req.Body and req.ReceivedAt, what the platform sends
	// (usually one header, e.g. X-Hub-Signature-256 from HubSignature256).
	// It must set nothing else: Conformance changes each value Sign sets,
	// one at a time, and expects the delivery refused.
	Sign func(req *sdk.WebhookRequest)
	// Forge, optional, signs like Sign with a key that is not the
	// platform's (another app secret, another private key).
	Forge func(req *sdk.WebhookRequest)
	// SenderOnly says the signature authenticates the sender but does not
	// cover the body (Google Pub/Sub push tokens): the check that a body
	// with one byte changed is refused is skipped.
	SenderOnly bool
	// Deliveries are valid payloads, each yielding at least one event.
	Deliveries []Delivery
	// Malformed are more bodies that, signed, must be refused as
	// ClassMalformed (Conformance adds a truncated delivery and a 1 MiB
	// body that is not JSON).
	Malformed [][]byte
	// Handshake builds the platform's GET subscription handshake carrying
	// a verify token and a challenge (HubHandshake for Meta's scheme).
	Handshake func(token, challenge string) *sdk.VerifyRequest
}

// Delivery is one valid payload and what it yields.
type Delivery struct {
	Name string
	Body []byte
	// Want are events the delivery yields at least, each matched by a
	// distinct event of the result on the fields it sets: Kind, Platform,
	// AccountID, and the identifying fields of its payload (a message's
	// ExternalID, Action, Direction, ThreadKind, ThreadID, ParentID,
	// Contact.ExternalID, Type, Text and Rating; a status's
	// MessageExternalID, Status and RecipientID; a publish result's
	// ExternalID and State; a notification's Type, ThreadKind and ItemID;
	// an account event's Type). Zero fields match anything.
	Want []sdk.Event
}

// HubHandshake is the subscription handshake Meta and WhatsApp send:
// hub.mode=subscribe, hub.verify_token and hub.challenge.
func HubHandshake(token, challenge string) *sdk.VerifyRequest {
	return &sdk.VerifyRequest{Query: map[string][]string{
		"hub.mode":         {"subscribe"},
		"hub.verify_token": {token},
		"hub.challenge":    {challenge},
	}}
}

// HubSigner is Fixtures.Sign for Meta's and WhatsApp's scheme:
// X-Hub-Signature-256 keyed with req.App.ClientSecret.
func HubSigner(req *sdk.WebhookRequest) {
	req.Header["X-Hub-Signature-256"] = []string{sdk.HubSignature256(req.App.ClientSecret, req.Body)}
}

// EventKey is the identity the host records an event by, so a repeated
// delivery changes nothing: a message's platform id and action, a status's
// message and status, a publish result's post and state, a notification's
// item, an account event's type; each within the platform and account. It
// is empty when the identifying field is, and the host then drops the
// event.
func EventKey(e *sdk.Event) string {
	var id []string
	switch e.Kind {
	case sdk.EventMessage:
		if e.Message != nil && e.Message.ExternalID != "" && e.Message.ThreadID != "" {
			id = []string{e.Message.ExternalID, string(e.Message.Action)}
		}
	case sdk.EventStatus:
		if e.Status != nil && e.Status.MessageExternalID != "" {
			id = []string{e.Status.MessageExternalID, string(e.Status.Status)}
		}
	case sdk.EventPublish:
		if e.Publish != nil && e.Publish.ExternalID != "" {
			id = []string{e.Publish.ExternalID, string(e.Publish.State)}
		}
	case sdk.EventNotify:
		if e.Notify != nil && e.Notify.ItemID != "" {
			id = []string{e.Notify.Type, e.Notify.ItemID}
		}
	case sdk.EventAccount:
		if e.Account != nil && e.Account.Type != "" {
			id = []string{e.Account.Type}
		}
	}
	if id == nil || e.AccountID == "" {
		return ""
	}
	return strings.Join(append([]string{string(e.Kind), e.Platform, e.AccountID}, id...), "|")
}

// Match reports whether got has every field want sets, as Delivery.Want
// describes.
func Match(want, got *sdk.Event) bool {
	eq := func(w, g string) bool { return w == "" || w == g }
	if got == nil || !eq(string(want.Kind), string(got.Kind)) || !eq(want.Platform, got.Platform) || !eq(want.AccountID, got.AccountID) {
		return false
	}
	if w := want.Message; w != nil {
		g := got.Message
		if g == nil || !eq(w.ExternalID, g.ExternalID) || !eq(string(w.Action), string(g.Action)) ||
			!eq(string(w.Direction), string(g.Direction)) || !eq(string(w.ThreadKind), string(g.ThreadKind)) ||
			!eq(w.ThreadID, g.ThreadID) || !eq(w.ParentID, g.ParentID) || !eq(w.Contact.ExternalID, g.Contact.ExternalID) ||
			!eq(w.Type, g.Type) || !eq(w.Text, g.Text) || (w.Rating != 0 && w.Rating != g.Rating) {
			return false
		}
	}
	if w := want.Status; w != nil {
		g := got.Status
		if g == nil || !eq(w.MessageExternalID, g.MessageExternalID) || !eq(string(w.Status), string(g.Status)) || !eq(w.RecipientID, g.RecipientID) {
			return false
		}
	}
	if w := want.Publish; w != nil {
		g := got.Publish
		if g == nil || !eq(w.ExternalID, g.ExternalID) || !eq(string(w.State), string(g.State)) {
			return false
		}
	}
	if w := want.Notify; w != nil {
		g := got.Notify
		if g == nil || !eq(w.Type, g.Type) || !eq(string(w.ThreadKind), string(g.ThreadKind)) || !eq(w.ItemID, g.ItemID) {
			return false
		}
	}
	if w := want.Account; w != nil {
		if got.Account == nil || !eq(w.Type, got.Account.Type) {
			return false
		}
	}
	return true
}

// wellFormed lists what is wrong with an event the host is to ingest.
func wellFormed(e *sdk.Event, desc *sdk.Description) []string {
	if e == nil {
		return []string{"nil event"}
	}
	var bad []string
	payload := map[sdk.EventKind]bool{
		sdk.EventMessage: e.Message != nil, sdk.EventStatus: e.Status != nil, sdk.EventAccount: e.Account != nil,
		sdk.EventPublish: e.Publish != nil, sdk.EventNotify: e.Notify != nil,
	}
	set, known := payload[e.Kind]
	switch {
	case !known:
		bad = append(bad, "unknown kind "+string(e.Kind))
	case !set:
		bad = append(bad, "no payload for kind "+string(e.Kind))
	}
	if !slices.Contains(desc.Platforms, e.Platform) {
		bad = append(bad, "platform "+e.Platform+" is not among Describe's")
	}
	if e.AccountID == "" {
		bad = append(bad, "no AccountID (the host routes by it)")
	}
	if known && set && EventKey(e) == "" {
		bad = append(bad, "no identity (see EventKey)")
	}
	if m := e.Message; m != nil {
		if m.Direction != sdk.Inbound && m.Direction != sdk.Outbound {
			bad = append(bad, "message direction "+string(m.Direction))
		}
		if !slices.Contains([]sdk.ThreadKind{sdk.ThreadDirect, sdk.ThreadComment, sdk.ThreadReview}, m.ThreadKind) {
			bad = append(bad, "message thread kind "+string(m.ThreadKind))
		}
		if !slices.Contains([]sdk.MessageAction{"", sdk.ActionCreated, sdk.ActionEdited, sdk.ActionDeleted}, m.Action) {
			bad = append(bad, "message action "+string(m.Action))
		}
	}
	return bad
}

func keys(events []*sdk.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = EventKey(e)
	}
	return out
}

// corrupt changes one character of v, in its middle, to another that is
// valid in hex, base64 and decimal alike.
func corrupt(v string) string {
	if v == "" {
		return "0"
	}
	b := []byte(v)
	i := len(b) / 2
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	return string(b)
}

func conformWebhook(ctx context.Context, t *testing.T, conn sdk.Connector, desc *sdk.Description, f Fixtures) {
	unsigned := func(body []byte) *sdk.WebhookRequest {
		req := Webhook(f.App, body, nil)
		req.ReceivedAt = time.Now().UTC()
		return req
	}
	signed := func(body []byte) *sdk.WebhookRequest {
		req := unsigned(body)
		f.Sign(req)
		return req
	}
	refused := func(t *testing.T, what string, want sdk.ErrorClass, req *sdk.WebhookRequest) {
		t.Helper()
		res, err := conn.HandleWebhook(ctx, req)
		if got := sdk.ClassOf(err); got != want {
			events := 0
			if res != nil {
				events = len(res.Events)
			}
			t.Errorf("%s: want class %s, got %q (%v, %d events)", what, want, got, err, events)
		}
	}

	for _, d := range f.Deliveries {
		t.Run(d.Name, func(t *testing.T) {
			res, err := conn.HandleWebhook(ctx, signed(d.Body))
			if err != nil {
				t.Fatalf("a valid signed delivery is refused: %v", err)
			}
			if len(res.Events) == 0 {
				t.Fatal("a valid delivery yields no event")
			}
			for i, e := range res.Events {
				for _, p := range wellFormed(e, desc) {
					t.Errorf("event %d: %s", i, p)
				}
			}
			used := make([]bool, len(res.Events))
		want:
			for i := range d.Want {
				for j, e := range res.Events {
					if !used[j] && Match(&d.Want[i], e) {
						used[j] = true
						continue want
					}
				}
				t.Errorf("no event matches Want[%d] (%s); the events' keys: %q", i, d.Want[i].Kind, keys(res.Events))
			}

			// The platform delivers again (a retry, a second subscriber):
			// the same things, under the same keys.
			again, err := conn.HandleWebhook(ctx, signed(d.Body))
			if err != nil {
				t.Fatalf("the same delivery is refused the second time: %v", err)
			}
			if k1, k2 := keys(res.Events), keys(again.Events); !slices.Equal(k1, k2) {
				t.Errorf("event keys change between parses of one delivery:\n%q\n%q", k1, k2)
			}

			refused(t, "unsigned", sdk.ClassUnauthenticated, unsigned(d.Body))
			base := unsigned(d.Body)
			req := signed(d.Body)
			changed := 0
			for name, vs := range req.Header {
				if slices.Equal(base.Header[name], vs) {
					continue // not Sign's
				}
				for i := range vs {
					changed++
					bad := *req
					bad.Header = maps.Clone(req.Header)
					bad.Header[name] = slices.Clone(vs)
					bad.Header[name][i] = corrupt(vs[i])
					refused(t, "header "+name+" with one character changed", sdk.ClassUnauthenticated, &bad)
				}
			}
			for name, vs := range req.Query {
				if slices.Equal(base.Query[name], vs) {
					continue
				}
				for i := range vs {
					changed++
					bad := *req
					bad.Query = maps.Clone(req.Query)
					bad.Query[name] = slices.Clone(vs)
					bad.Query[name][i] = corrupt(vs[i])
					refused(t, "query "+name+" with one character changed", sdk.ClassUnauthenticated, &bad)
				}
			}
			if changed == 0 {
				t.Error("Fixtures.Sign set no header or query value")
			}
			if !f.SenderOnly {
				tampered := signed(d.Body)
				tampered.Body = bytes.Clone(d.Body)
				tampered.Body[len(d.Body)/2] ^= 1
				refused(t, "body with one byte changed after signing", sdk.ClassUnauthenticated, tampered)
			}
			if f.Forge != nil {
				forged := unsigned(d.Body)
				f.Forge(forged)
				refused(t, "forged (Fixtures.Forge)", sdk.ClassUnauthenticated, forged)
			}
			nothing := signed(d.Body)
			nothing.App = sdk.App{}
			refused(t, "signed, for an app with nothing configured", sdk.ClassUnauthenticated, nothing)
		})
	}

	t.Run("Malformed", func(t *testing.T) {
		first := f.Deliveries[0].Body
		refused(t, "signed, truncated", sdk.ClassMalformed, signed(first[:len(first)/2]))
		// The host's default size limit (NEKSIO_WEBHOOK_MAX_BYTES), through
		// the plugin boundary.
		refused(t, "signed, 1 MiB that is not JSON", sdk.ClassMalformed, signed(bytes.Repeat([]byte("x"), 1<<20)))
		refused(t, "unsigned, 1 MiB", sdk.ClassUnauthenticated, unsigned(bytes.Repeat([]byte("x"), 1<<20)))
		for i, body := range f.Malformed {
			refused(t, "Fixtures.Malformed["+strconv.Itoa(i)+"]", sdk.ClassMalformed, signed(body))
		}
	})
}

func conformHandshake(ctx context.Context, t *testing.T, conn sdk.Connector, f Fixtures) {
	const challenge = "conformance-challenge-1158201444"
	verify := func(app sdk.App, token string) (*sdk.VerifyResponse, error) {
		req := f.Handshake(token, challenge)
		req.App = app
		return conn.VerifySubscription(ctx, req)
	}
	echoed := func(resp *sdk.VerifyResponse, err error) bool {
		return err == nil && resp.StatusCode/100 == 2 && bytes.Contains(resp.Body, []byte(challenge))
	}
	if f.App.VerifyToken == "" {
		t.Fatal("Fixtures.App has no VerifyToken")
	}
	if resp, err := verify(f.App, f.App.VerifyToken); !echoed(resp, err) {
		t.Errorf("the handshake with the right token is not answered with the challenge: %+v, %v", resp, err)
	}
	if echoed(verify(f.App, "wrong-"+f.App.VerifyToken)) {
		t.Error("the handshake with a wrong token is answered with the challenge")
	}
	if echoed(verify(sdk.App{}, "")) {
		t.Error("the handshake is answered with no token configured")
	}
}
