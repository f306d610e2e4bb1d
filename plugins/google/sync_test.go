package google_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

// seed writes n reviews, one an hour, the newest an hour ago; it returns
// their names, newest first.
func seed(b *bundle, n int) []string {
	names := make([]string, n)
	for i := range n {
		r := b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: fmt.Sprintf("Guest %d", i), Stars: 1 + i%5,
			Text: fmt.Sprintf("review %d", i), At: b.now.Add(-time.Duration(n-i) * time.Hour)})
		names[n-1-i] = r.Name
	}
	return names
}

func TestSyncPagesNewestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	names := seed(b, 120)
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 5)
		res := b.sync(t, &sdk.SyncRequest{Cursor: cursor})
		for _, m := range messages(res) {
			got = append(got, m.ExternalID)
		}
		if !res.More {
			require.Empty(t, res.NextCursor, "a finished pass leaves no cursor")
			require.Equal(t, 2, page, "120 reviews are three pages of 50")
			break
		}
		require.NotEmpty(t, res.NextCursor)
		cursor = res.NextCursor
	}
	require.Equal(t, names, got)
}

func TestSyncReviewShape(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: "Ann", PhotoURL: "https://lh3.example.com/ann.jpg",
		Stars: 4, Text: "Great coffee", At: b.now.Add(-time.Hour)})
	res := b.sync(t, &sdk.SyncRequest{})
	require.Len(t, res.Events, 1)
	ev := res.Events[0]
	require.Equal(t, sdk.EventMessage, ev.Kind)
	require.Equal(t, google.Platform, ev.Platform)
	require.Equal(t, location, ev.AccountID)
	m := ev.Message
	require.Equal(t, r.Name, m.ExternalID)
	require.Equal(t, sdk.ActionCreated, m.Action)
	require.Equal(t, sdk.Inbound, m.Direction)
	require.Equal(t, sdk.ThreadReview, m.ThreadKind)
	require.Equal(t, r.Name, m.ThreadID)
	require.Equal(t, sdk.Contact{ExternalID: r.Name, Name: "Ann", AvatarURL: "https://lh3.example.com/ann.jpg"}, m.Contact)
	require.Equal(t, "review", m.Type)
	require.Equal(t, "Great coffee", m.Text)
	require.Equal(t, 4, m.Rating)
	require.True(t, m.Timestamp.Equal(b.now.Add(-time.Hour)))
	require.Equal(t, "FOUR", m.Metadata["star_rating"])
	require.Equal(t, r.ReviewID, m.Metadata["review_id"])
}

func TestSyncAnonymousAndRatingOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Anonymous: true, Stars: 2})
	m := messages(b.sync(t, &sdk.SyncRequest{}))[0]
	require.Equal(t, google.AnonymousName, m.Contact.Name)
	require.Empty(t, m.Contact.AvatarURL)
	require.NotEmpty(t, m.Contact.ExternalID, "anonymous reviewers are contacts too")
	require.Empty(t, m.Text, "a rating alone")
	require.Equal(t, 2, m.Rating)
	require.Equal(t, "true", m.Metadata["rating_only"])
	require.Equal(t, "true", m.Metadata["anonymous"])
}

func TestSyncStopsAtSince(t *testing.T) {
	t.Parallel()
	b := setup(t)
	names := seed(b, 80) // hourly: 80 hours back
	since := b.now.Add(-30*time.Hour - time.Minute)
	res := b.sync(t, &sdk.SyncRequest{Since: since})
	require.False(t, res.More, "older reviews end the pass, though Google has more pages")
	require.Empty(t, res.NextCursor)
	got := messages(res)
	require.Len(t, got, 30)
	var ids []string
	for _, m := range got {
		ids = append(ids, m.ExternalID)
	}
	require.Equal(t, names[:30], ids)
}

func TestSyncCursorResumesTheSamePass(t *testing.T) {
	t.Parallel()
	b := setup(t)
	names := seed(b, 80)
	since := b.now.Add(-70*time.Hour - time.Minute)
	first := b.sync(t, &sdk.SyncRequest{Since: since})
	require.True(t, first.More)
	require.Len(t, first.Events, 50)

	// A new review arrives between pages: it sorts first and pushes the
	// others down, so the next page repeats one (a duplicate the host
	// ignores) and misses none.
	b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: "Late", Stars: 5, Text: "late", At: b.now})

	// The cursor carries the pass's bound: resuming without Since still
	// stops at it.
	second := b.sync(t, &sdk.SyncRequest{Cursor: first.NextCursor})
	require.False(t, second.More)
	got := messages(second)
	require.Equal(t, names[49], got[0].ExternalID, "the shifted review comes again")
	require.Equal(t, names[69], got[len(got)-1].ExternalID)
	require.Len(t, got, 21)
}

func TestSyncRefusesABadCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: location, Cursor: "%%%"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	_, err = b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: "locations/2"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

func TestSyncEditedReviewAndReply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: "Bo", Stars: 2, Text: "Cold coffee", At: b.now.Add(-2 * time.Hour)})
	require.NoError(t, b.sb.SetReply(r.Name, "Sorry! Come back for a hot one."))
	_, err := b.sb.EditReview(r.Name, 4, "Cold coffee, but they made it right", b.now.Add(-time.Hour))
	require.NoError(t, err)

	got := messages(b.sync(t, &sdk.SyncRequest{}))
	require.Len(t, got, 2)
	review, reply := got[0], got[1]
	require.Equal(t, sdk.ActionEdited, review.Action, "updated after it was written")
	require.Equal(t, "Cold coffee, but they made it right", review.Text)
	require.Equal(t, 4, review.Rating)
	require.True(t, review.Timestamp.Equal(b.now.Add(-time.Hour)))

	require.Equal(t, r.Name+"/reply", reply.ExternalID)
	require.Equal(t, sdk.Outbound, reply.Direction)
	require.Equal(t, sdk.ActionEdited, reply.Action)
	require.Equal(t, sdk.ThreadReview, reply.ThreadKind)
	require.Equal(t, r.Name, reply.ThreadID)
	require.Equal(t, "Sorry! Come back for a hot one.", reply.Text)
}

func TestSyncOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kept := b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: "Cy", Stars: 5, Text: "Lovely"})
	gone := b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: "Di", Stars: 1, Text: "Awful"})
	b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: "Ed", Stars: 3, Text: "Not asked for"})
	require.NoError(t, b.sb.SetReply(kept.Name, "Thank you!"))
	require.NoError(t, b.sb.DeleteReview(gone.Name))

	res := b.sync(t, &sdk.SyncRequest{Only: []string{kept.Name, gone.Name}})
	require.False(t, res.More)
	got := messages(res)
	require.Len(t, got, 3)
	require.Equal(t, kept.Name, got[0].ExternalID)
	require.Equal(t, "Lovely", got[0].Text)
	require.Equal(t, kept.Name+"/reply", got[1].ExternalID)
	require.Equal(t, gone.Name, got[2].ExternalID)
	require.Equal(t, sdk.ActionDeleted, got[2].Action, "a review Google no longer has")
	require.Equal(t, gone.Name, got[2].ThreadID)

	for _, only := range [][]string{{"accounts/1/locations/9/reviews/r1"}, {"not a review"}, make([]string, 51)} {
		_, err := b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: location, Only: only})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	}
}

func TestSyncRefreshesAnExpiredTokenForTheCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: "Fe", Stars: 5, Text: "Yum"})
	b.sb.ExpireAccessToken(b.creds.AccessToken)
	b.creds.ExpiresAt = b.now.Add(-time.Minute)
	require.Len(t, b.sync(t, &sdk.SyncRequest{}).Events, 1)

	// Without a refresh token the stale token goes, and Google refuses it.
	b.creds.RefreshToken = ""
	_, err := b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: location})
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
}

func TestSyncRevokedGrant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.True(t, b.sb.RevokeRefreshToken(b.creds.RefreshToken))
	_, err := b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: location})
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
}
