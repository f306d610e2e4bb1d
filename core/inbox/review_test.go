package inbox_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/auditlog"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
)

const (
	testLocation = "accounts/1/locations/2"
	testReview   = testLocation + "/reviews/r1"
)

// place is a Google-like connector: review replies are replaced in place
// (every send answers "<review>/reply"), Delete removes them, Sync pages
// are scripted, and its rules cap replies at 20 bytes.
type place struct {
	sdk.UnimplementedConnector
	mu        sync.Mutex
	sent      []*sdk.SendRequest
	deleted   []*sdk.DeleteRequest
	deleteErr error
	syncs     []*sdk.SyncRequest
	pages     []func(*sdk.SyncRequest) (*sdk.SyncResult, error)
}

func (p *place) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "place", Version: "1", Platforms: []string{"google"},
		Capabilities: []sdk.Capability{sdk.CapSync, sdk.CapReviewReply, sdk.CapDelete}}, nil
}

func (p *place) Send(_ context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, req)
	return &sdk.SendResult{ExternalID: req.RecipientID + "/reply", Status: sdk.StatusSent}, nil
}

func (p *place) Delete(_ context.Context, req *sdk.DeleteRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleteErr != nil {
		return p.deleteErr
	}
	p.deleted = append(p.deleted, req)
	return nil
}

func (p *place) Sync(_ context.Context, req *sdk.SyncRequest) (*sdk.SyncResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.syncs = append(p.syncs, req)
	if len(p.pages) == 0 {
		return &sdk.SyncResult{}, nil
	}
	next := p.pages[0]
	p.pages = p.pages[1:]
	return next(req)
}

// rules states the limits of place's platform.
type rules struct{ r sdk.PlatformRules }

func (r rules) PlatformRules(connector, platform string) *sdk.PlatformRules {
	if connector != "place" || platform != "google" {
		return nil
	}
	cp := r.r
	return &cp
}

type reviewEnv struct {
	s      *store.Store
	conn   *place
	in     *inbox.Service
	ch     *ent.Channel
	ws     pulid.ID
	sys    context.Context
	agent  context.Context
	now    time.Time
	edited []pulid.ID
}

func newReviewEnv(t *testing.T, d storetest.Dialect) *reviewEnv {
	t.Helper()
	s := storetest.Open(t, d)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(t, err)
	e := &reviewEnv{s: s, conn: &place{}, now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	channels := &channel.Service{Store: s, Box: box, Gateway: testenv.Gateway(e.conn)}
	e.in = &inbox.Service{Store: s, Gateway: testenv.Gateway(e.conn), Channels: channels,
		Rules: rules{sdk.PlatformRules{Platform: "google", MaxReplyBytes: 20, MaxReplyLength: 15}},
		Now:   func() time.Time { return e.now }}
	e.in.OnEdited = append(e.in.OnEdited, func(_ context.Context, _ *store.Tx, _ *ent.Channel, _ *ent.Conversation, m *ent.Message) error {
		e.edited = append(e.edited, m.ID)
		return nil
	})
	ctx := context.Background()
	ws, err := workspace.Create(ctx, s, "cafe")
	require.NoError(t, err)
	e.ws = ws.ID
	admin := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key_owner", ""))
	e.agent = tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAgent, "key_agent", ""))
	e.sys = tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
	e.ch, err = channels.Connect(admin, channel.ConnectInput{Connector: "place", ExternalID: testLocation,
		Name: "Cafe", Credentials: map[string]any{"accessToken": "t"}})
	require.NoError(t, err)
	return e
}

func reviewEvent(stars int, text string, action sdk.MessageAction, at time.Time) *sdk.Event {
	return &sdk.Event{Kind: sdk.EventMessage, Platform: "google", AccountID: testLocation, Message: &sdk.Message{
		ExternalID: testReview, Action: action, Direction: sdk.Inbound, ThreadKind: sdk.ThreadReview, ThreadID: testReview,
		Contact: sdk.Contact{ExternalID: testReview, Name: "Ann Smith"}, Type: "review", Text: text, Rating: stars, Timestamp: at}}
}

func replyEvent(text string, at time.Time) *sdk.Event {
	return &sdk.Event{Kind: sdk.EventMessage, Platform: "google", AccountID: testLocation, Message: &sdk.Message{
		ExternalID: testReview + "/reply", Action: sdk.ActionEdited, Direction: sdk.Outbound, ThreadKind: sdk.ThreadReview,
		ThreadID: testReview, ReplyToID: testReview, Type: "text", Text: text, Timestamp: at}}
}

func (e *reviewEnv) ingest(t *testing.T, events ...*sdk.Event) inbox.IngestResult {
	t.Helper()
	var res inbox.IngestResult
	require.NoError(t, e.s.InTx(e.sys, func(tx *store.Tx) error {
		var err error
		res, err = e.in.Ingest(e.sys, tx, e.ch, events)
		return err
	}))
	return res
}

func (e *reviewEnv) message(t *testing.T, ext string) *ent.Message {
	t.Helper()
	m, err := e.s.Ent.Message.Query().Where(message.ExternalID(ext)).Only(e.sys)
	require.NoError(t, err)
	return m
}

func (e *reviewEnv) conversation(t *testing.T) *ent.Conversation {
	t.Helper()
	c, err := e.s.Ent.Conversation.Query().Where(conversation.ThreadID(testReview)).Only(e.sys)
	require.NoError(t, err)
	return c
}

// A review is one REVIEW conversation with its stars on the message and
// the conversation; an edit keeps the earlier text and rating and moves
// the conversation's rating (and reopens it); the reply Google reports as
// an edit is stored unmarked the first time, its changes keep history; a
// deleted review is marked and cannot be answered.
func TestReviewIngest(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newReviewEnv(t, d)
		t0 := e.now.Add(-time.Hour)
		res := e.ingest(t, reviewEvent(2, "Cold coffee", sdk.ActionCreated, t0))
		require.Equal(t, 1, res.Created)
		review := e.message(t, testReview)
		require.Equal(t, 2, *review.Rating)
		require.Nil(t, review.EditedAt)
		conv := e.conversation(t)
		require.Equal(t, conversation.KindReview, conv.Kind)
		require.Equal(t, 2, *conv.Rating)
		low, err := e.s.Ent.Conversation.Query().Where(conversation.RatingLTE(2)).Count(e.sys)
		require.NoError(t, err)
		require.Equal(t, 1, low)

		// A repeat changes nothing.
		require.Equal(t, 1, e.ingest(t, reviewEvent(2, "Cold coffee", sdk.ActionCreated, t0)).Duplicates)

		_, err = e.in.UpdateConversation(e.agent, conv.ID, inbox.ConversationUpdate{Status: ptr(conversation.StatusResolved)})
		require.NoError(t, err)
		// The reviewer changes only the stars: an edit all the same.
		t1 := t0.Add(10 * time.Minute)
		require.Equal(t, 1, e.ingest(t, reviewEvent(4, "Cold coffee", sdk.ActionEdited, t1)).Updated)
		review = e.message(t, testReview)
		require.Equal(t, 4, *review.Rating)
		require.True(t, review.EditedAt.Equal(t1))
		require.Equal(t, "Cold coffee", review.Metadata["previous_text_1"])
		require.Equal(t, "2", review.Metadata["previous_rating_1"])
		conv = e.conversation(t)
		require.Equal(t, 4, *conv.Rating)
		require.Equal(t, conversation.StatusOpen, conv.Status, "an edited review reopens its conversation")
		require.Equal(t, []pulid.ID{review.ID}, e.edited, "the edit hooks ran (sentiment scores the new version)")
		// Then the text.
		require.Equal(t, 1, e.ingest(t, reviewEvent(4, "Warm now, thanks", sdk.ActionEdited, t1.Add(time.Minute))).Updated)
		review = e.message(t, testReview)
		require.Equal(t, "Warm now, thanks", review.Text)
		require.Equal(t, "Cold coffee", review.Metadata["previous_text_2"])
		require.Equal(t, "4", review.Metadata["previous_rating_2"])
		require.Equal(t, "2", review.Metadata["edit_count"])
		// The same edit again is a repeat.
		require.Equal(t, 1, e.ingest(t, reviewEvent(4, "Warm now, thanks", sdk.ActionEdited, t1.Add(time.Minute))).Duplicates)

		// The reply Google reports (always as an edit) is new the first time.
		require.Equal(t, 1, e.ingest(t, replyEvent("Thank you!", t1)).Created)
		reply := e.message(t, testReview+"/reply")
		require.Equal(t, message.DirectionOutbound, reply.Direction)
		require.Nil(t, reply.EditedAt, "the first version seen is not an edit")
		require.Equal(t, 1, e.ingest(t, replyEvent("Thank you!", t1)).Duplicates)
		require.Equal(t, 1, e.ingest(t, replyEvent("Thank you, Ann!", t1.Add(time.Minute))).Updated)
		reply = e.message(t, testReview+"/reply")
		require.Equal(t, "Thank you, Ann!", reply.Text)
		require.NotNil(t, reply.EditedAt)
		require.Equal(t, "Thank you!", reply.Metadata["previous_text_1"])

		// A review deleted before it was ever seen is not stored.
		gone := reviewEvent(0, "", sdk.ActionDeleted, t1)
		gone.Message.ExternalID, gone.Message.ThreadID = testLocation+"/reviews/r9", testLocation+"/reviews/r9"
		require.Equal(t, 1, e.ingest(t, gone).Ignored)
		n, err := e.s.Ent.Conversation.Query().Count(e.sys)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		// A deleted review is marked, and its reply refused before queuing.
		require.Equal(t, 1, e.ingest(t, reviewEvent(0, "", sdk.ActionDeleted, e.now)).Updated)
		review = e.message(t, testReview)
		require.NotNil(t, review.DeletedAt)
		require.Equal(t, "Warm now, thanks", review.Text, "a deletion keeps the text")
		before := countMessages(t, e)
		_, err = e.in.SendReply(e.agent, inbox.Reply{ConversationID: conv.ID, Text: "Sorry!"})
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err))
		require.Contains(t, err.Error(), "review was deleted")
		require.Equal(t, before, countMessages(t, e), "nothing stored")
		require.Zero(t, storetest.CountJobs(t, e.s.DB, "outbound.deliver"))
	})
}

// Replies longer than the platform's stated limits are refused before
// anything is queued, in characters and in UTF-8 bytes.
func TestReplyPlatformLimits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newReviewEnv(t, d)
		e.ingest(t, reviewEvent(5, "Lovely", sdk.ActionCreated, e.now))
		conv := e.conversation(t)
		send := func(text string) error {
			_, err := e.in.SendReply(e.agent, inbox.Reply{ConversationID: conv.ID, Text: text})
			return err
		}
		err := send(strings.Repeat("a", 16)) // 16 characters > 15
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))
		require.Contains(t, err.Error(), "at most 15 characters")
		err = send(strings.Repeat("é", 11)) // 11 characters, 22 bytes > 20
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))
		require.Contains(t, err.Error(), "at most 20 bytes")
		require.Equal(t, 1, countMessages(t, e), "nothing stored")
		require.Zero(t, storetest.CountJobs(t, e.s.DB, "outbound.deliver"))
		require.NoError(t, send(strings.Repeat("é", 10)))
	})
}

// A second reply replaces the first at the platform: both stay in the
// thread, the first marked replaced by the second, which now holds the
// platform's id; a sync reporting the current reply is a repeat. Deleting
// the reply deletes it at the platform and marks it, audited; with no
// reply, a reply in flight, or outside a review, it is refused.
func TestReviewReplyReplaceAndDelete(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newReviewEnv(t, d)
		e.ingest(t, reviewEvent(5, "Lovely", sdk.ActionCreated, e.now))
		conv := e.conversation(t)

		_, err := e.in.DeleteReviewReply(e.agent, conv.ID)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err))
		require.Contains(t, err.Error(), "no reply")

		send := func(text string) *ent.Message {
			m, err := e.in.SendReply(e.agent, inbox.Reply{ConversationID: conv.ID, Text: text})
			require.NoError(t, err)
			return m
		}
		first := send("Thanks!")
		_, err = e.in.DeleteReviewReply(e.agent, conv.ID)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err), "a reply still being sent")
		require.NoError(t, e.in.Deliver(e.sys, string(first.ID)))
		e.now = e.now.Add(time.Minute)
		second := send("Thanks, Ann!")
		require.NoError(t, e.in.Deliver(e.sys, string(second.ID)))
		require.Len(t, e.conn.sent, 2)
		require.Equal(t, sdk.SendReviewReply, e.conn.sent[1].Kind)
		require.Equal(t, testReview, e.conn.sent[1].RecipientID)

		msgs, err := e.s.Ent.Message.Query().Where(message.ConversationID(conv.ID), message.DirectionEQ(message.DirectionOutbound)).
			Order(ent.Asc(message.FieldSentAt)).All(e.sys)
		require.NoError(t, err)
		require.Len(t, msgs, 2, "the thread shows both replies")
		require.Nil(t, msgs[0].ExternalID)
		require.Equal(t, second.ID, *msgs[0].ReplacedByID)
		require.NotNil(t, msgs[0].ReplacedAt)
		require.Equal(t, message.DeliveryStatusSent, msgs[0].DeliveryStatus)
		require.Equal(t, testReview+"/reply", *msgs[1].ExternalID)
		require.Nil(t, msgs[1].ReplacedAt)
		require.Equal(t, 1, e.ingest(t, replyEvent("Thanks, Ann!", e.now)).Duplicates, "the platform's copy of the current reply")

		deleted, err := e.in.DeleteReviewReply(e.agent, conv.ID)
		require.NoError(t, err)
		require.Equal(t, second.ID, deleted.ID)
		require.NotNil(t, deleted.DeletedAt)
		require.Nil(t, deleted.ExternalID)
		require.Len(t, e.conn.deleted, 1)
		require.Equal(t, sdk.SendReviewReply, e.conn.deleted[0].Kind)
		require.Equal(t, testReview+"/reply", e.conn.deleted[0].ExternalID)
		n, err := e.s.Ent.AuditLog.Query().Where(auditlog.Action("message.reply.delete")).Count(e.sys)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = e.in.DeleteReviewReply(e.agent, conv.ID)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err), "nothing left to delete")

		// A refused token: the channel needs reconnecting, nothing marked.
		third := send("Hello again")
		require.NoError(t, e.in.Deliver(e.sys, string(third.ID)))
		e.conn.deleteErr = &sdk.Error{Class: sdk.ClassAuthRevoked, Message: "token revoked"}
		_, err = e.in.DeleteReviewReply(e.agent, conv.ID)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err))
		require.Nil(t, e.message(t, testReview+"/reply").DeletedAt)
		ch, err := e.s.Ent.Channel.Get(e.sys, e.ch.ID)
		require.NoError(t, err)
		require.Equal(t, entchannel.StatusNeedsReconnect, ch.Status)

		// Only reviews have a reply to delete.
		dm, err := e.s.Ent.Conversation.Create().SetWorkspaceID(e.ws).SetChannelID(e.ch.ID).
			SetKind(conversation.KindDirectMessage).SetThreadID("someone").Save(e.sys)
		require.NoError(t, err)
		_, err = e.in.DeleteReviewReply(e.agent, dm.ID)
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))
	})
}

// The first pass of a channel reads the last 90 days; a pass that spans
// several runs resumes from its cursor and, once complete, records when
// it began, which bounds the next pass. A cursor the platform no longer
// reads is dropped so the next pass starts over.
func TestSyncBackfillAndResume(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newReviewEnv(t, d)
		t0 := e.now
		page := func(text, next string, more bool) func(*sdk.SyncRequest) (*sdk.SyncResult, error) {
			return func(*sdk.SyncRequest) (*sdk.SyncResult, error) {
				ev := reviewEvent(5, text, sdk.ActionCreated, t0)
				ev.Message.ExternalID, ev.Message.ThreadID = testLocation+"/reviews/"+text, testLocation+"/reviews/"+text
				return &sdk.SyncResult{Events: []*sdk.Event{ev}, NextCursor: next, More: more}, nil
			}
		}
		e.conn.pages = append(e.conn.pages, page("a", "c1", true),
			func(*sdk.SyncRequest) (*sdk.SyncResult, error) {
				return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: "429"}
			})
		_, err := e.in.SyncChannel(e.sys, e.ch)
		require.Equal(t, sdk.ClassRetryable, sdk.ClassOf(err))
		require.True(t, e.conn.syncs[0].Since.Equal(t0.Add(-inbox.BackfillWindow)), "the backfill reads 90 days")
		require.Empty(t, e.conn.syncs[0].Cursor)
		ch, err := e.s.Ent.Channel.Get(e.sys, e.ch.ID)
		require.NoError(t, err)
		require.Equal(t, "c1", ch.SyncCursor)
		require.Nil(t, ch.SyncedAt, "the pass is not complete")

		// Resumed later: same pass, same bound; done, it records its start.
		e.now = t0.Add(5 * time.Minute)
		e.conn.pages = append(e.conn.pages, page("b", "", false))
		res, err := e.in.SyncChannel(e.sys, ch)
		require.NoError(t, err)
		require.Equal(t, 1, res.Created)
		last := e.conn.syncs[len(e.conn.syncs)-1]
		require.Equal(t, "c1", last.Cursor)
		require.True(t, last.Since.Equal(t0.Add(-inbox.BackfillWindow)))
		ch, err = e.s.Ent.Channel.Get(e.sys, e.ch.ID)
		require.NoError(t, err)
		require.Empty(t, ch.SyncCursor)
		require.True(t, ch.SyncedAt.Equal(t0), "the pass began at t0, not when its last page ran")
		require.Nil(t, ch.SyncStartedAt)

		// The next pass reads what changed since t0.
		e.now = t0.Add(20 * time.Minute)
		e.conn.pages = append(e.conn.pages, page("c", "c2", true), func(*sdk.SyncRequest) (*sdk.SyncResult, error) {
			return nil, &sdk.Error{Class: sdk.ClassPermanent, Message: "unreadable sync cursor"}
		})
		_, err = e.in.SyncChannel(e.sys, ch)
		require.Equal(t, sdk.ClassPermanent, sdk.ClassOf(err))
		require.True(t, e.conn.syncs[len(e.conn.syncs)-2].Since.Equal(t0))
		ch, err = e.s.Ent.Channel.Get(e.sys, e.ch.ID)
		require.NoError(t, err)
		require.Empty(t, ch.SyncCursor, "a cursor the platform refuses is dropped")
		require.True(t, ch.SyncedAt.Equal(t0))
		n, err := e.s.Ent.Conversation.Query().Count(e.sys)
		require.NoError(t, err)
		require.Equal(t, 3, n)
	})
}

func countMessages(t *testing.T, e *reviewEnv) int {
	t.Helper()
	n, err := e.s.Ent.Message.Query().Count(e.sys)
	require.NoError(t, err)
	return n
}

func ptr[T any](v T) *T { return &v }

// The periodic sync queues one pass per channel, and none for a channel
// whose pass is still queued or running (its backfill, here).
func TestQueueSyncs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newReviewEnv(t, d)
		require.Equal(t, 1, storetest.CountJobs(t, e.s.DB, "channel.sync_channel"), "connecting queues the backfill")
		require.NoError(t, e.in.QueueSyncs(context.Background()))
		require.Equal(t, 1, storetest.CountJobs(t, e.s.DB, "channel.sync_channel"), "the backfill is still queued")
		_, err := e.s.DB.Exec(`UPDATE river_job SET state = 'completed', finalized_at = CURRENT_TIMESTAMP WHERE kind = 'channel.sync_channel'`)
		require.NoError(t, err)
		require.NoError(t, e.in.QueueSyncs(context.Background()))
		require.Equal(t, 2, storetest.CountJobs(t, e.s.DB, "channel.sync_channel"))
	})
}

// A notification that names no item asks for a sync pass of its channel,
// queued once however many come.
func TestNotifyWithoutItem(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newReviewEnv(t, d)
		_, err := e.s.DB.Exec(`UPDATE river_job SET state = 'completed', finalized_at = CURRENT_TIMESTAMP WHERE kind = 'channel.sync_channel'`)
		require.NoError(t, err)
		n := &sdk.Event{Kind: sdk.EventNotify, Platform: "google", AccountID: testLocation,
			Notify: &sdk.Notification{Type: "NEW_REVIEW", ThreadKind: sdk.ThreadReview}}
		e.ingest(t, n, n)
		e.ingest(t, n)
		require.Equal(t, 2, storetest.CountJobs(t, e.s.DB, "channel.sync_channel"), "the backfill's and one more")
	})
}

// down is a connector that cannot describe itself (it is restarting).
type down struct{ sdk.UnimplementedConnector }

func (down) Describe(context.Context) (*sdk.Description, error) {
	return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: "restarting"}
}

// A channel's pass (its backfill) is not lost while its connector is
// restarting: the job fails retryable and runs again.
func TestSyncOneConnectorDown(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newReviewEnv(t, d)
		e.in.Gateway = testenv.Gateway(down{})
		err := e.in.SyncOne(e.sys, string(e.ch.ID))
		require.Equal(t, sdk.ClassRetryable, sdk.ClassOf(err))
		e.in.Gateway = testenv.Gateway(e.conn)
		require.NoError(t, e.in.SyncOne(e.sys, string(e.ch.ID)))
		require.Len(t, e.conn.syncs, 1)
	})
}
