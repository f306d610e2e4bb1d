package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/tiktok/sandbox"
)

const biz = "biz-1"

// receiver is a webhook endpoint that checks signatures like Neksio.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	got    chan struct{}
}

func newReceiver(t *testing.T, secret string) (*receiver, string) {
	rc := &receiver{got: make(chan struct{}, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := sdk.VerifyTikTokSignature(secret, body, r.Header.Get("Tiktok-Signature"), time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, body)
		rc.mu.Unlock()
		rc.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func (rc *receiver) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	for range n {
		select {
		case <-rc.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited for %d webhooks", n)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...)
}

type envelope struct {
	ClientKey  string `json:"client_key"`
	Event      string `json:"event"`
	UserOpenID string `json:"user_openid"`
	Content    string `json:"content"`
}

func parse(t *testing.T, body []byte) (envelope, map[string]any) {
	t.Helper()
	var e envelope
	require.NoError(t, json.Unmarshal(body, &e))
	var c map[string]any
	d := json.NewDecoder(strings.NewReader(e.Content))
	d.UseNumber()
	require.NoError(t, d.Decode(&c))
	return e, c
}

func post(t *testing.T, base, path string, in any, out any) int {
	t.Helper()
	b, err := json.Marshal(in)
	require.NoError(t, err)
	resp, err := http.Post(base+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// business calls the Business API with a token.
func business(t *testing.T, method, u, token string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	req.Header.Set("Access-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	d := json.NewDecoder(resp.Body)
	d.UseNumber()
	require.NoError(t, d.Decode(&out))
	return out
}

func TestControlDrivesARunningEmulator(t *testing.T) {
	t.Parallel()
	rc, hook := newReceiver(t, "s3cret")
	sb := sandbox.New(sandbox.WithApp("key-1", "s3cret"), sandbox.WithWebhookURL(hook, nil), sandbox.WithCommentWebhooks())
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	base := srv.URL + "/_sandbox/tiktok/"

	var toks struct {
		AccessToken string `json:"access_token"`
	}
	require.Equal(t, 200, post(t, base, "accounts", map[string]any{"open_id": biz, "display_name": "Biz", "username": "biz"}, &toks))
	require.NotEmpty(t, toks.AccessToken)

	// A customer DM: signed to the webhook URL, and answered.
	var dm struct {
		Body string `json:"body"`
	}
	require.Equal(t, 200, post(t, base, "dm", map[string]any{"business_id": biz, "customer_id": "cust-1", "customer_name": "Ana", "text": "hola"}, &dm))
	env, c := parse(t, []byte(dm.Body))
	require.Equal(t, "im_receive_msg", env.Event)
	require.Equal(t, "key-1", env.ClientKey)
	require.Equal(t, biz, env.UserOpenID)
	require.Equal(t, "hola", c["text"].(map[string]any)["body"])
	require.Equal(t, sandbox.ConversationID(biz, "cust-1"), c["conversation_id"])
	require.Equal(t, dm.Body, string(rc.wait(t, 1)[0]))

	// The business answers: recorded, and echoed as im_send_msg.
	out := business(t, http.MethodPost, srv.URL+"/open_api/v1.3/business/message/send/", toks.AccessToken, map[string]any{
		"business_id": biz, "recipient_type": "CONVERSATION", "recipient": c["conversation_id"], "message_type": "TEXT",
		"text": map[string]any{"body": "hi Ana"}})
	require.Equal(t, json.Number("0"), out["code"])
	msgID := out["data"].(map[string]any)["message"].(map[string]any)["message_id"]
	echo := rc.wait(t, 1)[1]
	env, c = parse(t, echo)
	require.Equal(t, "im_send_msg", env.Event)
	require.Equal(t, msgID, c["message_id"])
	require.Equal(t, biz, c["from_user"].(map[string]any)["id"])

	var sent []sandbox.Sent
	resp, err := http.Get(base + "sent")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sent))
	resp.Body.Close()
	require.Len(t, sent, 1)
	require.Equal(t, "hi Ana", sent[0].Text)

	// Comments: added, hidden, deleted, each announced by comment.update.
	var v struct {
		VideoID string `json:"video_id"`
	}
	require.Equal(t, 200, post(t, base, "videos", map[string]any{"business_id": biz, "caption": "clip"}, &v))
	var cm struct {
		CommentID string `json:"comment_id"`
	}
	require.Equal(t, 200, post(t, base, "comments", map[string]any{"video_id": v.VideoID, "user_id": "u1", "text": "nice"}, &cm))
	require.Equal(t, 200, post(t, base, "comments/hide", map[string]any{"comment_id": cm.CommentID}, nil))
	require.Equal(t, 200, post(t, base, "comments/delete", map[string]any{"comment_id": cm.CommentID}, nil))
	hooks := rc.wait(t, 3)
	var actions []string
	for _, h := range hooks[2:] {
		env, c := parse(t, h)
		require.Equal(t, "comment.update", env.Event)
		require.Equal(t, json.Number(cm.CommentID), c["comment_id"], "ids are bare numbers, as TikTok sends them")
		actions = append(actions, c["comment_action"].(string))
	}
	require.ElementsMatch(t, []string{"insert", "set_to_hidden", "delete"}, actions)

	require.Equal(t, http.StatusBadRequest, post(t, base, "comments", map[string]any{"video_id": "nope"}, nil))
	require.Equal(t, http.StatusBadRequest, post(t, base, "dm", map[string]any{"business_id": "unknown", "customer_id": "c"}, nil))
	require.Equal(t, http.StatusNotFound, post(t, base, "nothing-here", map[string]any{}, nil))
}

func TestCommentList(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	sb.AddAccount(sandbox.Account{OpenID: biz, Username: "biz"})
	tok := sb.Grant(biz).AccessToken
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	video, err := sb.AddVideo(biz, "clip")
	require.NoError(t, err)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []string
	for i := range 5 {
		c, err := sb.AddComment(sandbox.Comment{VideoID: video, UserID: "u", Text: "c", CreateTime: at.Add(time.Duration(i) * time.Minute), Hidden: i == 1})
		require.NoError(t, err)
		all = append(all, c.ID)
	}
	reply, err := sb.AddComment(sandbox.Comment{VideoID: video, ParentID: all[0], UserID: "u", Text: "r", CreateTime: at.Add(time.Hour)})
	require.NoError(t, err)
	replyToReply, err := sb.AddComment(sandbox.Comment{VideoID: video, ParentID: reply.ID, UserID: "u", Text: "rr", CreateTime: at.Add(2 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, all[0], replyToReply.ParentID, "replies nest one level")
	require.NoError(t, sb.DeleteComment(all[3]))

	list := func(q url.Values) (ids []string, cursor json.Number, more bool) {
		q.Set("business_id", biz)
		q.Set("video_id", video)
		out := business(t, http.MethodGet, srv.URL+"/open_api/v1.3/business/comment/list/?"+q.Encode(), tok, nil)
		require.Equal(t, json.Number("0"), out["code"], "%v", out)
		data := out["data"].(map[string]any)
		for _, c := range data["comments"].([]any) {
			ids = append(ids, c.(map[string]any)["comment_id"].(string))
		}
		return ids, data["cursor"].(json.Number), data["has_more"].(bool)
	}
	ids, _, more := list(url.Values{})
	require.Equal(t, []string{all[4], all[2], all[0]}, ids, "public top-level comments, newest first, deleted gone")
	require.False(t, more)

	ids, cursor, more := list(url.Values{"status": {"ALL"}, "include_replies": {"true"}, "max_count": {"3"}})
	require.Equal(t, []string{replyToReply.ID, reply.ID, all[4]}, ids)
	require.True(t, more)
	ids, _, more = list(url.Values{"status": {"ALL"}, "include_replies": {"true"}, "max_count": {"3"}, "cursor": {cursor.String()}})
	require.Equal(t, []string{all[2], all[1], all[0]}, ids)
	require.False(t, more)

	ids, _, _ = list(url.Values{"status": {"ALL"}, "sort_order": {"asc"}})
	require.Equal(t, []string{all[0], all[1], all[2], all[4]}, ids)
	ids, _, _ = list(url.Values{"status": {"ALL"}, "comment_ids": {`["` + all[1] + `","` + all[3] + `"]`}})
	require.Equal(t, []string{all[1]}, ids)

	out := business(t, http.MethodGet, srv.URL+"/open_api/v1.3/business/comment/list/?business_id="+biz+"&video_id="+video+"&max_count=31", tok, nil)
	require.Equal(t, json.Number("40002"), out["code"])
	out = business(t, http.MethodGet, srv.URL+"/open_api/v1.3/business/comment/list/?business_id="+biz+"&video_id="+video, "", nil)
	require.Equal(t, json.Number("40104"), out["code"])
}

func TestObserveOpensTheWindow(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	sb.AddAccount(sandbox.Account{OpenID: biz})
	tok := sb.Grant(biz).AccessToken
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	send := func() json.Number {
		out := business(t, http.MethodPost, srv.URL+"/open_api/v1.3/business/message/send/", tok, map[string]any{
			"business_id": biz, "recipient_type": "CONVERSATION", "recipient": sandbox.ConversationID(biz, "c9"),
			"message_type": "TEXT", "text": map[string]any{"body": "hi"}})
		return out["code"].(json.Number)
	}
	require.Equal(t, json.Number("40007"), send(), "no conversation yet")
	sb.Observe(sandbox.TextDM(biz, "c9", "Cy", "hello"))
	require.Equal(t, json.Number("0"), send())
	sb.Observe(sandbox.DM{BusinessID: biz, CustomerID: "c9", Text: "echo", Echo: true}.Body())
	sb.Observe([]byte("not json"))
	require.Len(t, sb.SentMessages(), 1)
}

func TestConsentPageRefusesBadRequests(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	for _, q := range []string{
		"client_key=other&response_type=code&redirect_uri=https%3A%2F%2Fx.example%2Fcb",
		"client_key=" + sandbox.DefaultClientKey + "&response_type=code&redirect_uri=relative",
		"client_key=" + sandbox.DefaultClientKey + "&response_type=token&redirect_uri=https%3A%2F%2Fx.example%2Fcb",
	} {
		resp, err := http.Get(srv.URL + "/v2/auth/authorize/?" + q)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
}

func TestDeliverSigns(t *testing.T) {
	t.Parallel()
	rc, hook := newReceiver(t, "s")
	body := sandbox.PublishFailed("", "open-1", "pub-1", "spam_risk")
	status, _, err := sandbox.Deliver(context.Background(), nil, hook, "s", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, body, rc.wait(t, 1)[0])
	status, _, err = sandbox.Deliver(context.Background(), nil, hook, "not-s", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.WithWebhookSink(func([]byte) {}))
	sb.AddAccount(sandbox.Account{OpenID: biz})
	tok := sb.Grant(biz).AccessToken
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			customer := "c" + string(rune('a'+i))
			_, err := sb.CustomerMessage(sandbox.DM{BusinessID: biz, CustomerID: customer, Text: "hi"})
			require.NoError(t, err)
			out := business(t, http.MethodPost, srv.URL+"/open_api/v1.3/business/message/send/", tok, map[string]any{
				"business_id": biz, "recipient_type": "CONVERSATION", "recipient": sandbox.ConversationID(biz, customer),
				"message_type": "TEXT", "text": map[string]any{"body": "hello"}})
			require.Equal(t, json.Number("0"), out["code"])
		})
	}
	wg.Wait()
	sb.Flush()
	sent, err := sb.WaitSent(context.Background(), 8)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, s := range sent {
		require.False(t, seen[s.ID], "ids are unique")
		seen[s.ID] = true
	}
}
