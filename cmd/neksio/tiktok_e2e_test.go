package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
	ttsandbox "github.com/neksio/neksio/plugins/tiktok/sandbox"
)

const (
	testTTKey    = "tt-client-key"
	testTTSecret = "tt-client-secret"
	testTTOpenID = "open-acme-0001"
)

// ttEnv is a running Neksio with the tiktok connector pointed at the
// TikTok emulator, which posts its own webhooks (echoes, comment changes,
// publication outcomes, removed authorizations) back to the server signed
// with the app's secret, as TikTok does.
type ttEnv struct {
	*env
	TT *ttsandbox.Server
	// TTURL is the emulator's base URL (both APIs and the control
	// endpoints).
	TTURL   string
	Channel string
	Tokens  ttsandbox.Tokens

	url atomic.Pointer[string] // the server's, for the webhook sink
	// hold keeps the emulator's webhooks in held instead of posting them.
	hold atomic.Bool
	held chan []byte
	// echoFirst makes a message send wait until its held echo has been
	// delivered and stored, then answer: the echo overtakes the answer.
	echoFirst atomic.Bool
	// fail, when set, answers a request with a 500 instead of the emulator.
	fail atomic.Pointer[func(r *http.Request) bool]
	// calls counts API calls by route.
	videoLists, commentLists atomic.Int64
	sinkErrs                 chan error
}

type ttOption struct {
	sandbox   []ttsandbox.Option
	noConnect bool
}

func newTikTokEnv(t *testing.T, d storetest.Dialect, o ttOption) *ttEnv {
	t.Helper()
	te := &ttEnv{held: make(chan []byte, 64), sinkErrs: make(chan error, 64)}
	opts := append([]ttsandbox.Option{ttsandbox.WithApp(testTTKey, testTTSecret), ttsandbox.WithWebhookSink(te.sink)}, o.sandbox...)
	te.TT = ttsandbox.New(opts...)
	te.TT.AddAccount(ttsandbox.Account{OpenID: testTTOpenID, DisplayName: "Acme Mugs", Username: "acmemugs"})
	srv := httptest.NewServer(http.HandlerFunc(te.serveEmulator))
	t.Cleanup(srv.Close)
	te.TTURL = srv.URL
	te.env = newEnv(t, d, withoutWhatsAppChannel(),
		withConfig(func(c *config.Config) { c.Connectors = append(c.Connectors, "tiktok") }),
		withEnviron(
			"NEKSIO_TIKTOK_CLIENT_KEY="+testTTKey,
			"NEKSIO_TIKTOK_CLIENT_SECRET="+testTTSecret,
			"NEKSIO_TIKTOK_API_BASE_URL="+srv.URL,
			"NEKSIO_TIKTOK_BUSINESS_API_BASE_URL="+srv.URL+"/open_api/v1.3",
			"NEKSIO_TIKTOK_AUTH_URL="+srv.URL+"/v2/auth/authorize/",
			"NEKSIO_TIKTOK_ALLOW_PRIVATE_MEDIA_URLS=true",
		))
	u := te.URL
	te.url.Store(&u)
	// Runs before the server closes (cleanups run last-registered first):
	// the webhooks the emulator is posting arrive.
	t.Cleanup(te.TT.Flush)
	if !o.noConnect {
		te.Channel = te.connect(t)
	}
	return te
}

// waitSyncJobs waits for the sync jobs a start and a connection queue
// (the periodic pass run on start, the channel's first pass) to be done,
// so that only the test's own passes call the emulator afterwards.
func (te *ttEnv) waitSyncJobs(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := te.App.Store.DB.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'channel.sync_channel' AND state = 'completed'`).Scan(&n)
		return err == nil && n >= 1
	}, 60*time.Second, 20*time.Millisecond)
	te.waitStartupSync(t)
}

// connect connects the emulated account with fresh tokens.
func (te *ttEnv) connect(t *testing.T) string {
	t.Helper()
	te.Tokens = te.TT.Grant(testTTOpenID)
	r := te.gqlAs(t, te.Key, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id status platform } }`,
		map[string]any{"in": map[string]any{"connector": "tiktok", "externalId": testTTOpenID, "name": "Acme TikTok",
			"credentials": map[string]any{"accessToken": te.Tokens.AccessToken, "refreshToken": te.Tokens.RefreshToken,
				"expiresAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}}})
	require.Empty(t, r.Errors, "%+v", r.Errors)
	require.Equal(t, "ACTIVE", dig(r.Data, "connectChannel", "status"))
	require.Equal(t, "tiktok", dig(r.Data, "connectChannel", "platform"))
	return dig(r.Data, "connectChannel", "id").(string)
}

func (te *ttEnv) serveEmulator(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	switch {
	case strings.HasSuffix(path, "business/video/list"):
		te.videoLists.Add(1)
	case strings.HasSuffix(path, "business/comment/list"):
		te.commentLists.Add(1)
	}
	if f := te.fail.Load(); f != nil && (*f)(r) {
		http.Error(w, "upstream error", http.StatusInternalServerError)
		return
	}
	if te.echoFirst.Load() && strings.HasSuffix(path, "business/message/send") {
		rec := httptest.NewRecorder()
		te.TT.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `"code":0`) {
			select {
			case body := <-te.held:
				te.deliver(body)
			case <-time.After(20 * time.Second):
				te.sinkErrs <- fmt.Errorf("no echo of the send to deliver first")
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	te.TT.ServeHTTP(w, r)
}

func (te *ttEnv) sink(body []byte) {
	if te.hold.Load() {
		te.held <- body
		return
	}
	te.deliver(body)
}

// deliver posts a body as TikTok would, signed with the app's secret.
func (te *ttEnv) deliver(body []byte) {
	code, resp, err := ttsandbox.Deliver(context.Background(), nil, *te.url.Load()+"/webhooks/tiktok", testTTSecret, body)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("webhook answered %d: %s", code, resp)
	}
	if err != nil {
		te.sinkErrs <- err
	}
}

// noSinkErrors checks that every webhook the emulator posted was taken.
func (te *ttEnv) noSinkErrors(t *testing.T) {
	t.Helper()
	te.TT.Flush()
	select {
	case err := <-te.sinkErrs:
		require.NoError(t, err)
	default:
	}
}

// webhook posts body signed at time at with secret.
func (te *ttEnv) webhook(t *testing.T, body []byte, secret string, at time.Time) int {
	t.Helper()
	code, _ := te.postWebhook(t, "/webhooks/tiktok", body, map[string]string{"Tiktok-Signature": ttsandbox.Sign(secret, at, body)})
	return code
}

// customer delivers a customer's DM (the emulator records it, so the
// business may answer) and requires 200.
func (te *ttEnv) customer(t *testing.T, dm ttsandbox.DM) string {
	t.Helper()
	dm.BusinessID, dm.ClientKey = testTTOpenID, testTTKey
	if dm.MessageID == "" {
		dm.MessageID = ttsandbox.NewID()
	}
	body, err := te.TT.CustomerMessage(dm)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, te.webhook(t, body, testTTSecret, time.Now()))
	return dm.MessageID
}

// appEcho delivers the echo of a message the business sent from the
// TikTok app.
func (te *ttEnv) appEcho(t *testing.T, customer, text string, at time.Time) {
	t.Helper()
	body := ttsandbox.DM{ClientKey: testTTKey, BusinessID: testTTOpenID, CustomerID: customer, Text: text, At: at,
		Echo: true, Source: "APP"}.Body()
	require.Equal(t, http.StatusOK, te.webhook(t, body, testTTSecret, time.Now()))
}

type ttMessage struct {
	ID, Text, Direction, AuthorKind, Type, Status, ExternalID string
	Hidden, Deleted                                           bool
	Attachments                                               []any
}

type ttConversation struct {
	ID, Kind, Thread, Subject, URL, HandoffReason, Contact string
	Messages                                               []ttMessage
}

// conversations reads every conversation with its messages, by thread.
func (te *ttEnv) conversations(t *testing.T) map[string]ttConversation {
	t.Helper()
	data := te.gql(t, `{ conversations(first: 20) { edges { node { id kind threadID subject url handoffReason contact { externalID }
		messages(first: 60) { edges { node { id text direction authorKind type deliveryStatus externalID hidden deletedAt
			attachments { type url } } } } } } } }`, nil)
	out := map[string]ttConversation{}
	str := func(v any) string { s, _ := v.(string); return s }
	for _, edge := range dig(data, "conversations", "edges").([]any) {
		n := dig(edge, "node")
		c := ttConversation{ID: str(dig(n, "id")), Kind: str(dig(n, "kind")), Thread: str(dig(n, "threadID")),
			Subject: str(dig(n, "subject")), URL: str(dig(n, "url")), HandoffReason: str(dig(n, "handoffReason")),
			Contact: str(dig(n, "contact", "externalID"))}
		for _, m := range dig(n, "messages", "edges").([]any) {
			mn := dig(m, "node")
			atts, _ := dig(mn, "attachments").([]any)
			c.Messages = append(c.Messages, ttMessage{ID: str(dig(mn, "id")), Text: str(dig(mn, "text")),
				Direction: str(dig(mn, "direction")), AuthorKind: str(dig(mn, "authorKind")), Type: str(dig(mn, "type")),
				Status: str(dig(mn, "deliveryStatus")), ExternalID: str(dig(mn, "externalID")),
				Hidden: dig(mn, "hidden") == true, Deleted: dig(mn, "deletedAt") != nil, Attachments: atts})
		}
		out[c.Thread] = c
	}
	return out
}

// outbound lists a conversation's outbound messages.
func (c ttConversation) outbound() []ttMessage {
	var out []ttMessage
	for _, m := range c.Messages {
		if m.Direction == "OUTBOUND" {
			out = append(out, m)
		}
	}
	return out
}

// byExternalID finds a message.
func (c ttConversation) byExternalID(id string) (ttMessage, bool) {
	for _, m := range c.Messages {
		if m.ExternalID == id {
			return m, true
		}
	}
	return ttMessage{}, false
}

func (te *ttEnv) reply(t *testing.T, conv, text string, extra map[string]any) gqlResponse {
	t.Helper()
	in := map[string]any{"conversationId": conv, "text": text}
	for k, v := range extra {
		in[k] = v
	}
	return te.gqlAs(t, te.Key, `mutation($in: SendReplyInput!) { sendReply(input: $in) { id } }`, map[string]any{"in": in})
}

// Direct messages: one conversation per TikTok conversation, text, image,
// shared-post and unsupported messages; a reply goes out through the
// Business API; the echo of the host's own send is the sent message
// whichever arrives first (never two, never answered); an echo of what the
// business sent from the app is stored outbound.
func TestTikTokDirectMessages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{})
		te.customer(t, ttsandbox.DM{CustomerID: "cust-ann", CustomerName: "Ann", Text: "Do you ship to Lyon?"})
		te.customer(t, ttsandbox.DM{CustomerID: "cust-ann", CustomerName: "Ann", Type: "image", MediaURL: "https://cdn.example/p.jpg"})
		te.customer(t, ttsandbox.DM{CustomerID: "cust-ann", CustomerName: "Ann", Type: "share_post", SharedVideoID: "7311", SharedURL: "https://www.tiktok.com/@x/video/7311"})
		te.customer(t, ttsandbox.DM{CustomerID: "cust-ann", CustomerName: "Ann", Type: "template_card"})
		te.customer(t, ttsandbox.DM{CustomerID: "cust-bob", CustomerName: "Bob", Text: "Hi"})

		annThread := ttsandbox.ConversationID(testTTOpenID, "cust-ann")
		convs := te.conversations(t)
		require.Len(t, convs, 2)
		ann := convs[annThread]
		require.Equal(t, "DIRECT_MESSAGE", ann.Kind)
		require.Equal(t, "cust-ann", ann.Contact)
		types := map[string]ttMessage{}
		for _, m := range ann.Messages {
			types[m.Type] = m
		}
		require.Equal(t, "Do you ship to Lyon?", types["text"].Text)
		require.Equal(t, "https://cdn.example/p.jpg", dig(types["image"].Attachments, 0, "url"))
		require.Equal(t, "https://www.tiktok.com/@x/video/7311", dig(types["share_post"].Attachments, 0, "url"))
		require.Contains(t, types, "unsupported", "kept, marked")
		inbound := 5
		require.Equal(t, inbound, storetest.CountJobs(t, te.App.Store.DB, "ai.reply"))

		sendAndWait := func(text string) ttMessage {
			t.Helper()
			require.Empty(t, te.reply(t, ann.ID, text, nil).Errors)
			te.waitJobs(t)
			te.noSinkErrors(t)
			var mine []ttMessage
			for _, m := range te.conversations(t)[annThread].outbound() {
				if m.Text == text {
					mine = append(mine, m)
				}
			}
			require.Len(t, mine, 1, "the reply and its echo are one message")
			require.Equal(t, "SENT", mine[0].Status)
			require.Equal(t, "AGENT", mine[0].AuthorKind, "still the person's reply")
			sent := te.TT.SentMessages()
			require.Equal(t, text, sent[len(sent)-1].Text)
			require.Equal(t, annThread, sent[len(sent)-1].ConversationID)
			require.Equal(t, sent[len(sent)-1].ID, mine[0].ExternalID)
			return mine[0]
		}

		// As it comes: TikTok posts the echo as it answers the send.
		sendAndWait("Yes, in 3 days")

		// The echo overtakes the send's answer: stored first, merged when
		// the send records its id.
		te.hold.Store(true)
		te.echoFirst.Store(true)
		sendAndWait("Echo first")
		te.echoFirst.Store(false)
		require.Empty(t, te.held)

		// The echo comes after the send was recorded: a repeat.
		sendAndWait("Echo second")
		require.Len(t, te.held, 1)
		te.deliver(<-te.held)
		te.hold.Store(false)
		te.noSinkErrors(t)
		require.Len(t, te.conversations(t)[annThread].outbound(), 3)

		// What the business sent from the TikTok app is stored outbound.
		te.appEcho(t, "cust-ann", "Sent from my phone", time.Now())
		out := te.conversations(t)[annThread].outbound()
		require.Len(t, out, 4)
		require.Equal(t, inbound, storetest.CountJobs(t, te.App.Store.DB, "ai.reply"), "echoes are never answered")
	})
}

// The platform's reply window and cap, from the connector's Describe
// rules: a person's reply is refused with WINDOW_CLOSED before anything is
// stored, the agent hands the conversation off.
func TestTikTokReplyWindow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{})
		old := time.Now().Add(-49 * time.Hour)
		te.customer(t, ttsandbox.DM{CustomerID: "cust-old", Text: "Anyone there?", At: old})
		te.customer(t, ttsandbox.DM{CustomerID: "cust-ann", Text: "Hello"})
		convs := te.conversations(t)
		late := convs[ttsandbox.ConversationID(testTTOpenID, "cust-old")]
		ann := convs[ttsandbox.ConversationID(testTTOpenID, "cust-ann")]
		messages := countRows(t, te.env, "messages")

		r := te.reply(t, late.ID, "Sorry for the wait", nil)
		require.Equal(t, "WINDOW_CLOSED", r.Code())
		require.Contains(t, r.Errors[0].Message, "48-hour reply window is closed")
		require.NotContains(t, r.Errors[0].Message, "template", "TikTok has none")

		// Ten business messages since the customer's last one: the eleventh
		// is refused until the customer writes again.
		for i := range 9 {
			te.appEcho(t, "cust-ann", fmt.Sprintf("from the app %d", i), time.Now())
		}
		require.Empty(t, te.reply(t, ann.ID, "the tenth", nil).Errors)
		r = te.reply(t, ann.ID, "the eleventh", nil)
		require.Equal(t, "WINDOW_CLOSED", r.Code())
		require.Contains(t, r.Errors[0].Message, "allows 10 business messages until the customer writes again")
		require.Equal(t, messages+10, countRows(t, te.env, "messages"), "the refused replies stored nothing")
		te.waitJobs(t)
		te.customer(t, ttsandbox.DM{CustomerID: "cust-ann", Text: "Thanks!"})
		require.Empty(t, te.reply(t, ann.ID, "You're welcome", nil).Errors, "the customer wrote: the count starts over")
		te.waitJobs(t)

		// The agent hands off instead of answering.
		te.gql(t, `mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: AUTO}) { id } }`, map[string]any{"id": te.Channel})
		te.customer(t, ttsandbox.DM{CustomerID: "cust-late", Text: "how much is shipping?", At: old})
		// Ten messages from the app, then the customer's message they
		// followed, delivered late.
		t0 := time.Now().Add(-time.Hour)
		for i := range 10 {
			te.appEcho(t, "cust-cap", fmt.Sprintf("promo %d", i), t0.Add(time.Duration(i+1)*time.Second))
		}
		te.customer(t, ttsandbox.DM{CustomerID: "cust-cap", Text: "how much is shipping?", At: t0})
		te.waitJobs(t)
		sent := len(te.TT.SentMessages())
		convs = te.conversations(t)
		require.Contains(t, convs[ttsandbox.ConversationID(testTTOpenID, "cust-late")].HandoffReason, "48-hour reply window is closed")
		capped := convs[ttsandbox.ConversationID(testTTOpenID, "cust-cap")]
		require.Contains(t, capped.HandoffReason, "allows 10 business messages until the customer writes again")
		require.Len(t, capped.outbound(), 10, "the agent sent nothing")
		require.Equal(t, sent, len(te.TT.SentMessages()))
		te.noSinkErrors(t)
	})
}

// Comments arrive by polling: a first sync right after connecting, one
// conversation per video, the business's own comments outbound, hidden
// ones marked. A reply answers the named comment through
// comment/reply/create and is not doubled when a sync lists it. TikTok's
// comment.update makes the host fetch the comment at once: a hidden,
// shown again, deleted or new comment is seen without waiting for a sync.
func TestTikTokComments(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{noConnect: true, sandbox: []ttsandbox.Option{ttsandbox.WithCommentWebhooks()}})
		video, err := te.TT.AddVideo(testTTOpenID, "Summer mugs are here")
		require.NoError(t, err)
		add := func(c ttsandbox.Comment) ttsandbox.Comment {
			t.Helper()
			c.VideoID = video
			out, err := te.TT.AddComment(c)
			require.NoError(t, err)
			return out
		}
		price := add(ttsandbox.Comment{UserID: "u-ann", Username: "ann", DisplayName: "Ann", Text: "Price?"})
		love := add(ttsandbox.Comment{UserID: "u-bob", Username: "bob", DisplayName: "Bob", Text: "Love it"})
		answer := add(ttsandbox.Comment{ParentID: price.ID, UserID: "u-bob", Username: "bob", Text: "@ann 12 EUR I think"})
		add(ttsandbox.Comment{UserID: testTTOpenID, Owner: true, Text: "Thanks everyone!"})
		hidden := add(ttsandbox.Comment{UserID: "u-spam", Username: "spam", Text: "buy followers", Hidden: true})
		te.TT.Flush() // comment.update for an account no channel owns yet: dropped

		// Connecting queues the first sync.
		te.Channel = te.connect(t)
		te.waitJobs(t)
		conv := te.conversations(t)[video]
		require.Equal(t, "COMMENT_THREAD", conv.Kind)
		require.Equal(t, "Summer mugs are here", conv.Subject)
		require.Contains(t, conv.URL, "/video/"+video)
		require.Len(t, conv.Messages, 5)
		own := conv.outbound()
		require.Len(t, own, 1)
		require.Equal(t, "Thanks everyone!", own[0].Text)
		spam, _ := conv.byExternalID(hidden.ID)
		require.True(t, spam.Hidden)
		p, _ := conv.byExternalID(price.ID)
		require.False(t, p.Hidden)
		require.Equal(t, 4, storetest.CountJobs(t, te.App.Store.DB, "ai.reply"), "one per customer comment")

		// A reply to Ann's comment, named.
		require.Empty(t, te.reply(t, conv.ID, "It's 12 EUR", map[string]any{"inReplyToId": p.ID}).Errors)
		te.waitJobs(t)
		te.noSinkErrors(t) // the emulator's comment.update for the reply: fetched, a repeat
		sent := te.TT.SentMessages()
		require.Len(t, sent, 1)
		require.Equal(t, "comment_reply", sent[0].Kind)
		require.Equal(t, price.ID, sent[0].CommentID)
		require.Equal(t, video, sent[0].VideoID)
		require.NoError(t, te.App.Inbox.SyncAll(context.Background()))
		conv = te.conversations(t)[video]
		mine, ok := conv.byExternalID(sent[0].ID)
		require.True(t, ok)
		require.Equal(t, "SENT", mine.Status)
		require.Equal(t, "AGENT", mine.AuthorKind)
		require.Len(t, conv.outbound(), 2, "the synced reply is the sent one")

		// Moderation and deletions arrive through comment.update.
		require.NoError(t, te.TT.HideComment(love.ID, true))
		te.noSinkErrors(t)
		m, _ := te.conversations(t)[video].byExternalID(love.ID)
		require.True(t, m.Hidden)
		require.NoError(t, te.TT.HideComment(love.ID, false))
		te.noSinkErrors(t)
		m, _ = te.conversations(t)[video].byExternalID(love.ID)
		require.False(t, m.Hidden)
		require.NoError(t, te.TT.DeleteComment(answer.ID))
		te.noSinkErrors(t)
		m, _ = te.conversations(t)[video].byExternalID(answer.ID)
		require.True(t, m.Deleted)
		require.Equal(t, "@ann 12 EUR I think", m.Text, "the text stays")
		fresh := add(ttsandbox.Comment{UserID: "u-cy", Username: "cy", Text: "Restock when?"})
		te.noSinkErrors(t)
		m, ok = te.conversations(t)[video].byExternalID(fresh.ID)
		require.True(t, ok, "fetched at once, no sync needed")
		require.Equal(t, "Restock when?", m.Text)
	})
}

// A sync pass reads one comment page per call and stores each page with
// the cursor after it: a pass cut short resumes where it stopped, it does
// not start over.
func TestTikTokCommentSyncResumes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{})
		te.waitSyncJobs(t) // no pass of the jobs may run with the test's
		older, err := te.TT.AddVideo(testTTOpenID, "older")
		require.NoError(t, err)
		_, err = te.TT.AddComment(ttsandbox.Comment{VideoID: older, UserID: "u-1", Text: "first!"})
		require.NoError(t, err)
		busy, err := te.TT.AddVideo(testTTOpenID, "busy")
		require.NoError(t, err)
		for i := range 45 {
			_, err := te.TT.AddComment(ttsandbox.Comment{VideoID: busy, UserID: fmt.Sprintf("u-%d", i), Text: fmt.Sprintf("comment %d", i)})
			require.NoError(t, err)
		}

		// The busy video's second comment page fails: the first is kept.
		var pages atomic.Int64
		failSecond := func(r *http.Request) bool {
			return strings.Contains(r.URL.Path, "comment/list") && pages.Add(1) == 2
		}
		te.fail.Store(&failSecond)
		require.Error(t, te.App.Inbox.SyncAll(context.Background()))
		te.fail.Store(nil)
		require.Len(t, te.conversations(t)[busy].Messages, 30)
		var cursor string
		require.NoError(t, te.App.Store.DB.QueryRow(`SELECT sync_cursor FROM channels WHERE id = $1`, te.Channel).Scan(&cursor))
		require.NotEmpty(t, cursor)

		// The next pass reads the second page, then the older video: no
		// video list, no first page again.
		videos, comments := te.videoLists.Load(), te.commentLists.Load()
		require.NoError(t, te.App.Inbox.SyncAll(context.Background()))
		require.Equal(t, videos, te.videoLists.Load(), "the video list was not read again")
		require.Equal(t, comments+2, te.commentLists.Load(), "the busy video's second page, the older video's only one")
		convs := te.conversations(t)
		require.Len(t, convs[busy].Messages, 45)
		require.Len(t, convs[older].Messages, 1)
		var synced *time.Time
		require.NoError(t, te.App.Store.DB.QueryRow(`SELECT sync_cursor, synced_at FROM channels WHERE id = $1`, te.Channel).Scan(&cursor, &synced))
		require.Empty(t, cursor, "the pass is over")
		require.NotNil(t, synced)

		// A later pass starts over from the newest video and stops at
		// what it has seen (Since): a new comment comes in, nothing doubles.
		_, err = te.TT.AddComment(ttsandbox.Comment{VideoID: older, UserID: "u-9", Text: "second!"})
		require.NoError(t, err)
		require.NoError(t, te.App.Inbox.SyncAll(context.Background()))
		convs = te.conversations(t)
		require.Len(t, convs[older].Messages, 2)
		require.Len(t, convs[busy].Messages, 45)
	})
}

// droppedTikTok reads the count of events for accounts no channel owns.
func (te *ttEnv) droppedTikTok(t *testing.T) float64 {
	t.Helper()
	mfs, err := te.App.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "neksio_webhook_dropped_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "connector" && lp.GetValue() == "tiktok" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Every bad delivery is refused (401, 413, 400) or dropped (200, counted),
// and nothing is stored; a redelivery is a no-op.
func TestTikTokWebhookBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{})
		now := time.Now()
		body := ttsandbox.DM{ClientKey: testTTKey, BusinessID: testTTOpenID, CustomerID: "cust-1", Text: "hello"}.Body()
		post := func(b []byte, sig string) int {
			t.Helper()
			h := map[string]string{}
			if sig != "" {
				h["Tiktok-Signature"] = sig
			}
			code, _ := te.postWebhook(t, "/webhooks/tiktok", b, h)
			return code
		}
		signed := func(b []byte) string { return ttsandbox.Sign(testTTSecret, now, b) }
		valid := signed(body)
		ts, _, _ := strings.Cut(valid, ",")
		oversize := []byte(`{"event":"im_receive_msg","content":"` + strings.Repeat("x", 1<<20) + `"}`)
		for _, c := range []struct {
			name string
			body []byte
			sig  string
			want int
		}{
			{"no signature", body, "", http.StatusUnauthorized},
			{"malformed signature", body, "sha256=abc", http.StatusUnauthorized},
			{"no timestamp", body, "s=" + strings.Split(valid, "s=")[1], http.StatusUnauthorized},
			{"wrong signature", body, ts + ",s=" + strings.Repeat("ab", 32), http.StatusUnauthorized},
			{"stale timestamp", body, ttsandbox.Sign(testTTSecret, now.Add(-6*time.Minute), body), http.StatusUnauthorized},
			{"future timestamp", body, ttsandbox.Sign(testTTSecret, now.Add(6*time.Minute), body), http.StatusUnauthorized},
			{"another secret", body, ttsandbox.Sign("another-secret", now, body), http.StatusUnauthorized},
			{"the body changed after signing", append(append([]byte(nil), body[:len(body)-1]...), ' ', '}'), valid, http.StatusUnauthorized},
			{"another app's client key", ttsandbox.DM{ClientKey: "other-app", BusinessID: testTTOpenID, CustomerID: "cust-1", Text: "x"}.Body(), "", http.StatusUnauthorized},
			{"oversize", oversize, signed(oversize), http.StatusRequestEntityTooLarge},
			{"not JSON", []byte(`{"event":`), "", http.StatusBadRequest},
			{"no event", []byte(`{"user_openid":"` + testTTOpenID + `","content":"{}"}`), "", http.StatusBadRequest},
			{"content not a JSON string", []byte(`{"event":"im_receive_msg","user_openid":"` + testTTOpenID + `","content":"not json"}`), "", http.StatusBadRequest},
			{"no account to route by", []byte(`{"event":"im_receive_msg","content":"{}"}`), "", http.StatusBadRequest},
		} {
			sig := c.sig
			if sig == "" && c.want != http.StatusUnauthorized || c.name == "another app's client key" {
				sig = signed(c.body)
			}
			require.Equal(t, c.want, post(c.body, sig), c.name)
		}
		require.Zero(t, countRows(t, te.env, "messages"))
		require.Zero(t, countRows(t, te.env, "conversations"))

		// An account no channel owns: acknowledged and counted, not stored.
		stranger := ttsandbox.DM{ClientKey: testTTKey, BusinessID: "open-stranger", CustomerID: "cust-1", Text: "hi"}.Body()
		before := te.droppedTikTok(t)
		require.Equal(t, http.StatusOK, post(stranger, signed(stranger)))
		require.Equal(t, before+1, te.droppedTikTok(t))
		require.Zero(t, countRows(t, te.env, "messages"))
		// An event the connector does not read: acknowledged, nothing stored.
		eu := ttsandbox.Envelope(testTTKey, "im_receive_msg_eu", testTTOpenID, now, map[string]any{})
		require.Equal(t, http.StatusOK, post(eu, signed(eu)))
		require.Zero(t, countRows(t, te.env, "messages"))

		// Within five minutes either way is accepted; TikTok redelivers for
		// 72 hours, and a redelivery is a no-op.
		require.Equal(t, http.StatusOK, post(body, ttsandbox.Sign(testTTSecret, now.Add(-4*time.Minute), body)))
		require.Equal(t, http.StatusOK, post(body, ttsandbox.Sign(testTTSecret, now.Add(4*time.Minute), body)))
		require.Equal(t, 1, countRows(t, te.env, "messages"))
		require.Equal(t, 1, storetest.CountJobs(t, te.App.Store.DB, "ai.reply"))
	})
}

// authorization.removed (the person disconnected the app in TikTok): the
// channel needs reconnecting and its tokens are wiped; connecting again
// brings it back.
func TestTikTokAuthorizationRemoved(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{})
		te.customer(t, ttsandbox.DM{CustomerID: "cust-1", Text: "hello"})
		// The jobs the message started (a sync of the new channel among
		// them) finish first: one failing on the revoked token would
		// otherwise record its own reason.
		te.waitJobs(t)
		te.TT.Deauthorize(testTTOpenID, 1)
		te.noSinkErrors(t)
		data := te.gql(t, `query($id: ID!) { node(id: $id) { ... on Channel { status lastError tokenExpiresAt } } }`, map[string]any{"id": te.Channel})
		require.Equal(t, "NEEDS_RECONNECT", dig(data, "node", "status"))
		require.Contains(t, dig(data, "node", "lastError"), "the user disconnected the app in TikTok")
		require.Nil(t, dig(data, "node", "tokenExpiresAt"))
		var creds []byte
		require.NoError(t, te.App.Store.DB.QueryRow(`SELECT credentials FROM channels WHERE id = $1`, te.Channel).Scan(&creds))
		require.Empty(t, creds, "the revoked tokens are wiped")
		var raw string
		require.NoError(t, te.App.Store.DB.QueryRow(`SELECT metadata FROM audit_logs WHERE action = 'channel.authorization_removed'`).Scan(&raw))
		var meta map[string]string
		require.NoError(t, json.Unmarshal([]byte(raw), &meta))
		require.Equal(t, "1", meta["reason"])

		// A redelivery changes nothing; messages still arrive (history).
		body := ttsandbox.AuthorizationRemoved(testTTKey, testTTOpenID, 1)
		require.Equal(t, http.StatusOK, te.webhook(t, body, testTTSecret, time.Now()))
		require.Equal(t, 1, countRows(t, te.env, "audit_logs WHERE action = 'channel.authorization_removed'"))

		// Reconnecting: the token is checked against TikTok, and must be
		// the channel's account's; a new grant makes it active again.
		connect := func(token string) gqlResponse {
			return te.gqlAs(t, te.Key, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"connector": "tiktok", "externalId": testTTOpenID, "name": "Acme TikTok",
					"credentials": map[string]any{"accessToken": token}}})
		}
		require.Equal(t, "BAD_USER_INPUT", connect(te.Tokens.AccessToken).Code(), "the revoked token")
		te.TT.AddAccount(ttsandbox.Account{OpenID: "open-other", DisplayName: "Other"})
		require.Equal(t, "BAD_USER_INPUT", connect(te.TT.Grant("open-other").AccessToken).Code(), "another account's token")
		require.Equal(t, te.Channel, te.connect(t))
	})
}

// ttChannel opens the channel's credentials and app settings, as the host
// hands them to the connector.
func (te *ttEnv) ttChannel(t *testing.T) (*ent.Channel, sdk.App, sdk.Credentials) {
	t.Helper()
	ctx := tenant.NewContext(context.Background(), tenant.PlatformViewer("test"))
	ch, err := te.App.Store.Ent.Channel.Get(ctx, pulid.ID(te.Channel))
	require.NoError(t, err)
	if len(ch.Credentials) == 0 {
		return ch, te.App.Channels.AppFor(ch), sdk.Credentials{}
	}
	creds, err := te.App.Channels.Credentials(ch)
	require.NoError(t, err)
	return ch, te.App.Channels.AppFor(ch), creds
}

// eventsCounted reads neksio_webhook_events_total for TikTok and an outcome.
func (te *ttEnv) eventsCounted(t *testing.T, outcome string) float64 {
	t.Helper()
	mfs, err := te.App.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "neksio_webhook_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["connector"] == "tiktok" && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// Video posts through the real plugin process, to PUBLISH_COMPLETE and to
// FAILED (the publishing workflow that will call these comes later); the
// publication webhooks TikTok then sends are acknowledged and counted as
// ignored, with nothing stored.
func TestTikTokPublish(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{})
		conn, err := te.App.Connectors.Get("tiktok")
		require.NoError(t, err)
		_, app, creds := te.ttChannel(t)
		ctx := context.Background()
		publish := func(key string) *sdk.PublishResult {
			t.Helper()
			res, err := conn.Publish(ctx, &sdk.PublishRequest{App: app, Credentials: creds, AccountID: testTTOpenID, Platform: "tiktok",
				IdempotencyKey: key, Post: sdk.Post{Format: "video", Text: "New mugs #coffee",
					Media: []sdk.Media{{Type: "video", URL: te.URL + "/media/signed/clip.mp4"}}}})
			require.NoError(t, err)
			require.Equal(t, sdk.PublishProcessing, res.State)
			require.NotEmpty(t, res.ExternalID)
			return res
		}
		poll := func(id string) *sdk.PublishResult {
			t.Helper()
			for range 10 {
				st, err := conn.PublishStatus(ctx, &sdk.PublishStatusRequest{App: app, Credentials: creds, AccountID: testTTOpenID,
					Platform: "tiktok", ExternalID: id})
				require.NoError(t, err)
				if st.State != sdk.PublishProcessing {
					return st
				}
			}
			t.Fatalf("publication %s still processing", id)
			return nil
		}
		ignored := te.eventsCounted(t, "ignored")

		res := publish("post-1")
		st := poll(res.ExternalID)
		require.Equal(t, sdk.PublishPublished, st.State)
		require.Equal(t, res.ExternalID, st.ExternalID)
		pubs := te.TT.Publications()
		require.Equal(t, ttsandbox.StatusComplete, pubs[0].Status)
		require.Equal(t, "SELF_ONLY", pubs[0].PrivacyLevel, "an unaudited app posts privately")

		te.TT.FailNextPublish("video_pull_failed")
		res = publish("post-2")
		st = poll(res.ExternalID)
		require.Equal(t, sdk.PublishFailed, st.State)
		require.Equal(t, "video_pull_failed", st.Error.Code)
		require.Equal(t, sdk.ClassRetryable, st.Error.Class, "pulling the video again may work")

		te.noSinkErrors(t) // post.publish.complete and .failed, posted by the emulator: 200
		// The publishing workflow takes them (core/publish); these two match
		// no post of Neksio's, so nothing changes.
		require.Equal(t, ignored, te.eventsCounted(t, "ignored"))
		require.Zero(t, countRows(t, te.env, "messages"))
	})
}

// crashGateway hands out connectors that "crash" after a refresh: the
// platform rotated the token, the host dies before storing it.
type crashGateway struct {
	channel.Gateway
	crash context.CancelFunc
}

func (g crashGateway) Get(name string) (sdk.Connector, error) {
	c, err := g.Gateway.Get(name)
	if err != nil {
		return nil, err
	}
	return crashingConnector{Connector: c, crash: g.crash}, nil
}

type crashingConnector struct {
	sdk.Connector
	crash context.CancelFunc
}

func (c crashingConnector) RefreshCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	out, err := c.Connector.RefreshCredentials(ctx, req)
	c.crash()
	return out, err
}

// Token refresh through the plugin process: the rotated refresh token is
// kept and the new access token answers customers. A crash between
// TikTok's answer and the store keeps the old token; TikTok (without the
// emulator's grace) no longer honours it, and the channel says so.
func TestTikTokTokenRefresh(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{})
		due := func() {
			t.Helper()
			_, err := te.App.Store.DB.Exec(`UPDATE channels SET token_expires_at = $1 WHERE id = $2`, time.Now().Add(10*time.Minute), te.Channel)
			require.NoError(t, err)
		}
		due()
		res, err := te.App.Channels.RefreshDue(context.Background(), time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{Refreshed: 1}, res)
		ch, _, creds := te.ttChannel(t)
		require.NotEqual(t, te.Tokens.RefreshToken, creds.RefreshToken, "the rotated refresh token is kept")
		require.True(t, ch.TokenExpiresAt.After(time.Now().Add(23*time.Hour)))

		// The new access token works: a reply goes out with it.
		te.customer(t, ttsandbox.DM{CustomerID: "cust-1", Text: "hello"})
		require.Empty(t, te.reply(t, te.conversations(t)[ttsandbox.ConversationID(testTTOpenID, "cust-1")].ID, "hi!", nil).Errors)
		te.waitJobs(t)
		require.Len(t, te.TT.SentMessages(), 1)

		// A crash after TikTok rotated the token, before the store.
		due()
		ctx, cancel := context.WithCancel(context.Background())
		crashed := *te.App.Channels
		crashed.Gateway = crashGateway{Gateway: te.App.Connectors, crash: cancel}
		res, err = crashed.RefreshDue(ctx, time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{Failed: 1}, res)
		_, _, after := te.ttChannel(t)
		require.Equal(t, creds.RefreshToken, after.RefreshToken, "nothing was stored")

		res, err = te.App.Channels.RefreshDue(context.Background(), time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{Revoked: 1}, res)
		data := te.gql(t, `query($id: ID!) { node(id: $id) { ... on Channel { status lastError } } }`, map[string]any{"id": te.Channel})
		require.Equal(t, "NEEDS_RECONNECT", dig(data, "node", "status"))
		require.Contains(t, dig(data, "node", "lastError"), "reconnect the channel")
	})
}

// `neksio simulate tiktok` makes customer traffic: a signed DM (the
// emulator is told, so the reply is in its window), and a comment made in
// the emulator that the next sync reads.
func TestTikTokSimulateCommand(t *testing.T) {
	t.Parallel()
	te := newTikTokEnv(t, storetest.SQLite, ttOption{})
	out, err := run(t, "simulate", "tiktok", "--kind", "dm", "--url", te.URL, "--app-secret", testTTSecret, "--client-key", testTTKey,
		"--account", testTTOpenID, "--from", "cust-sim", "--name", "Sim", "--text", "simulated hello", "--sandbox-url", te.TTURL)
	require.NoError(t, err)
	require.Contains(t, out, "200")
	conv := te.conversations(t)[ttsandbox.ConversationID(testTTOpenID, "cust-sim")]
	require.Equal(t, "simulated hello", conv.Messages[0].Text)
	require.Empty(t, te.reply(t, conv.ID, "hello back", nil).Errors)
	te.waitJobs(t)
	require.Len(t, te.TT.SentMessages(), 1, "the emulator knew of the customer: in the window")
	_, err = run(t, "simulate", "tiktok", "--kind", "dm", "--url", te.URL, "--app-secret", "wrong", "--client-key", testTTKey,
		"--account", testTTOpenID, "--text", "x")
	require.Error(t, err, "a wrong secret is refused with 401")

	out, err = run(t, "simulate", "tiktok", "--kind", "comment", "--account", testTTOpenID, "--from", "u-sim",
		"--text", "simulated comment", "--sandbox-url", te.TTURL)
	require.NoError(t, err)
	video := strings.Fields(out)[4]
	require.NoError(t, te.App.Inbox.SyncAll(context.Background()))
	c := te.conversations(t)[video]
	require.Equal(t, "COMMENT_THREAD", c.Kind)
	require.Equal(t, "simulated comment", c.Messages[0].Text)
	te.noSinkErrors(t)
}

// `neksio sandbox` serves the TikTok emulator under /tiktok, prints the
// settings and tokens to use, and posts TikTok's own webhooks (echoes,
// comment changes) to the server, signed with the configured secret.
func TestTikTokSandboxCommand(t *testing.T) {
	t.Parallel()
	var target atomic.Pointer[url.URL]
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target.Load()) }})
	t.Cleanup(proxy.Close)
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel(),
		withConfig(func(c *config.Config) { c.Connectors = append(c.Connectors, "tiktok") }),
		withEnviron("NEKSIO_TIKTOK_CLIENT_KEY="+testTTKey, "NEKSIO_TIKTOK_CLIENT_SECRET="+testTTSecret,
			"NEKSIO_TIKTOK_API_BASE_URL="+proxy.URL+"/tiktok", "NEKSIO_TIKTOK_BUSINESS_API_BASE_URL="+proxy.URL+"/tiktok/open_api/v1.3"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	root := rootCmd()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"sandbox", "--addr", "127.0.0.1:0", "--whatsapp-app-secret", "", "--neksio-url", e.URL,
		"--tiktok-client-key", testTTKey, "--tiktok-client-secret", testTTSecret, "--tiktok-open-id", testTTOpenID})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewReader(pr)
	var printed strings.Builder
	for !strings.Contains(printed.String(), "what was sent") {
		line, err := lines.ReadString('\n')
		require.NoError(t, err, printed.String())
		printed.WriteString(line)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	text := printed.String()
	base := strings.TrimSuffix(strings.Fields(text)[3], ".")
	u, err := url.Parse(base)
	require.NoError(t, err)
	target.Store(u)
	require.Contains(t, text, "NEKSIO_TIKTOK_API_BASE_URL="+base+"/tiktok\n")
	require.Contains(t, text, "NEKSIO_TIKTOK_BUSINESS_API_BASE_URL="+base+"/tiktok/open_api/v1.3\n")
	m := regexp.MustCompile(`tiktok +externalId \S+ +credentials {accessToken: "([^"]+)", refreshToken: "([^"]+)", expiresAt: "([^"]+)"`).FindStringSubmatch(text)
	require.Len(t, m, 4, text)
	video := regexp.MustCompile(`a video to comment on: (\d+)`).FindStringSubmatch(text)
	require.Len(t, video, 2, text)

	e.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"connector": "tiktok", "externalId": testTTOpenID, "name": "Sandbox",
		"credentials": map[string]any{"accessToken": m[1], "refreshToken": m[2], "expiresAt": m[3]}}})
	_, err = run(t, "simulate", "tiktok", "--kind", "dm", "--url", e.URL, "--app-secret", testTTSecret, "--client-key", testTTKey,
		"--account", testTTOpenID, "--from", "cust-1", "--text", "hi", "--sandbox-url", base+"/tiktok")
	require.NoError(t, err)
	conv := dig(e.gql(t, `{ conversations(first: 1) { edges { node { id } } } }`, nil), "conversations", "edges", 0, "node", "id")
	e.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "hello from the sandbox"}) { id } }`, map[string]any{"id": conv})
	e.waitJobs(t)
	resp, err := http.Get(base + "/tiktok/_sandbox/tiktok/sent")
	require.NoError(t, err)
	var sent []struct{ ID, Text string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sent))
	resp.Body.Close()
	require.Len(t, sent, 1)
	require.Equal(t, "hello from the sandbox", sent[0].Text)
	// The comment the simulator makes reaches the server through the
	// sandbox's comment.update, without a sync.
	_, err = run(t, "simulate", "tiktok", "--kind", "comment", "--account", testTTOpenID, "--post", video[1],
		"--from", "u-1", "--text", "via comment.update", "--sandbox-url", base+"/tiktok")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		data := e.gql(t, `{ messages(first: 10, where: {text: "via comment.update"}) { totalCount } }`, nil)
		return dig(data, "messages", "totalCount") == float64(1)
	}, 20*time.Second, 50*time.Millisecond)
	// The echo of the reply, posted by the sandbox, is the reply itself.
	data := e.gql(t, `{ messages(first: 10, where: {direction: OUTBOUND}) { totalCount edges { node { externalID deliveryStatus } } } }`, nil)
	require.Equal(t, float64(1), dig(data, "messages", "totalCount"))
	require.Equal(t, sent[0].ID, dig(data, "messages", "edges", 0, "node", "externalID"))
	cancel()
	require.NoError(t, <-done)
}
