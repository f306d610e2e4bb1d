package tiktok

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
	"unicode/utf8"

	"github.com/neksio/neksio/plugins/sdk"
)

const (
	videoListPath   = "business/video/list/"
	commentListPath = "business/comment/list/"

	videoPageSize   = 20
	commentPageSize = 30

	// sinceOverlap re-reads comments a little older than Since: a comment
	// stamped just before the previous pass ended may have been listed
	// only after it. Repeats are no-ops for the host.
	sinceOverlap = time.Hour
	// maxSubject bounds the post caption kept as a thread subject (and
	// carried in the cursor).
	maxSubject = 100
)

// syncCursor is where a comment sync pass stands: the videos of the
// current page still to walk (the head being walked), the comment cursor
// within the head, and the video list cursor of the next page. Keeping
// the remaining videos themselves, not an offset, makes a resumed pass
// continue exactly even if videos were posted meanwhile.
type syncCursor struct {
	V     int         `json:"v"`
	Next  string      `json:"vc,omitempty"` // video list cursor of the next page
	Done  bool        `json:"vd,omitempty"` // no video page left
	Queue []syncVideo `json:"q,omitempty"`
	Page  string      `json:"cc,omitempty"` // comment cursor within Queue[0]
	Seen  int         `json:"n,omitempty"`  // videos taken into this pass
}

type syncVideo struct {
	ID      string `json:"id"`
	URL     string `json:"u,omitempty"`
	Subject string `json:"s,omitempty"`
}

const cursorVersion = 1

func decodeCursor(s string) (*syncCursor, error) {
	if s == "" {
		return &syncCursor{V: cursorVersion}, nil
	}
	cur := &syncCursor{}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(raw, cur)
	}
	if err != nil || cur.V != cursorVersion {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "unreadable sync cursor: start the sync over with an empty cursor")
	}
	return cur, nil
}

func (s *syncCursor) encode() string {
	b, _ := json.Marshal(s) // plain strings, ints and bools only
	return base64.RawURLEncoding.EncodeToString(b)
}

type video struct {
	ItemID     flexString `json:"item_id"`
	ID         flexString `json:"id"`
	CreateTime flexInt    `json:"create_time"`
	Caption    string     `json:"caption"`
	ShareURL   string     `json:"share_url"`
	EmbedURL   string     `json:"embed_url"`
}

type videoPage struct {
	Videos  []video    `json:"videos"`
	Cursor  flexString `json:"cursor"`
	HasMore bool       `json:"has_more"`
}

type comment struct {
	CommentID        flexString `json:"comment_id"`
	VideoID          flexString `json:"video_id"`
	ParentCommentID  flexString `json:"parent_comment_id"`
	UserID           flexString `json:"user_id"`
	UniqueIdentifier string     `json:"unique_identifier"`
	Username         string     `json:"username"`
	DisplayName      string     `json:"display_name"`
	ProfileImage     string     `json:"profile_image"`
	Text             string     `json:"text"`
	CreateTime       flexInt    `json:"create_time"`
	Likes            flexInt    `json:"likes"`
	Replies          flexInt    `json:"replies"`
	Owner            bool       `json:"owner"`
	IsOwner          bool       `json:"is_owner"`
	Pinned           bool       `json:"pinned"`
	Liked            bool       `json:"liked"`
	Status           string     `json:"status"`
	// Some sources nest a comment's replies under it.
	ReplyList []comment `json:"reply_list"`
}

type commentPage struct {
	Comments []comment  `json:"comments"`
	Cursor   flexString `json:"cursor"`
	HasMore  bool       `json:"has_more"`
}

// Sync pulls the comments under the business's videos, one page per
// call: it walks the most recent videos (newest first, up to the
// sync_max_videos setting) and, for each, its comments and replies newest
// first, down to Since (less an overlap) when Since is set. The cursor
// resumes exactly where the previous call stopped; an empty NextCursor
// with More false ends the pass, and the next pass starts over. With
// Only, it fetches the named comments ("<video id>:<comment id>", from
// comment.update notifications) and hands the cursor back unchanged.
func (c *connector) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResult, error) {
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no account id (business_id)")
	}
	if len(req.Only) > 0 {
		return c.syncOnly(ctx, req)
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return nil, err
	}
	maxVideos := syncMaxVideos(req.App)
	finished := func() bool {
		return len(cur.Queue) == 0 && (cur.Done || maxVideos > 0 && cur.Seen >= maxVideos)
	}
	// Empty video pages are skipped without answering: a call returns
	// after one comment page, or when the pass is over.
	for len(cur.Queue) == 0 {
		if finished() {
			return &sdk.SyncResult{}, nil
		}
		page, err := c.videoPage(ctx, req, cur.Next)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Videos {
			id := cmp.Or(string(v.ItemID), string(v.ID))
			if id == "" || maxVideos > 0 && cur.Seen >= maxVideos {
				continue
			}
			cur.Seen++
			cur.Queue = append(cur.Queue, syncVideo{ID: id, URL: cmp.Or(v.ShareURL, v.EmbedURL), Subject: truncate(v.Caption, maxSubject)})
		}
		next := string(page.Cursor)
		cur.Done = !page.HasMore || next == "" || next == cur.Next
		cur.Next = next
	}
	head := cur.Queue[0]
	page, err := c.commentPage(ctx, req, head.ID, cur.Page, nil)
	if err != nil {
		return nil, annotate(err, "comments of video "+head.ID)
	}
	since := time.Time{}
	if !req.Since.IsZero() {
		since = req.Since.Add(-sinceOverlap)
	}
	var events []*sdk.Event
	older := false
	for _, cm := range flatten(page.Comments) {
		ev := commentEvent(req.AccountID, head, &cm)
		if ev == nil {
			continue
		}
		if ts := ev.Message.Timestamp; !since.IsZero() && !ts.IsZero() && ts.Before(since) {
			// Newest first: what follows is older still.
			older = true
			continue
		}
		events = append(events, ev)
	}
	next := string(page.Cursor)
	if page.HasMore && !older && next != "" && next != cur.Page {
		cur.Page = next
	} else {
		cur.Queue, cur.Page = cur.Queue[1:], ""
	}
	if finished() {
		return &sdk.SyncResult{Events: events}, nil
	}
	return &sdk.SyncResult{Events: events, NextCursor: cur.encode(), More: true}, nil
}

func (c *connector) videoPage(ctx context.Context, req *sdk.SyncRequest, cursor string) (*videoPage, error) {
	q := url.Values{
		"business_id": {req.AccountID},
		"fields":      {`["item_id","create_time","caption","share_url","embed_url"]`},
		"max_count":   {strconv.Itoa(videoPageSize)},
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page videoPage
	if err := c.businessCall(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, videoListPath, q, nil, &page); err != nil {
		return nil, annotate(err, "list videos")
	}
	return &page, nil
}

// commentPage lists one page of a video's comments and replies, public
// and hidden, newest first; ids narrows it to those comments.
func (c *connector) commentPage(ctx context.Context, req *sdk.SyncRequest, videoID, cursor string, ids []string) (*commentPage, error) {
	q := url.Values{
		"business_id":     {req.AccountID},
		"video_id":        {videoID},
		"status":          {"ALL"},
		"include_replies": {"true"},
		"sort_field":      {"create_time"},
		"sort_order":      {"desc"},
		"max_count":       {strconv.Itoa(commentPageSize)},
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if len(ids) > 0 {
		b, _ := json.Marshal(ids)
		q.Set("comment_ids", string(b))
	}
	var page commentPage
	if err := c.businessCall(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, commentListPath, q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// syncOnly fetches the comments a notification named.
func (c *connector) syncOnly(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResult, error) {
	byVideo := map[string][]string{}
	var order []string
	for _, item := range req.Only {
		videoID, commentID, ok := strings.Cut(item, ":")
		if !ok || videoID == "" || commentID == "" {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "sync item %q is not <video id>:<comment id>", item)
		}
		if _, seen := byVideo[videoID]; !seen {
			order = append(order, videoID)
		}
		byVideo[videoID] = append(byVideo[videoID], commentID)
	}
	res := &sdk.SyncResult{NextCursor: req.Cursor}
	for _, videoID := range order {
		wanted := map[string]bool{}
		for _, id := range byVideo[videoID] {
			wanted[id] = true
		}
		page, err := c.commentPage(ctx, req, videoID, "", byVideo[videoID])
		if err != nil {
			return nil, annotate(err, "comments of video "+videoID)
		}
		for _, cm := range flatten(page.Comments) {
			if !wanted[string(cm.CommentID)] {
				continue
			}
			if ev := commentEvent(req.AccountID, syncVideo{ID: videoID}, &cm); ev != nil {
				res.Events = append(res.Events, ev)
			}
		}
	}
	return res, nil
}

// flatten lists nested replies after their comment.
func flatten(in []comment) []comment {
	var out []comment
	for _, cm := range in {
		out = append(out, cm)
		for _, r := range cm.ReplyList {
			if r.ParentCommentID == "" {
				r.ParentCommentID = cm.CommentID
			}
			out = append(out, r)
		}
	}
	return out
}

// commentEvent maps one listed comment. The thread is the video; a reply
// names its parent; the business's own comments are outbound; hidden ones
// are marked in the metadata, and a status saying deleted makes a
// deletion.
func commentEvent(account string, v syncVideo, cm *comment) *sdk.Event {
	if cm.CommentID == "" {
		return nil
	}
	videoID := cmp.Or(string(cm.VideoID), v.ID)
	at := epoch(cm.CreateTime)
	msg := &sdk.Message{
		ExternalID: string(cm.CommentID),
		Action:     sdk.ActionCreated,
		Direction:  sdk.Inbound,
		ThreadKind: sdk.ThreadComment,
		ThreadID:   videoID,
		ParentID:   parentID(cm.ParentCommentID, cm.CommentID),
		Type:       "text",
		Text:       cm.Text,
		Timestamp:  at,
		Metadata:   map[string]string{},
	}
	if videoID == v.ID {
		msg.ThreadSubject, msg.ThreadURL = v.Subject, v.URL
	}
	user := cmp.Or(string(cm.UserID), cm.UniqueIdentifier, cm.Username)
	if cm.Owner || cm.IsOwner || user != "" && user == account {
		msg.Direction = sdk.Outbound
	} else {
		msg.Contact = sdk.Contact{ExternalID: user, Username: cm.Username, Name: cmp.Or(cm.DisplayName, cm.Username), AvatarURL: cm.ProfileImage}
	}
	status := strings.ToUpper(strings.TrimSpace(cm.Status))
	if status != "" {
		msg.Metadata["status"] = status
	}
	switch status {
	case "HIDDEN":
		msg.Metadata["hidden"] = "true"
	case "DELETED", "REMOVED":
		msg.Action = sdk.ActionDeleted
	}
	if cm.Pinned {
		msg.Metadata["pinned"] = "true"
	}
	if cm.Likes > 0 {
		msg.Metadata["likes"] = strconv.FormatInt(int64(cm.Likes), 10)
	}
	return &sdk.Event{Kind: sdk.EventMessage, Platform: Platform, AccountID: account, OccurredAt: at, Message: msg}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
