package google

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Reviews come 50 to a page, the API's maximum, newest change first.
const (
	reviewsPageSize = 50
	reviewsOrder    = "updateTime desc"
	// maxOnly bounds the reviews one Sync{Only} reads.
	maxOnly = 50
	// AnonymousName names reviewers Google keeps anonymous.
	AnonymousName = "Anonymous"
	// ReplySuffix ends the ExternalID of a review's reply.
	ReplySuffix = "/reply"
)

// review is a Business Profile review as the v4 API answers it.
type review struct {
	Name     string `json:"name"`
	ReviewID string `json:"reviewId"`
	Reviewer struct {
		DisplayName     string `json:"displayName"`
		ProfilePhotoURL string `json:"profilePhotoUrl"`
		IsAnonymous     bool   `json:"isAnonymous"`
	} `json:"reviewer"`
	StarRating  json.RawMessage `json:"starRating"`
	Comment     string          `json:"comment"`
	CreateTime  string          `json:"createTime"`
	UpdateTime  string          `json:"updateTime"`
	ReviewReply *struct {
		Comment    string `json:"comment"`
		UpdateTime string `json:"updateTime"`
	} `json:"reviewReply"`
}

type reviewsPage struct {
	Reviews          []review `json:"reviews"`
	AverageRating    float64  `json:"averageRating"`
	TotalReviewCount int      `json:"totalReviewCount"`
	NextPageToken    string   `json:"nextPageToken"`
}

var starRatings = map[string]int{"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}

// stars reads starRating: the enum (ONE … FIVE), or a number for
// tolerance; STAR_RATING_UNSPECIFIED and anything else is 0.
func stars(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if n, ok := starRatings[strings.ToUpper(strings.TrimSpace(s))]; ok {
			return n
		}
		raw = json.RawMessage(s)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && n >= 1 && n <= 5 {
		return n
	}
	return 0
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// reviewEvents turns one review into the inbox's events: the review
// itself (inbound) and, when it has one, the business's reply
// (outbound).
func reviewEvents(account string, r *review) []*sdk.Event {
	created, updated := parseTime(r.CreateTime), parseTime(r.UpdateTime)
	ts := cmp.Or(updated, created)
	action := sdk.ActionCreated
	// Stateless, the connector cannot compare with what it saw before; a
	// review changed after it was written is an edit, and the host keeps
	// the previous text when it differs.
	if !created.IsZero() && !updated.IsZero() && !updated.Equal(created) {
		action = sdk.ActionEdited
	}
	contact := sdk.Contact{ExternalID: r.Name, Name: r.Reviewer.DisplayName, AvatarURL: r.Reviewer.ProfilePhotoURL}
	if r.Reviewer.IsAnonymous || contact.Name == "" {
		contact.Name, contact.AvatarURL = AnonymousName, ""
	}
	meta := map[string]string{"review_id": r.ReviewID}
	if created.IsZero() {
		meta["create_time"] = r.CreateTime
	} else {
		meta["create_time"] = created.Format(time.RFC3339Nano)
	}
	var rating string
	if json.Unmarshal(r.StarRating, &rating) == nil && rating != "" {
		meta["star_rating"] = rating
	}
	if r.Reviewer.IsAnonymous {
		meta["anonymous"] = "true"
	}
	n := stars(r.StarRating)
	if r.Comment == "" {
		meta["rating_only"] = "true"
	}
	events := []*sdk.Event{{
		Kind: sdk.EventMessage, Platform: Platform, AccountID: account, OccurredAt: ts,
		Message: &sdk.Message{
			ExternalID: r.Name, Action: action, Direction: sdk.Inbound,
			ThreadKind: sdk.ThreadReview, ThreadID: r.Name,
			Contact: contact, Type: "review", Text: r.Comment, Rating: n, Timestamp: ts, Metadata: meta,
		},
	}}
	if rep := r.ReviewReply; rep != nil && rep.Comment != "" {
		rts := cmp.Or(parseTime(rep.UpdateTime), ts)
		// One reply per review, replaced in place: always an edit, so the
		// host records a new text and keeps the old one.
		events = append(events, &sdk.Event{
			Kind: sdk.EventMessage, Platform: Platform, AccountID: account, OccurredAt: rts,
			Message: &sdk.Message{
				ExternalID: r.Name + ReplySuffix, Action: sdk.ActionEdited, Direction: sdk.Outbound,
				ThreadKind: sdk.ThreadReview, ThreadID: r.Name, ReplyToID: r.Name,
				Type: "text", Text: rep.Comment, Timestamp: rts,
			},
		})
	}
	return events
}

// deletedEvent marks a review Google no longer has.
func deletedEvent(account, name string, at time.Time) *sdk.Event {
	return &sdk.Event{
		Kind: sdk.EventMessage, Platform: Platform, AccountID: account, OccurredAt: at,
		Message: &sdk.Message{
			ExternalID: name, Action: sdk.ActionDeleted, Direction: sdk.Inbound,
			ThreadKind: sdk.ThreadReview, ThreadID: name, Type: "review", Timestamp: at,
		},
	}
}

// syncCursor is what Sync needs to resume: Google's page token and the
// bound of the pass it belongs to.
type syncCursor struct {
	Page  string `json:"p"`
	Since int64  `json:"s,omitempty"` // unix nanoseconds
}

func encodeCursor(c syncCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (syncCursor, error) {
	var c syncCursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Page == "" {
		return c, sdk.NewError(sdk.ClassPermanent, "", "unreadable sync cursor: start over with an empty one")
	}
	return c, nil
}

// Sync reads reviews. With Only, it reads exactly those reviews
// (reviews.get; a review Google no longer has comes back deleted).
// Otherwise it reads one page of the location's reviews, newest change
// first, and stops at the first review older than Since: the periodic
// poll passes the time of its last complete pass, the backfill on
// connection 90 days ago.
func (c *connector) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResult, error) {
	loc, err := parseLocation(req.AccountID)
	if err != nil {
		return nil, err
	}
	account := loc.String()
	if len(req.Only) > 0 {
		return c.syncOnly(ctx, req, account)
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return nil, err
	}
	since := req.Since
	if since.IsZero() && cur.Since != 0 {
		since = time.Unix(0, cur.Since).UTC()
	}
	q := url.Values{"pageSize": {strconv.Itoa(reviewsPageSize)}, "orderBy": {reviewsOrder}}
	if cur.Page != "" {
		q.Set("pageToken", cur.Page)
	}
	var page reviewsPage
	if err := c.call(ctx, req.App, req.Credentials, "list reviews", http.MethodGet,
		endpointsFor(req.App).v4+"/"+account+"/reviews?"+q.Encode(), nil, &page); err != nil {
		return nil, err
	}
	res := &sdk.SyncResult{Events: []*sdk.Event{}}
	more := page.NextPageToken != ""
	for i := range page.Reviews {
		r := &page.Reviews[i]
		if _, err := parseReview(r.Name, account); err != nil {
			continue // not a review of this location: nothing to route it to
		}
		if t := cmp.Or(parseTime(r.UpdateTime), parseTime(r.CreateTime)); !since.IsZero() && !t.IsZero() && t.Before(since) {
			more = false // newest first: everything after is older still
			break
		}
		res.Events = append(res.Events, reviewEvents(account, r)...)
	}
	if more {
		next := syncCursor{Page: page.NextPageToken}
		if !since.IsZero() {
			next.Since = since.UnixNano()
		}
		res.NextCursor, res.More = encodeCursor(next), true
	}
	return res, nil
}

func (c *connector) syncOnly(ctx context.Context, req *sdk.SyncRequest, account string) (*sdk.SyncResult, error) {
	if len(req.Only) > maxOnly {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "Sync{Only} takes at most %d reviews, got %d", maxOnly, len(req.Only))
	}
	res := &sdk.SyncResult{Events: []*sdk.Event{}}
	v4 := endpointsFor(req.App).v4
	for _, item := range req.Only {
		name, err := parseReview(item, account)
		if err != nil {
			return nil, err
		}
		var r review
		err = c.call(ctx, req.App, req.Credentials, "get review", http.MethodGet, v4+"/"+name, nil, &r)
		switch {
		case isNotFound(err):
			res.Events = append(res.Events, deletedEvent(account, name, c.now().UTC()))
		case err != nil:
			return nil, err
		case r.Name != name:
			return nil, sdk.NewError(sdk.ClassPermanent, "", "get review %s: Google answered review %q", name, r.Name)
		default:
			res.Events = append(res.Events, reviewEvents(account, &r)...)
		}
	}
	return res, nil
}
