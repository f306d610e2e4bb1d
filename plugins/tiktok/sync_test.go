package tiktok_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/tiktok"
	"github.com/neksio/neksio/plugins/tiktok/sandbox"
)

// library is a business account with 22 videos (two video pages): the
// newest has 35 comments (two comment pages), the next a hidden comment
// and the business's reply, the oldest three comments of which one is
// deleted; the others have none.
type library struct {
	videos   []string // newest first
	comments map[string]string
	hidden   string
	reply    string
	deleted  string
}

func (b *bundle) library(t *testing.T) *library {
	t.Helper()
	lib := &library{comments: map[string]string{}}
	add := func(c sandbox.Comment) sandbox.Comment {
		t.Helper()
		c, err := b.sb.AddComment(c)
		require.NoError(t, err)
		return c
	}
	var oldestFirst []string
	for i := range 22 {
		id, err := b.sb.AddVideo(business, fmt.Sprintf("video %d", i+1))
		require.NoError(t, err)
		oldestFirst = append(oldestFirst, id)
		b.clock.advance(time.Second)
	}
	for i := len(oldestFirst) - 1; i >= 0; i-- {
		lib.videos = append(lib.videos, oldestFirst[i])
	}
	newest, second, oldest := lib.videos[0], lib.videos[1], lib.videos[21]
	for i := range 35 {
		c := add(sandbox.Comment{VideoID: newest, UserID: fmt.Sprintf("fan-%d", i), Username: fmt.Sprintf("fan%d", i), Text: fmt.Sprintf("love it %d", i)})
		lib.comments[c.ID] = newest
		b.clock.advance(time.Second)
	}
	h := add(sandbox.Comment{VideoID: second, UserID: "troll", Username: "troll", Text: "spam", Hidden: true})
	lib.comments[h.ID], lib.hidden = second, h.ID
	r := add(sandbox.Comment{VideoID: second, ParentID: h.ID, UserID: business, Username: "lisboncoffee", Text: "please stop", Owner: true})
	lib.comments[r.ID], lib.reply = second, r.ID
	for i := range 3 {
		c := add(sandbox.Comment{VideoID: oldest, UserID: "old-fan", Text: fmt.Sprintf("old %d", i)})
		lib.comments[c.ID] = oldest
		if i == 1 {
			require.NoError(t, b.sb.DeleteComment(c.ID))
			delete(lib.comments, c.ID)
			lib.deleted = c.ID
		}
	}
	return lib
}

func (b *bundle) syncReq(cursor string) *sdk.SyncRequest {
	return &sdk.SyncRequest{App: b.app, Credentials: b.creds(), AccountID: business, Cursor: cursor}
}

// pass runs Sync from req's cursor to the end of the pass and returns the
// events, the calls made and the cursors seen.
func (b *bundle) pass(t *testing.T, conn sdk.Connector, req *sdk.SyncRequest) (events []*sdk.Event, calls int) {
	t.Helper()
	for {
		calls++
		require.Less(t, calls, 100, "the pass does not end")
		res, err := conn.Sync(background(t), req)
		require.NoError(t, err)
		require.LessOrEqual(t, len(res.Events), 30)
		events = append(events, res.Events...)
		if !res.More {
			require.Empty(t, res.NextCursor, "a finished pass starts over")
			return events, calls
		}
		require.NotEmpty(t, res.NextCursor)
		next := *req
		next.Cursor = res.NextCursor
		req = &next
	}
}

func ids(events []*sdk.Event) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev.Message.ExternalID)
	}
	return out
}

func TestSyncComments(t *testing.T) {
	t.Parallel()

	t.Run("walks every video and comment, page by page", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		lib := b.library(t)
		events, calls := b.pass(t, b.conn, b.syncReq(""))
		// 2 comment pages for the newest video, then one call per video.
		require.Equal(t, 2+21, calls)
		got := map[string]*sdk.Message{}
		for _, ev := range events {
			require.Equal(t, sdk.EventMessage, ev.Kind)
			require.Equal(t, business, ev.AccountID)
			require.Equal(t, tiktok.Platform, ev.Platform)
			m := ev.Message
			require.NotContains(t, got, m.ExternalID, "listed twice")
			got[m.ExternalID] = m
			require.Equal(t, sdk.ThreadComment, m.ThreadKind)
			require.Equal(t, lib.comments[m.ExternalID], m.ThreadID)
			require.Equal(t, "https://www.tiktok.com/@lisboncoffee/video/"+m.ThreadID, m.ThreadURL)
			require.Equal(t, ev.OccurredAt, m.Timestamp)
		}
		require.Len(t, got, len(lib.comments))
		require.NotContains(t, got, lib.deleted)

		h := got[lib.hidden]
		require.Equal(t, "true", h.Metadata["hidden"])
		require.Equal(t, "HIDDEN", h.Metadata["status"])
		require.Equal(t, sdk.Inbound, h.Direction)
		require.Equal(t, "troll", h.Contact.ExternalID)
		require.Equal(t, "spam", h.Text)
		require.Empty(t, h.ParentID)
		require.Equal(t, "video 21", h.ThreadSubject)

		r := got[lib.reply]
		require.Equal(t, sdk.Outbound, r.Direction, "the business's own comment")
		require.Equal(t, lib.hidden, r.ParentID)
		require.Empty(t, r.Contact.ExternalID)
	})

	t.Run("a stopped pass resumes exactly where it stopped", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		lib := b.library(t)
		whole, _ := b.pass(t, b.conn, b.syncReq(""))

		// Two calls, then a restart of the connector (it keeps nothing)
		// while a new video and comments appear.
		var first []*sdk.Event
		cursor := ""
		for range 2 {
			res, err := b.conn.Sync(background(t), b.syncReq(cursor))
			require.NoError(t, err)
			first = append(first, res.Events...)
			cursor = res.NextCursor
		}
		newVideo, err := b.sb.AddVideo(business, "brand new")
		require.NoError(t, err)
		_, err = b.sb.AddComment(sandbox.Comment{VideoID: newVideo, UserID: "x", Text: "first!"})
		require.NoError(t, err)
		late, err := b.sb.AddComment(sandbox.Comment{VideoID: lib.videos[21], UserID: "late", Text: "late comment"})
		require.NoError(t, err)

		restarted := sdktest.Connect(t, tiktok.New(tiktok.WithHTTPClient(b.srv.Client()), tiktok.WithClock(b.clock.now)))
		rest, _ := b.pass(t, restarted, b.syncReq(cursor))
		require.Equal(t, ids(whole[:35]), ids(first))
		require.Equal(t, ids(whole[35:]), without(ids(rest), late.ID))
		require.Contains(t, ids(rest), late.ID, "a video not yet walked is read as it is now")

		// The next pass starts over and finds the new video.
		again, _ := b.pass(t, b.conn, b.syncReq(""))
		require.Equal(t, newVideo, again[0].Message.ThreadID)
	})

	t.Run("since bounds the pass, less an hour of overlap", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		video, err := b.sb.AddVideo(business, "clip")
		require.NoError(t, err)
		since := b.clock.now()
		var want []string
		for _, age := range []time.Duration{72 * time.Hour, 2 * time.Hour, 59 * time.Minute, time.Minute, -time.Minute} {
			c, err := b.sb.AddComment(sandbox.Comment{VideoID: video, UserID: "u", Text: age.String(), CreateTime: since.Add(-age)})
			require.NoError(t, err)
			if age < time.Hour {
				want = append([]string{c.ID}, want...)
			}
		}
		req := b.syncReq("")
		req.Since = since
		events, _ := b.pass(t, b.conn, req)
		require.Equal(t, want, ids(events))
	})

	t.Run("sync_max_videos bounds the videos walked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		lib := b.library(t)
		b.app.Settings[tiktok.SettingSyncMaxVideos] = "2"
		events, calls := b.pass(t, b.conn, b.syncReq(""))
		require.Equal(t, 3, calls)
		for _, ev := range events {
			require.Contains(t, lib.videos[:2], ev.Message.ThreadID)
		}
		require.Len(t, events, 37)
	})

	t.Run("an account without videos ends at once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := b.conn.Sync(background(t), b.syncReq(""))
		require.NoError(t, err)
		require.False(t, res.More)
		require.Empty(t, res.Events)
		require.Empty(t, res.NextCursor)
	})

	t.Run("a failed page is retried from the same cursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.library(t)
		res, err := b.conn.Sync(background(t), b.syncReq(""))
		require.NoError(t, err)
		b.sb.FailNext(1, sandbox.Failure{API: "business", BusinessCode: 40100, Message: "Too many requests"})
		_, err = b.conn.Sync(background(t), b.syncReq(res.NextCursor))
		sdktest.RequireClass(t, sdk.ClassRetryable, err)
		again, err := b.conn.Sync(background(t), b.syncReq(res.NextCursor))
		require.NoError(t, err)
		require.Len(t, again.Events, 5)
	})

	t.Run("an unreadable cursor is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, cur := range []string{"not base64!", "e30", "eyJ2Ijo5fQ"} { // "{}", {"v":9}
			_, err := b.conn.Sync(background(t), b.syncReq(cur))
			sdktest.RequireClass(t, sdk.ClassPermanent, err)
		}
		require.Zero(t, b.sb.Requests())
	})

	t.Run("a revoked token needs reconnecting", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.Deauthorize(business, 1)
		_, err := b.conn.Sync(background(t), b.syncReq(""))
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	})
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func TestSyncOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lib := b.library(t)
	second := lib.videos[1]

	res, err := b.conn.Sync(background(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds(), AccountID: business,
		Cursor: "kept-as-is", Only: []string{tiktok.CommentItemID(second, lib.reply), tiktok.CommentItemID(lib.videos[21], lib.deleted)}})
	require.NoError(t, err)
	require.False(t, res.More)
	require.Equal(t, "kept-as-is", res.NextCursor, "a notification's fetch leaves the pass alone")
	require.Equal(t, []string{lib.reply}, ids(res.Events), "a deleted comment is not found")
	require.Equal(t, lib.hidden, res.Events[0].Message.ParentID)

	_, err = b.conn.Sync(background(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds(), AccountID: business, Only: []string{"no-separator"}})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

func TestSyncNeedsAnAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.conn.Sync(background(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds()})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}
