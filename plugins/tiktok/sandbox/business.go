package sandbox

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Comment is a comment (or reply) under a business's video.
type Comment struct {
	// ID is fresh when empty.
	ID      string
	VideoID string
	// ParentID makes it a reply to that comment.
	ParentID    string
	UserID      string
	Username    string
	DisplayName string
	Text        string
	// CreateTime is now when zero.
	CreateTime time.Time
	Hidden     bool
	// Owner marks the business's own comment.
	Owner bool
	Likes int
}

// WithCommentWebhooks makes comment changes (AddComment, replies,
// HideComment, DeleteComment) send comment.update to the webhook sink.
func WithCommentWebhooks() Option {
	return func(s *Server) { s.commentWebhooks = true }
}

// CustomerMessage records that a customer wrote to a business, opening
// the reply window (and resetting its message cap), and returns the
// webhook body TikTok would send. The DM's ids are filled in when empty.
func (s *Server) CustomerMessage(d DM) ([]byte, error) {
	if d.CustomerID == "" {
		return nil, fmt.Errorf("sandbox: a customer message needs a customer id")
	}
	d.Echo = false
	d.ClientKey = cmp.Or(d.ClientKey, s.clientKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[d.BusinessID]; !ok {
		return nil, fmt.Errorf("sandbox: unknown business %q", d.BusinessID)
	}
	d.At = cmp.Or(d.At, s.now())
	d.ConversationID = cmp.Or(d.ConversationID, ConversationID(d.BusinessID, d.CustomerID))
	d.MessageID = cmp.Or(d.MessageID, s.nextID())
	s.seen(d.BusinessID, d.CustomerID, d.CustomerName, d.ConversationID, d.At)
	return d.Body(), nil
}

// seen opens (or reopens) a conversation's window; s.mu must be held.
func (s *Server) seen(business, customer, name, convID string, at time.Time) {
	c, ok := s.convs[convID]
	if !ok {
		c = &conversation{id: convID, business: business, customer: customer}
		s.convs[convID] = c
	}
	c.name = cmp.Or(name, c.name)
	if at.After(c.lastInbound) {
		c.lastInbound, c.sent = at, 0
	}
}

// Observe records what a customer DM webhook body (built here or
// elsewhere) tells: its conversation's window opens. Other bodies are
// ignored.
func (s *Server) Observe(body []byte) {
	var env struct {
		Event      string `json:"event"`
		UserOpenID string `json:"user_openid"`
		Content    string `json:"content"`
	}
	if json.Unmarshal(body, &env) != nil || env.Event != "im_receive_msg" && env.Event != "direct_message.receive" {
		return
	}
	var c struct {
		ConversationID string `json:"conversation_id"`
		Timestamp      int64  `json:"timestamp"`
		From           string `json:"from"`
		FromUser       struct {
			ID string `json:"id"`
		} `json:"from_user"`
	}
	if json.Unmarshal([]byte(env.Content), &c) != nil || c.ConversationID == "" || c.FromUser.ID == env.UserOpenID {
		return
	}
	at := time.UnixMilli(c.Timestamp)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Timestamp <= 0 {
		at = s.now()
	}
	s.seen(env.UserOpenID, c.FromUser.ID, c.From, c.ConversationID, at)
}

// AddVideo adds a video to a business's account and returns its id.
func (s *Server) AddVideo(businessID, caption string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[businessID]; !ok {
		return "", fmt.Errorf("sandbox: unknown business %q", businessID)
	}
	return s.addVideo(businessID, caption), nil
}

func (s *Server) addVideo(businessID, caption string) string {
	id := s.nextID()
	s.videos[id] = &video{id: id, business: businessID, caption: caption, created: s.now()}
	return id
}

// AddComment adds a comment under an existing video and returns it with
// its id and time filled in.
func (s *Server) AddComment(c Comment) (Comment, error) {
	s.mu.Lock()
	v, ok := s.videos[c.VideoID]
	if !ok {
		s.mu.Unlock()
		return c, fmt.Errorf("sandbox: unknown video %q", c.VideoID)
	}
	if c.ParentID != "" {
		p, ok := s.comments[c.ParentID]
		if !ok || p.video != c.VideoID {
			s.mu.Unlock()
			return c, fmt.Errorf("sandbox: unknown parent comment %q", c.ParentID)
		}
		// TikTok nests one level: a reply to a reply hangs off the top.
		c.ParentID = cmp.Or(p.parent, p.id)
	}
	c.ID = cmp.Or(c.ID, s.nextID())
	c.CreateTime = cmp.Or(c.CreateTime, s.now())
	s.comments[c.ID] = &comment{id: c.ID, video: c.VideoID, parent: c.ParentID, user: c.UserID, username: c.Username,
		name: c.DisplayName, text: c.Text, created: c.CreateTime, hidden: c.Hidden, owner: c.Owner, likes: c.Likes}
	body := s.commentUpdate(v.business, s.comments[c.ID], "insert")
	s.mu.Unlock()
	s.emit(body...)
	return c, nil
}

// commentUpdate builds comment.update when comment webhooks are on; s.mu
// must be held.
func (s *Server) commentUpdate(business string, c *comment, action string) [][]byte {
	if !s.commentWebhooks {
		return nil
	}
	return [][]byte{CommentUpdate(s.clientKey, business, c.video, c.id, c.parent, action)}
}

// HideComment hides a comment (or shows it again).
func (s *Server) HideComment(id string, hidden bool) error {
	s.mu.Lock()
	c, ok := s.comments[id]
	if !ok || c.deleted {
		s.mu.Unlock()
		return fmt.Errorf("sandbox: unknown comment %q", id)
	}
	c.hidden = hidden
	action := "set_to_public"
	if hidden {
		action = "set_to_hidden"
	}
	body := s.commentUpdate(s.videos[c.video].business, c, action)
	s.mu.Unlock()
	s.emit(body...)
	return nil
}

// DeleteComment deletes a comment: the list no longer shows it.
func (s *Server) DeleteComment(id string) error {
	s.mu.Lock()
	c, ok := s.comments[id]
	if !ok || c.deleted {
		s.mu.Unlock()
		return fmt.Errorf("sandbox: unknown comment %q", id)
	}
	c.deleted = true
	body := s.commentUpdate(s.videos[c.video].business, c, "delete")
	s.mu.Unlock()
	s.emit(body...)
	return nil
}

// messageSend serves POST business/message/send/: text into an existing
// conversation, within the window and under its cap.
func (s *Server) messageSend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		BusinessID    string `json:"business_id"`
		RecipientType string `json:"recipient_type"`
		Recipient     string `json:"recipient"`
		MessageType   string `json:"message_type"`
		Text          *struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	if err := readJSON(r, &in); err != nil {
		(&bizError{code: CodeParamError, message: "the body is not JSON"}).write(w)
		return
	}
	s.mu.Lock()
	acct, berr := s.business(r, in.BusinessID)
	if berr == nil {
		berr = func() *bizError {
			switch {
			case in.RecipientType != "CONVERSATION":
				return &bizError{code: CodeParamError, message: "recipient_type must be CONVERSATION"}
			case in.MessageType != "TEXT":
				return &bizError{code: CodeParamError, message: "the sandbox sends message_type TEXT only"}
			case in.Text == nil || in.Text.Body == "":
				return &bizError{code: CodeParamError, message: "text.body is required"}
			case utf8.RuneCountInString(in.Text.Body) > MaxDMLength:
				return &bizError{code: CodeParamError, message: fmt.Sprintf("text.body exceeds %d characters", MaxDMLength)}
			}
			return nil
		}()
	}
	if berr != nil {
		s.mu.Unlock()
		berr.write(w)
		return
	}
	conv, ok := s.convs[in.Recipient]
	now := s.now()
	switch {
	case !ok || conv.business != acct.OpenID:
		berr = &bizError{code: CodeNotFound, message: "conversation not found: a business cannot start a conversation"}
	case now.Sub(conv.lastInbound) > s.dmWindow:
		berr = &bizError{code: CodeMessageBlocked, message: "message blocked: more than 48 hours since the user's last message"}
	case conv.sent >= s.dmCap:
		berr = &bizError{code: CodeMessageBlocked, message: fmt.Sprintf("message blocked: %d messages already sent since the user's last message", conv.sent)}
	}
	if berr != nil {
		s.mu.Unlock()
		berr.write(w)
		return
	}
	conv.sent++
	id := s.nextID()
	s.sent = append(s.sent, Sent{ID: id, Kind: "message", BusinessID: acct.OpenID, ConversationID: conv.id,
		CustomerID: conv.customer, Text: in.Text.Body, At: now})
	s.notify()
	echo := DM{ClientKey: s.clientKey, BusinessID: acct.OpenID, CustomerID: conv.customer, CustomerName: conv.name,
		ConversationID: conv.id, MessageID: id, Text: in.Text.Body, At: now, Echo: true}.Body()
	s.mu.Unlock()
	writeBizOK(w, map[string]any{"message": map[string]any{"message_id": id}})
	s.emit(echo)
}

// pageParams reads cursor and max_count; s.mu need not be held.
func pageParams(r *http.Request, def, limit int) (offset, count int, berr *bizError) {
	q := r.URL.Query()
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, &bizError{code: CodeParamError, message: "cursor must be a non-negative integer"}
		}
		offset = n
	}
	count = def
	if v := q.Get("max_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > limit {
			return 0, 0, &bizError{code: CodeParamError, message: fmt.Sprintf("max_count must be 1 to %d", limit)}
		}
		count = n
	}
	return offset, count, nil
}

func page[T any](items []T, offset, count int) (out []T, next int, more bool) {
	if offset > len(items) {
		offset = len(items)
	}
	end := min(offset+count, len(items))
	return items[offset:end], end, end < len(items)
}

func (s *Server) shareURL(v *video) string {
	user := v.business
	if a, ok := s.accounts[v.business]; ok && a.Username != "" {
		user = a.Username
	}
	return "https://www.tiktok.com/@" + user + "/video/" + v.id
}

// videoList serves GET business/video/list/: the business's videos,
// newest first.
func (s *Server) videoList(w http.ResponseWriter, r *http.Request) {
	offset, count, berr := pageParams(r, 20, 20)
	s.mu.Lock()
	defer s.mu.Unlock()
	if berr == nil {
		_, berr = s.business(r, r.URL.Query().Get("business_id"))
	}
	if berr != nil {
		berr.write(w)
		return
	}
	business := r.URL.Query().Get("business_id")
	var vids []*video
	for _, v := range s.videos {
		if v.business == business {
			vids = append(vids, v)
		}
	}
	slices.SortFunc(vids, func(a, b *video) int {
		return cmp.Or(b.created.Compare(a.created), strings.Compare(b.id, a.id))
	})
	items, next, more := page(vids, offset, count)
	out := make([]map[string]any, 0, len(items))
	for _, v := range items {
		out = append(out, map[string]any{
			"item_id": v.id, "create_time": v.created.Unix(), "caption": v.caption,
			"share_url": s.shareURL(v), "embed_url": "https://www.tiktok.com/embed/v2/" + v.id,
		})
	}
	writeBizOK(w, map[string]any{"videos": out, "cursor": next, "has_more": more})
}

// commentList serves GET business/comment/list/: a video's comments,
// hidden ones with status=ALL, replies with include_replies=true, in
// create_time order (desc by default); deleted comments are gone.
func (s *Server) commentList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, count, berr := pageParams(r, 20, 30)
	s.mu.Lock()
	defer s.mu.Unlock()
	if berr == nil {
		_, berr = s.business(r, q.Get("business_id"))
	}
	if berr != nil {
		berr.write(w)
		return
	}
	v, ok := s.videos[q.Get("video_id")]
	if !ok || v.business != q.Get("business_id") {
		(&bizError{code: CodeNotFound, message: "video not found"}).write(w)
		return
	}
	status := cmp.Or(q.Get("status"), "PUBLIC")
	if status != "PUBLIC" && status != "ALL" {
		(&bizError{code: CodeParamError, message: "status must be PUBLIC or ALL"}).write(w)
		return
	}
	var ids []string
	if raw := q.Get("comment_ids"); raw != "" {
		if json.Unmarshal([]byte(raw), &ids) != nil {
			(&bizError{code: CodeParamError, message: "comment_ids must be a JSON array of strings"}).write(w)
			return
		}
	}
	replies := q.Get("include_replies") == "true"
	desc := q.Get("sort_order") != "asc"
	counts := map[string]int{}
	var list []*comment
	for _, c := range s.comments {
		if c.video != v.id || c.deleted {
			continue
		}
		if c.parent != "" {
			counts[c.parent]++
		}
		if status == "PUBLIC" && c.hidden || !replies && c.parent != "" || len(ids) > 0 && !slices.Contains(ids, c.id) {
			continue
		}
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *comment) int {
		o := cmp.Or(a.created.Compare(b.created), strings.Compare(a.id, b.id))
		if desc {
			return -o
		}
		return o
	})
	items, next, more := page(list, offset, count)
	out := make([]map[string]any, 0, len(items))
	for _, c := range items {
		st := "PUBLIC"
		if c.hidden {
			st = "HIDDEN"
		}
		out = append(out, map[string]any{
			"comment_id": c.id, "video_id": c.video, "parent_comment_id": cmp.Or(c.parent, "0"),
			"user_id": c.user, "username": c.username, "display_name": c.name, "text": c.text,
			"create_time": c.created.Unix(), "likes": c.likes, "replies": counts[c.id], "owner": c.owner,
			"liked": false, "pinned": false, "status": st,
		})
	}
	writeBizOK(w, map[string]any{"comments": out, "cursor": next, "has_more": more})
}

// commentReply serves POST business/comment/reply/create/: the business
// answers a comment publicly.
func (s *Server) commentReply(w http.ResponseWriter, r *http.Request) {
	var in struct {
		BusinessID string `json:"business_id"`
		VideoID    string `json:"video_id"`
		CommentID  string `json:"comment_id"`
		Text       string `json:"text"`
	}
	if err := readJSON(r, &in); err != nil {
		(&bizError{code: CodeParamError, message: "the body is not JSON"}).write(w)
		return
	}
	s.mu.Lock()
	acct, berr := s.business(r, in.BusinessID)
	if berr != nil {
		s.mu.Unlock()
		berr.write(w)
		return
	}
	target, ok := s.comments[in.CommentID]
	switch {
	case in.Text == "" || utf8.RuneCountInString(in.Text) > MaxCommentLength:
		berr = &bizError{code: CodeParamError, message: fmt.Sprintf("text must be 1 to %d characters", MaxCommentLength)}
	case !ok || target.deleted || target.video != in.VideoID || s.videos[target.video].business != acct.OpenID:
		berr = &bizError{code: CodeNotFound, message: "comment not found"}
	}
	if berr != nil {
		s.mu.Unlock()
		berr.write(w)
		return
	}
	now := s.now()
	reply := &comment{id: s.nextID(), video: in.VideoID, parent: cmp.Or(target.parent, target.id), user: acct.OpenID,
		username: acct.Username, name: acct.DisplayName, text: in.Text, created: now, owner: true}
	s.comments[reply.id] = reply
	s.sent = append(s.sent, Sent{ID: reply.id, Kind: "comment_reply", BusinessID: acct.OpenID, VideoID: in.VideoID,
		CommentID: in.CommentID, ParentID: reply.parent, Text: in.Text, At: now})
	s.notify()
	body := s.commentUpdate(acct.OpenID, reply, "insert")
	s.mu.Unlock()
	writeBizOK(w, map[string]any{"comment_id": reply.id, "video_id": reply.video, "parent_comment_id": reply.parent,
		"text": reply.text, "create_time": now.Unix()})
	s.emit(body...)
}
