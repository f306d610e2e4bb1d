package sdk_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

// Fixtures set every field, so a field the converters forget fails the
// round trip; requireFull proves they stay fully populated as types grow.
var (
	at = time.Date(2026, 3, 4, 5, 6, 7, 8000000, time.UTC)

	fullApp = sdk.App{
		APIBaseURL: "http://127.0.0.1:1", ClientID: "cid", ClientSecret: "secret", VerifyToken: "vt",
		Settings: map[string]string{"region": "eu"},
	}
	fullCreds = sdk.Credentials{
		AccessToken: "at", RefreshToken: "rt", ExpiresAt: at, Scopes: []string{"a", "b"},
		Extra: map[string]string{"page_token": "pt"},
	}
	fullErr         = &sdk.Error{Class: sdk.ClassWindowClosed, Code: "131047", Message: "window closed", RetryAfter: 1500 * time.Millisecond}
	fullAttachments = []sdk.Attachment{{Type: "image", URL: "https://x/i.png", MimeType: "image/png", Caption: "c", ExternalID: "m1", Name: "i.png"}}
	fullPublish     = &sdk.PublishResult{ExternalID: "post1", State: sdk.PublishPublished, URL: "https://x/p/1", Error: fullErr}
	fullEvents      = []*sdk.Event{{
		Kind: sdk.EventMessage, Platform: "relay", AccountID: "acct", OccurredAt: at,
		Message: &sdk.Message{
			ExternalID: "mid", Action: sdk.ActionEdited, Direction: sdk.Inbound,
			ThreadKind: sdk.ThreadComment, ThreadID: "post1", ThreadSubject: "subject", ThreadURL: "https://x/p/1",
			ParentID: "c0", ReplyToID: "m0",
			Contact: sdk.Contact{ExternalID: "u1", Name: "Ada", Username: "ada", Phone: "+1555", AvatarURL: "https://x/a.png"},
			Type:    "text", Text: "hello", Attachments: fullAttachments, Rating: 4, Timestamp: at,
			Metadata: map[string]string{"referral": "ad1"},
		},
		Status: &sdk.StatusUpdate{
			MessageExternalID: "wamid", Status: sdk.StatusFailed, RecipientID: "u1", Timestamp: at, Error: fullErr,
		},
		Account: &sdk.AccountEvent{Type: "authorization_removed", Detail: map[string]string{"by": "user"}},
		Publish: fullPublish,
		Notify:  &sdk.Notification{Type: "NEW_REVIEW", ThreadKind: sdk.ThreadReview, ItemID: "accounts/1/locations/2/reviews/3"},
	}}
	fullDescription = &sdk.Description{
		Name: "relay", Version: "1.2.3", Platforms: []string{"relay"},
		Capabilities:   []sdk.Capability{sdk.CapWebhook, sdk.CapDirectMessage},
		ConfigSchema:   []sdk.ConfigField{{Name: "region", Description: "where", Secret: true, Required: true}},
		AccountIDLabel: "account",
		Rules: []sdk.PlatformRules{{
			Platform: "relay", MaxReplyLength: 1000, MaxReplyBytes: 4096,
			ReplyWindows:   []sdk.ReplyWindow{{ThreadKind: sdk.ThreadDirect, Window: 24 * time.Hour, HumanAgentWindow: 7 * 24 * time.Hour, TemplatesAllowed: true, MaxMessages: 10}},
			Attachments:    []sdk.MediaRule{{Kind: "image", MimeTypes: []string{"image/png"}, MaxBytes: 5 << 20}},
			MaxAttachments: 1,
			Publish: []sdk.PublishRule{{
				Format: "photo", Description: "a photo", MaxTextLength: 2200, MaxHashtags: 30, TextRequired: true,
				MinMedia: 1, MaxMedia: 10, Media: []sdk.MediaRule{{Kind: "image", MimeTypes: []string{"image/jpeg"}, MaxBytes: 8 << 20}},
				Options:          []sdk.OptionRule{{Name: "privacy", Description: "who sees it", Values: []string{"PUBLIC"}, Required: true}},
				NativeScheduling: true,
			}},
		}},
		// The SDK states the minor version it speaks, whatever the connector says.
		ProtocolMinor: sdk.ProtocolMinor,
	}
	fullVerifyReq = &sdk.VerifyRequest{
		App: fullApp, Query: map[string][]string{"hub.challenge": {"1", "2"}}, Header: map[string][]string{"X-A": {"b"}},
	}
	fullVerifyResp = &sdk.VerifyResponse{StatusCode: 200, ContentType: "text/plain", Body: []byte("1")}
	fullWebhookReq = &sdk.WebhookRequest{
		App: fullApp, Method: "POST", Path: "/webhooks/relay", Query: map[string][]string{"q": {"1"}},
		Header: map[string][]string{"X-Relay-Signature": {"00"}}, Body: []byte(`{}`), ReceivedAt: at,
	}
	fullSendReq = &sdk.SendRequest{
		App: fullApp, Credentials: fullCreds, AccountID: "acct", Kind: sdk.SendCommentPrivate, RecipientID: "c1",
		ThreadID: "t1", ReplyToID: "m1", Text: "hi",
		Template:    &sdk.Template{Name: "hello", Language: "en_US", ComponentsJSON: []byte(`[]`)},
		Attachments: fullAttachments, HumanAgent: true, IdempotencyKey: "idem",
	}
	fullPublishReq = &sdk.PublishRequest{
		App: fullApp, Credentials: fullCreds, AccountID: "acct", Platform: "relay",
		Post: sdk.Post{
			Format: "photo", Title: "t", Text: "x", Link: "https://x", Media: []sdk.Media{{Type: "image", URL: "https://x/i.png"}},
			ScheduledAt: at, Options: map[string]string{"k": "v"},
		},
		IdempotencyKey: "idem",
	}
	fullStatusReq = &sdk.PublishStatusRequest{App: fullApp, Credentials: fullCreds, AccountID: "acct", Platform: "relay", ExternalID: "post1",
		IdempotencyKey: "idem", Post: &fullPublishReq.Post, Since: at}
	fullSyncReq  = &sdk.SyncRequest{App: fullApp, Credentials: fullCreds, AccountID: "acct", Cursor: "c1", Since: at, Only: []string{"r1"}}
	fullSyncRes  = &sdk.SyncResult{Events: fullEvents, NextCursor: "c2", More: true}
	fullCredsReq = &sdk.CredentialsRequest{App: fullApp, Credentials: fullCreds, AccountID: "acct"}
	fullAccount  = &sdk.AccountInfo{AccountID: "acct", Name: "Shop", Platform: "relay", Scopes: []string{"a"}, ExpiresAt: at}
)

// requireFull fails when any field reachable from v is the zero value.
func requireFull(t *testing.T, v any) {
	t.Helper()
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		if v.IsZero() {
			t.Errorf("fixture field %s is zero", path)
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			walk(path, v.Elem())
		case reflect.Struct:
			if v.Type() == reflect.TypeOf(time.Time{}) {
				return
			}
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(path+"[]", v.Index(i))
			}
		}
	}
	walk(reflect.TypeOf(v).String(), reflect.ValueOf(v))
}

// echo records what it receives and answers with the full fixtures, or
// with err when set.
type echo struct {
	mu   sync.Mutex
	got  []any
	err  error
	boom bool
}

func (e *echo) record(req any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, req)
	if e.boom {
		panic("boom")
	}
	return e.err
}

func (e *echo) Describe(context.Context) (*sdk.Description, error) {
	return fullDescription, e.record(nil)
}
func (e *echo) VerifySubscription(_ context.Context, r *sdk.VerifyRequest) (*sdk.VerifyResponse, error) {
	return fullVerifyResp, e.record(r)
}
func (e *echo) HandleWebhook(_ context.Context, r *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	return &sdk.WebhookResult{Events: fullEvents}, e.record(r)
}
func (e *echo) Send(_ context.Context, r *sdk.SendRequest) (*sdk.SendResult, error) {
	return &sdk.SendResult{ExternalID: "out1", Status: sdk.StatusSent}, e.record(r)
}
func (e *echo) Publish(_ context.Context, r *sdk.PublishRequest) (*sdk.PublishResult, error) {
	return fullPublish, e.record(r)
}
func (e *echo) PublishStatus(_ context.Context, r *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	return fullPublish, e.record(r)
}
func (e *echo) Sync(_ context.Context, r *sdk.SyncRequest) (*sdk.SyncResult, error) {
	return fullSyncRes, e.record(r)
}
func (e *echo) ValidateCredentials(_ context.Context, r *sdk.CredentialsRequest) (*sdk.AccountInfo, error) {
	return fullAccount, e.record(r)
}
func (e *echo) RefreshCredentials(_ context.Context, r *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	c := fullCreds
	return &c, e.record(r)
}
func (e *echo) Revoke(_ context.Context, r *sdk.CredentialsRequest) error {
	return e.record(r)
}

func (e *echo) last() any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.got[len(e.got)-1]
}

func TestFixturesAreFull(t *testing.T) {
	t.Parallel()
	for _, v := range []any{
		fullDescription, fullVerifyReq, fullVerifyResp, fullWebhookReq, fullSendReq, fullPublishReq,
		fullStatusReq, fullSyncReq, fullSyncRes, fullCredsReq, fullAccount, &fullCreds,
	} {
		requireFull(t, v)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	e := &echo{}
	c := sdktest.Connect(t, e)
	ctx := context.Background()

	d, err := c.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, fullDescription, d)

	vr, err := c.VerifySubscription(ctx, fullVerifyReq)
	require.NoError(t, err)
	require.Equal(t, fullVerifyReq, e.last())
	require.Equal(t, fullVerifyResp, vr)

	wr, err := c.HandleWebhook(ctx, fullWebhookReq)
	require.NoError(t, err)
	require.Equal(t, fullWebhookReq, e.last())
	require.Equal(t, fullEvents, wr.Events)

	sr, err := c.Send(ctx, fullSendReq)
	require.NoError(t, err)
	require.Equal(t, fullSendReq, e.last())
	require.Equal(t, &sdk.SendResult{ExternalID: "out1", Status: sdk.StatusSent}, sr)

	pr, err := c.Publish(ctx, fullPublishReq)
	require.NoError(t, err)
	require.Equal(t, fullPublishReq, e.last())
	require.Equal(t, fullPublish, pr)

	pr, err = c.PublishStatus(ctx, fullStatusReq)
	require.NoError(t, err)
	require.Equal(t, fullStatusReq, e.last())
	require.Equal(t, fullPublish, pr)

	syr, err := c.Sync(ctx, fullSyncReq)
	require.NoError(t, err)
	require.Equal(t, fullSyncReq, e.last())
	require.Equal(t, fullSyncRes, syr)

	ai, err := c.ValidateCredentials(ctx, fullCredsReq)
	require.NoError(t, err)
	require.Equal(t, fullCredsReq, e.last())
	require.Equal(t, fullAccount, ai)

	cr, err := c.RefreshCredentials(ctx, fullCredsReq)
	require.NoError(t, err)
	require.Equal(t, &fullCreds, cr)

	require.NoError(t, c.Revoke(ctx, fullCredsReq))
	require.Equal(t, fullCredsReq, e.last())
}

func TestErrorsCrossIntact(t *testing.T) {
	t.Parallel()
	classes := []sdk.ErrorClass{
		sdk.ClassRetryable, sdk.ClassWindowClosed, sdk.ClassAuthRevoked, sdk.ClassPermanent,
		sdk.ClassUnauthenticated, sdk.ClassMalformed, sdk.ClassUnsupported,
	}
	for _, class := range classes {
		t.Run(string(class), func(t *testing.T) {
			t.Parallel()
			want := &sdk.Error{Class: class, Code: "c-" + string(class), Message: "m " + string(class), RetryAfter: 2 * time.Second}
			// Wrapped on the plugin side: the class must still be found.
			c := sdktest.Connect(t, &echo{err: errorsJoin(want)})
			_, err := c.Send(context.Background(), fullSendReq)
			var got *sdk.Error
			require.ErrorAs(t, err, &got)
			require.Equal(t, want, got)
			require.ErrorIs(t, err, &sdk.Error{Class: class})
		})
	}
}

func errorsJoin(e *sdk.Error) error { return errors.Join(errors.New("context"), e) }

func TestUnclassifiedAndPanicAreRetryable(t *testing.T) {
	t.Parallel()
	c := sdktest.Connect(t, &echo{err: errors.New("plain failure")})
	err := c.Revoke(context.Background(), fullCredsReq)
	sdktest.RequireClass(t, sdk.ClassRetryable, err)
	require.Contains(t, err.Error(), "plain failure")

	e := &echo{boom: true}
	c = sdktest.Connect(t, e)
	_, err = c.Describe(context.Background())
	sdktest.RequireClass(t, sdk.ClassRetryable, err)
	require.Contains(t, err.Error(), "boom")
	// The server recovered: the next call is served.
	e.mu.Lock()
	e.boom = false
	e.mu.Unlock()
	_, err = c.Describe(context.Background())
	require.NoError(t, err)
}

func TestTransportFailureIsRetryable(t *testing.T) {
	t.Parallel()
	c := sdktest.Connect(t, &echo{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Describe(ctx)
	sdktest.RequireClass(t, sdk.ClassRetryable, err)
}
