package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs"
	gsandbox "github.com/neksio/neksio/plugins/google/sandbox"
)

// A Pub/Sub push about a new review becomes a REVIEW conversation with the
// reviewer as contact and the stars on the message and the conversation
// (queryable); the same push delivered again stores nothing more; an
// anonymous reviewer and a rating alone are reviews too; sentiment runs on
// the text (and the stars of a rating alone); an edited review keeps its
// history and moves the conversation's rating; a deleted review is marked
// and its reply refused before anything is queued.
func TestGooglePushReviews(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d)
		rv := g.review("Ann Smith", 2, "Terrible service and cold coffee")
		body := gsandbox.Envelope(gsandbox.Notification("NEW_REVIEW", rv.Name), g.G.NextMessageID(), time.Now())
		require.Equal(t, http.StatusOK, g.pushBody(t, body, gsandbox.PushOptions{}))
		require.Equal(t, http.StatusOK, g.pushBody(t, body, gsandbox.PushOptions{}), "a redelivery")
		g.waitJobs(t)

		conv := g.reviewConversation(t, rv.Name)
		require.Equal(t, "REVIEW", conv["kind"])
		require.EqualValues(t, 2, conv["rating"])
		require.Equal(t, "Ann Smith", dig(conv, "contact", "name"))
		require.Equal(t, rv.Name, dig(conv, "contact", "externalID"))
		msgs := messagesOf(conv)
		require.Len(t, msgs, 1, "the redelivery stored nothing")
		require.Equal(t, "Terrible service and cold coffee", msgs[0]["text"])
		require.Equal(t, "INBOUND", msgs[0]["direction"])
		require.Equal(t, "review", msgs[0]["type"])
		require.EqualValues(t, 2, msgs[0]["rating"])
		require.Equal(t, "NEGATIVE", msgs[0]["sentimentLabel"], "sentiment runs on the review's text")
		require.Equal(t, 1, storetest.CountJobs(t, g.App.Store.DB, "ai.reply"), "the agent ran once")

		anon := g.G.CreateReview(testGoogleAccount, "2", gsandbox.NewReview{Anonymous: true, Stars: 5})
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", anon.Name))
		g.waitJobs(t)
		conv = g.reviewConversation(t, anon.Name)
		require.Equal(t, "Anonymous", dig(conv, "contact", "name"))
		require.Empty(t, dig(conv, "contact", "avatarURL"))
		msgs = messagesOf(conv)
		require.Equal(t, "", msgs[0]["text"], "a rating alone")
		require.EqualValues(t, 5, msgs[0]["rating"])
		require.Equal(t, "POSITIVE", msgs[0]["sentimentLabel"], "a rating alone is scored by its stars")

		low := g.gql(t, `{ conversations(first: 10, where: {ratingLTE: 2}) { totalCount edges { node { threadID } } } }`, nil)
		require.EqualValues(t, 1, dig(low, "conversations", "totalCount"))
		require.Equal(t, rv.Name, dig(low, "conversations", "edges", 0, "node", "threadID"))

		// The reviewer edits: the text and stars change, the history stays.
		_, err := g.G.EditReview(rv.Name, 4, "Great coffee this time, thanks!", time.Time{})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, g.push(t, "UPDATED_REVIEW", rv.Name))
		g.waitJobs(t)
		conv = g.reviewConversation(t, rv.Name)
		require.EqualValues(t, 4, conv["rating"])
		msgs = messagesOf(conv)
		require.Len(t, msgs, 1)
		require.Equal(t, "Great coffee this time, thanks!", msgs[0]["text"])
		require.EqualValues(t, 4, msgs[0]["rating"])
		require.NotNil(t, msgs[0]["editedAt"])
		require.Equal(t, "POSITIVE", msgs[0]["sentimentLabel"], "the edit is scored again")
		var raw string
		require.NoError(t, g.App.Store.DB.QueryRow(`SELECT metadata FROM messages WHERE external_id = $1`, rv.Name).Scan(&raw))
		var meta map[string]string
		require.NoError(t, json.Unmarshal([]byte(raw), &meta))
		require.Equal(t, "Terrible service and cold coffee", meta["previous_text_1"])
		require.Equal(t, "2", meta["previous_rating_1"])
		low = g.gql(t, `{ conversations(first: 10, where: {ratingLTE: 2}) { totalCount } }`, nil)
		require.EqualValues(t, 0, dig(low, "conversations", "totalCount"))

		// The reviewer deletes it: marked, and it can no longer be answered.
		require.NoError(t, g.G.DeleteReview(rv.Name))
		require.Equal(t, http.StatusOK, g.push(t, "UPDATED_REVIEW", rv.Name))
		conv = g.reviewConversation(t, rv.Name)
		require.NotNil(t, messagesOf(conv)[0]["deletedAt"])
		before := g.countRows(t, "messages")
		r := g.gqlAs(t, g.Key, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "Sorry!"}) { id } }`,
			map[string]any{"id": conv["id"]})
		require.Equal(t, "CONFLICT", r.Code())
		require.Contains(t, r.Errors[0].Message, "review was deleted")
		require.Equal(t, before, g.countRows(t, "messages"))
		require.Empty(t, g.G.Replies())
	})
}

// Bad pushes are refused as every webhook is — 401 without a valid token
// (none, expired, another audience, another key, another service account),
// 400 for a malformed envelope, 413 over the size limit — and a push for a
// location no channel owns is answered 200 and counted as dropped. None
// stores anything.
func TestGoogleBadPushes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d)
		rv := g.review("Ann", 5, "Great")
		data := gsandbox.Notification("NEW_REVIEW", rv.Name)
		for name, o := range map[string]gsandbox.PushOptions{
			"no token":              {NoToken: true},
			"expired":               {TTL: -time.Minute},
			"another audience":      {Audience: "https://evil.example/webhooks/google"},
			"another key":           {Key: googleRogueKey(), KeyID: "rogue-1"},
			"another key, same kid": {Key: googleRogueKey(), KeyID: "sandbox-1"},
			"another service acct":  {ServiceAccount: "intruder@other-project.iam.gserviceaccount.com"},
			"unverified email":      {EmailUnverified: true},
		} {
			require.Equal(t, http.StatusUnauthorized, g.pushData(t, data, o), name)
		}
		for name, body := range map[string][]byte{
			"not JSON":       []byte("{"),
			"no data":        []byte(`{"message":{"messageId":"1"},"subscription":"s"}`),
			"data not b64":   []byte(`{"message":{"data":"%%%","messageId":"1"}}`),
			"data not JSON":  gsandbox.Envelope([]byte("nope"), "2", time.Now()),
			"no review name": gsandbox.Envelope([]byte(`{"notificationType":"NEW_REVIEW"}`), "3", time.Now()),
		} {
			require.Equal(t, http.StatusBadRequest, g.pushBody(t, body, gsandbox.PushOptions{}), name)
		}
		big := gsandbox.Envelope(bytes.Repeat([]byte("x"), 2<<20), "4", time.Now())
		require.Equal(t, http.StatusRequestEntityTooLarge, g.pushBody(t, big, gsandbox.PushOptions{}))

		dropped := g.droppedEvents(t)
		other := g.G.CreateReview("9", "9", gsandbox.NewReview{Reviewer: "Zed", Stars: 1, Text: "Who?"})
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", other.Name), "a location no channel owns")
		require.Equal(t, dropped+1, g.droppedEvents(t))
		require.Zero(t, g.countRows(t, "messages"), "nothing stored")
		require.Zero(t, g.countRows(t, "conversations"))
	})
}

// Google down or rate limiting when the review is fetched: the push is
// answered 503 with nothing stored, and Pub/Sub's redelivery stores it.
// Google refusing the fetch for good, or the grant revoked (the channel
// then needs reconnecting): 200 and a counted drop.
func TestGooglePushRetryable(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d)
		rv := g.review("Ann", 4, "Nice")
		body := gsandbox.Envelope(gsandbox.Notification("NEW_REVIEW", rv.Name), g.G.NextMessageID(), time.Now())
		g.G.FailNext(1, http.StatusServiceUnavailable, 0)
		require.Equal(t, http.StatusServiceUnavailable, g.pushBody(t, body, gsandbox.PushOptions{}))
		g.G.FailNext(1, http.StatusTooManyRequests, time.Second)
		require.Equal(t, http.StatusServiceUnavailable, g.pushBody(t, body, gsandbox.PushOptions{}))
		require.Zero(t, g.countRows(t, "messages"))
		require.Equal(t, http.StatusOK, g.pushBody(t, body, gsandbox.PushOptions{}))
		require.Equal(t, "Nice", messagesOf(g.reviewConversation(t, rv.Name))[0]["text"])

		// Google refusing for good (403): delivering again cannot help,
		// so the push is answered 200 and counted as dropped.
		other := g.review("Bo", 3, "Fine")
		dropped := g.droppedEvents(t)
		g.G.FailNext(1, http.StatusForbidden, 0)
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", other.Name))
		require.Equal(t, dropped+1, g.droppedEvents(t))
		require.Equal(t, 1, g.countRows(t, "conversations"))

		// The grant revoked: the channel needs reconnecting, and the push
		// is dropped the same way.
		require.True(t, g.G.RevokeRefreshToken(g.Tokens.RefreshToken))
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", other.Name))
		require.Equal(t, dropped+2, g.droppedEvents(t))
		data := g.gql(t, `query($id: ID!) { node(id: $id) { ... on Channel { status lastError } } }`, map[string]any{"id": g.Channel})
		require.Equal(t, "NEEDS_RECONNECT", dig(data, "node", "status"))
		require.Equal(t, 1, g.countRows(t, "conversations"))
	})
}

// Connecting a location backfills its reviews of the last 90 days, page
// after page; a page that fails is retried from the cursor (the pages
// before it are not read again); a later pass reads only what changed
// since the previous pass began. The review's reply written in Google's
// interface is the thread's outbound message.
func TestGoogleSyncBackfill(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d, withoutGoogleChannel())
		now := time.Now()
		g.G.CreateReview(testGoogleAccount, "2", gsandbox.NewReview{Reviewer: "Old", Stars: 3, Text: "Long ago", At: now.Add(-100 * 24 * time.Hour)})
		for i := range 60 {
			g.G.CreateReview(testGoogleAccount, "2", gsandbox.NewReview{Reviewer: "Guest", Stars: 1 + i%5, Text: "Visit",
				At: now.Add(-time.Duration(60-i) * time.Hour)})
		}
		replied := g.G.CreateReview(testGoogleAccount, "2", gsandbox.NewReview{Reviewer: "Bea", Stars: 5, Text: "Lovely", At: now.Add(-30 * time.Minute)})
		require.NoError(t, g.G.SetReply(replied.Name, "Thank you, Bea!"))

		// The second page fails once.
		var failed atomic.Bool
		g.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if failed.Load() || !strings.HasSuffix(r.URL.Path, "/reviews") || r.URL.Query().Get("pageToken") == "" {
				return false
			}
			failed.Store(true)
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		})
		g.connect(t)
		require.Eventually(t, func() bool {
			var n int
			_ = g.App.Store.DB.QueryRow(`SELECT count(*) FROM conversations`).Scan(&n)
			return n == 61
		}, 60*time.Second, 50*time.Millisecond, "61 reviews in 90 days, the 100-day-old one left out")
		require.True(t, failed.Load())
		// A periodic pass may have run too, but the backfill's second page
		// was asked for twice with the same token: resumed, not restarted.
		var tokens []string
		for _, r := range g.requests(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/reviews") }) {
			if tok := r.URL.Query().Get("pageToken"); tok != "" {
				tokens = append(tokens, tok)
			}
		}
		require.Len(t, tokens, 2, "page 2 refused, then page 2 again")
		require.Equal(t, tokens[0], tokens[1], "resumed from the cursor")
		g.setIntercept(nil)

		conv := g.reviewConversation(t, replied.Name)
		msgs := messagesOf(conv)
		require.Len(t, msgs, 2)
		require.Equal(t, "OUTBOUND", msgs[1]["direction"])
		require.Equal(t, "Thank you, Bea!", msgs[1]["text"])
		require.Nil(t, msgs[1]["editedAt"], "the reply first seen is not an edit")

		// A later pass: what changed since the backfill began.
		newer := g.review("Cy", 4, "Good")
		g.waitJobs(t)
		before := len(g.requests(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/reviews") }))
		require.NoError(t, g.App.Inbox.SyncAll(context.Background()))
		lists := g.requests(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/reviews") })
		require.Len(t, lists, before+1, "one page: the older reviews stop it")
		g.reviewConversation(t, newer.Name)
		require.Equal(t, 62, g.countRows(t, "conversations"))
	})
}

// sendReply on a review puts the reply at Google; a second one replaces
// it there and the thread shows both, the first marked replaced by the
// second; a reply over 4,096 bytes is refused before queuing; a 429 is
// retried; deleteReviewReply deletes it at Google and marks it.
func TestGoogleReplies(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d)
		rv := g.review("Ann", 5, "Lovely")
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", rv.Name))
		g.waitJobs(t)
		convID := g.reviewConversation(t, rv.Name)["id"]
		reply := func(text string) gqlResponse {
			return g.gqlAs(t, g.Key, `mutation($id: ID!, $text: String!) { sendReply(input: {conversationId: $id, text: $text}) { id } }`,
				map[string]any{"id": convID, "text": text})
		}
		before := g.countRows(t, "messages")
		r := reply(strings.Repeat("é", 2049)) // 2,049 characters, 4,098 bytes
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "4096 bytes")
		require.Equal(t, before, g.countRows(t, "messages"), "nothing stored")

		g.G.FailNext(1, http.StatusTooManyRequests, time.Second)
		require.Empty(t, reply("Thank you, Ann!").Errors)
		require.Eventually(t, func() bool { return len(g.G.Replies()) == 1 }, 60*time.Second, 50*time.Millisecond, "sent after the 429")
		g.waitJobs(t)
		require.Empty(t, reply("Thank you so much, Ann!").Errors)
		require.Eventually(t, func() bool { return len(g.G.Replies()) == 2 }, 60*time.Second, 50*time.Millisecond)
		g.waitJobs(t)
		calls := g.G.Replies()
		require.Equal(t, "PUT", calls[1].Method)
		require.Equal(t, rv.Name, calls[1].Review)
		require.Equal(t, "Thank you so much, Ann!", calls[1].Comment)
		cur, _ := g.G.Review(rv.Name)
		require.Equal(t, "Thank you so much, Ann!", cur.ReviewReply.Comment)

		msgs := messagesOf(g.reviewConversation(t, rv.Name))
		require.Len(t, msgs, 3, "the review and both replies")
		first, second := msgs[1], msgs[2]
		require.Equal(t, "SENT", first["deliveryStatus"])
		require.Equal(t, second["id"], first["replacedByID"])
		require.NotNil(t, first["replacedAt"])
		require.Nil(t, first["externalID"])
		require.Equal(t, rv.Name+"/reply", second["externalID"])
		require.Nil(t, second["replacedAt"])
		// Google reports the reply back: nothing new.
		require.Equal(t, http.StatusOK, g.push(t, "UPDATED_REVIEW", rv.Name))
		require.Len(t, messagesOf(g.reviewConversation(t, rv.Name)), 3)

		del := g.gql(t, `mutation($id: ID!) { deleteReviewReply(conversationId: $id) { id deletedAt externalID } }`, map[string]any{"id": convID})
		require.Equal(t, second["id"], dig(del, "deleteReviewReply", "id"))
		require.NotNil(t, dig(del, "deleteReviewReply", "deletedAt"))
		calls = g.G.Replies()
		require.Equal(t, "DELETE", calls[len(calls)-1].Method)
		cur, _ = g.G.Review(rv.Name)
		require.Nil(t, cur.ReviewReply)
		r = g.gqlAs(t, g.Key, `mutation($id: ID!) { deleteReviewReply(conversationId: $id) { id } }`, map[string]any{"id": convID})
		require.Equal(t, "CONFLICT", r.Code(), "no reply left")
	})
}

// The agent on reviews, with the default policy (DRAFT for all): a 1-star
// review goes to a person (with a draft to start from), a 5-star review
// is drafted; with 5 stars set to AUTO and the channel in AUTO, a 5-star
// review is answered at Google, thanking the reviewer by first name only.
func TestGoogleAgentReviews(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d, withReviewAgent())
		one := g.review("Bob Jones", 1, "Cold coffee, rude staff")
		five := g.review("Ann Smith", 5, "")
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", one.Name))
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", five.Name))
		g.waitJobs(t)

		conv := g.reviewConversation(t, one.Name)
		require.Contains(t, conv["handoffReason"], "1-star review")
		msgs := messagesOf(conv)
		require.Len(t, msgs, 2)
		run := g.agentRun(t, msgs[0]["id"].(string))
		require.Equal(t, "HANDED_OFF", run["decision"])
		require.Equal(t, "DRAFT", msgs[1]["deliveryStatus"])
		require.Contains(t, msgs[1]["text"], "Thank you, Bob,")
		require.NotContains(t, msgs[1]["text"], "Jones")

		conv = g.reviewConversation(t, five.Name)
		require.Empty(t, conv["handoffReason"])
		msgs = messagesOf(conv)
		require.Len(t, msgs, 2)
		require.Equal(t, "DRAFTED", g.agentRun(t, msgs[0]["id"].(string))["decision"])
		require.Equal(t, "DRAFT", msgs[1]["deliveryStatus"])
		require.Equal(t, "Thank you, Ann, for the 5-star rating! We look forward to seeing you again!", msgs[1]["text"])
		require.Empty(t, g.G.Replies(), "nothing is sent in DRAFT")

		// AUTO for 1 star is refused; 5 stars may be.
		r := g.gqlAs(t, g.Key, `mutation { updateAgentSettings(input: {reviewPolicy: {oneStar: AUTO}}) { id } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		set := g.gql(t, `mutation { updateAgentSettings(input: {reviewPolicy: {fiveStars: AUTO}}) {
			reviewPolicy { oneStar twoStars threeStars fourStars fiveStars } } }`, nil)
		require.Equal(t, map[string]any{"oneStar": "DRAFT", "twoStars": "DRAFT", "threeStars": "DRAFT", "fourStars": "DRAFT", "fiveStars": "AUTO"},
			dig(set, "updateAgentSettings", "reviewPolicy"))
		g.gql(t, `mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: AUTO}) { aiMode } }`, map[string]any{"id": g.Channel})
		auto := g.review("Cara Lee", 5, "Best cake in town")
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", auto.Name))
		require.Eventually(t, func() bool { return len(g.G.Replies()) == 1 }, 60*time.Second, 50*time.Millisecond)
		g.waitJobs(t)
		sent := g.G.Replies()[0]
		require.Equal(t, auto.Name, sent.Review)
		require.True(t, strings.HasPrefix(sent.Comment, "Thank you, Cara, for the 5-star review!"), sent.Comment)
		require.NotContains(t, sent.Comment, "Lee")
	})
}

// Connecting validates the token against Google; the refresh job renews
// a token about to expire through the token endpoint, and a refresh Google
// refuses marks the channel NEEDS_RECONNECT.
func TestGoogleTokenRefresh(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d, withoutGoogleChannel())
		r := g.gqlAs(t, g.Key, `mutation { connectChannel(input: {connector: "google", externalId: "accounts/1/locations/2", name: "x",
			credentials: {accessToken: "ya29.forged"}}) { id } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", r.Code(), "Google refuses the token")
		require.Zero(t, g.countRows(t, "channels"))

		g.connect(t)
		ctx := context.Background()
		pctx := tenant.NewContext(ctx, tenant.PlatformViewer("test"))
		expireSoon := func() {
			require.NoError(t, g.App.Store.Ent.Channel.UpdateOneID(pulid.ID(g.Channel)).
				SetTokenExpiresAt(time.Now().Add(5*time.Minute)).Exec(pctx))
		}
		expireSoon()
		res, err := g.App.Channels.RefreshDue(ctx, jobs.RefreshWindow)
		require.NoError(t, err)
		require.Equal(t, 1, res.Refreshed)
		ch, err := g.App.Store.Ent.Channel.Get(pctx, pulid.ID(g.Channel))
		require.NoError(t, err)
		require.True(t, ch.TokenExpiresAt.After(time.Now().Add(50*time.Minute)), "a new hour-long token")
		creds, err := g.App.Channels.Credentials(ch)
		require.NoError(t, err)
		require.NotEqual(t, g.Tokens.AccessToken, creds.AccessToken)
		require.Equal(t, g.Tokens.RefreshToken, creds.RefreshToken)
		// The new token works: a review is fetched with it.
		g.G.ExpireAccessToken(g.Tokens.AccessToken)
		rv := g.review("Ann", 5, "Nice")
		require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", rv.Name))
		g.reviewConversation(t, rv.Name)

		require.True(t, g.G.RevokeRefreshToken(g.Tokens.RefreshToken))
		expireSoon()
		res, err = g.App.Channels.RefreshDue(ctx, jobs.RefreshWindow)
		require.NoError(t, err)
		require.Equal(t, 1, res.Revoked)
		ch, err = g.App.Store.Ent.Channel.Get(pctx, pulid.ID(g.Channel))
		require.NoError(t, err)
		require.Equal(t, entchannel.StatusNeedsReconnect, ch.Status)
		require.Contains(t, ch.LastError, "refresh")
	})
}

// `neksio sandbox` serves the emulator under /google and pushes signed
// notifications to the server; `neksio simulate google` writes a review
// there, which arrives as a conversation.
func TestGoogleSandboxSimulate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		var gs googleSandbox
		g := newGoogleEnv(t, d, withoutGoogleChannel(),
			withGoogleEnviron("NEKSIO_GOOGLE_CLIENT_ID="+sandboxGoogleClientID, "NEKSIO_GOOGLE_CLIENT_SECRET="+sandboxGoogleClientSecret,
				"NEKSIO_GOOGLE_PUBSUB_SERVICE_ACCOUNT="+gsandbox.DefaultServiceAccount),
			withGoogleServe(func(mux *http.ServeMux, neksioURL string) *gsandbox.Server {
				gs = googleSandbox{location: testGoogleLocation, title: "Sandbox Cafe", audience: testGoogleAudience,
					serviceAccount: gsandbox.DefaultServiceAccount}
				require.NoError(t, gs.mount(mux, neksioURL))
				return gs.srv
			}))
		require.Contains(t, gs.settings("http://127.0.0.1:8090"), "NEKSIO_GOOGLE_API_BASE_URL=http://127.0.0.1:8090/google")
		require.Contains(t, gs.connect(), gs.tokens.RefreshToken)
		g.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"connector": "google", "externalId": testGoogleLocation, "name": "Sandbox Cafe",
				"credentials": map[string]any{"accessToken": gs.tokens.AccessToken, "refreshToken": gs.tokens.RefreshToken}}})
		g.waitJobs(t)

		var out bytes.Buffer
		root := rootCmd()
		root.SetOut(&out)
		root.SetArgs([]string{"simulate", "google", "--sandbox-url", g.GURL, "--location", testGoogleLocation,
			"--stars", "2", "--text", "Cold coffee"})
		require.NoError(t, root.ExecuteContext(context.Background()))
		require.Contains(t, out.String(), "pushed: 200")
		name := strings.Fields(out.String())[0]
		conv := g.reviewConversation(t, name)
		require.EqualValues(t, 2, conv["rating"])
		require.Equal(t, "Cold coffee", messagesOf(conv)[0]["text"])
		require.Equal(t, "Alex Rivera", dig(conv, "contact", "name"))

		out.Reset()
		root = rootCmd()
		root.SetOut(&out)
		root.SetArgs([]string{"simulate", "google", "--sandbox-url", g.GURL, "--review", name, "--delete"})
		require.NoError(t, root.ExecuteContext(context.Background()))
		require.NotNil(t, messagesOf(g.reviewConversation(t, name))[0]["deletedAt"])
	})
}
