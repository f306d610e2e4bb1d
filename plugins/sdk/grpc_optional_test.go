package sdk_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

var (
	fullAuthorizeReq = &sdk.AuthorizeRequest{App: fullApp, RedirectURI: "https://n/oauth/relay/callback", State: "st", Scopes: []string{"a"}}
	fullExchangeReq  = &sdk.ExchangeRequest{App: fullApp, RedirectURI: "https://n/oauth/relay/callback", Code: "code",
		Query: map[string][]string{"code": {"code"}, "state": {"st"}}}
	pageCreds = sdk.Credentials{AccessToken: "page", RefreshToken: "r", ExpiresAt: at, Scopes: []string{"p"}, Extra: map[string]string{"k": "v"}}
	fullGrant = &sdk.Grant{Credentials: fullCreds, Accounts: []sdk.GrantedAccount{{
		AccountID: "p1", Name: "Page", Platform: "facebook", Credentials: &pageCreds, Extra: map[string]string{"category": "Cafe"},
	}}}
	fullFetchReq = &sdk.FetchMediaRequest{App: fullApp, Credentials: fullCreds, AccountID: "acct", Platform: "relay",
		Attachment: fullAttachments[0], MaxBytes: 8 << 20}
	fullTemplate = &sdk.TemplateInfo{Name: "hello", Language: "en_US", Category: "UTILITY", Status: "APPROVED",
		ComponentsJSON: []byte(`[{"type":"BODY","text":"Hi {{1}}"}]`), BodyParameters: 1}
	fullLookupReq = &sdk.LookupRequest{App: fullApp, Credentials: fullCreds, AccountID: "acct", Platform: "relay", ID: "u1", ThreadKind: sdk.ThreadComment}
	fullContact   = &sdk.Contact{ExternalID: "u1", Name: "Ada", Username: "ada", Phone: "+1", AvatarURL: "https://x/a.png"}
	fullThread    = &sdk.ThreadInfo{ID: "post1", Subject: "New menu", URL: "https://x/p/1", ThumbnailURL: "https://x/t.png"}
	fullDeleteReq = &sdk.DeleteRequest{App: fullApp, Credentials: fullCreds, AccountID: "acct", Kind: sdk.SendReviewReply, ExternalID: "r1/reply", ThreadID: "r1"}
)

// echo11 is echo plus every call added in protocol 1.1.
type echo11 struct {
	echo
	media []byte
}

func (e *echo11) AuthorizeURL(_ context.Context, r *sdk.AuthorizeRequest) (*sdk.AuthorizeResponse, error) {
	return &sdk.AuthorizeResponse{URL: "https://relay/authorize?state=" + r.State}, e.record(r)
}
func (e *echo11) ExchangeCode(_ context.Context, r *sdk.ExchangeRequest) (*sdk.Grant, error) {
	return fullGrant, e.record(r)
}
func (e *echo11) SubscribeWebhooks(_ context.Context, r *sdk.CredentialsRequest) error {
	return e.record(r)
}
func (e *echo11) FetchMedia(_ context.Context, r *sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
	if err := e.record(r); err != nil {
		return nil, err
	}
	return &sdk.MediaContent{MimeType: "image/png", Size: int64(len(e.media)), Name: "i.png", Body: io.NopCloser(bytes.NewReader(e.media))}, nil
}
func (e *echo11) ListTemplates(_ context.Context, r *sdk.CredentialsRequest) ([]*sdk.TemplateInfo, error) {
	return []*sdk.TemplateInfo{fullTemplate}, e.record(r)
}
func (e *echo11) LookupContact(_ context.Context, r *sdk.LookupRequest) (*sdk.Contact, error) {
	return fullContact, e.record(r)
}
func (e *echo11) LookupThread(_ context.Context, r *sdk.LookupRequest) (*sdk.ThreadInfo, error) {
	return fullThread, e.record(r)
}
func (e *echo11) Delete(_ context.Context, r *sdk.DeleteRequest) error { return e.record(r) }
func (e *echo11) ValidatePost(_ context.Context, r *sdk.PublishRequest) error {
	return e.record(r)
}

func TestOptionalFixturesAreFull(t *testing.T) {
	t.Parallel()
	for _, v := range []any{fullAuthorizeReq, fullExchangeReq, fullGrant, fullFetchReq, fullTemplate, fullLookupReq,
		fullContact, fullThread, fullDeleteReq} {
		requireFull(t, v)
	}
}

func TestOptionalRoundTrip(t *testing.T) {
	t.Parallel()
	media := make([]byte, 3<<20+17) // several chunks, not a multiple of the chunk size
	_, _ = rand.Read(media)
	e := &echo11{media: media}
	c := sdktest.Connect(t, e)
	ctx := context.Background()

	au, err := c.(sdk.Authorizer).AuthorizeURL(ctx, fullAuthorizeReq)
	require.NoError(t, err)
	require.Equal(t, fullAuthorizeReq, e.last())
	require.Equal(t, "https://relay/authorize?state=st", au.URL)

	g, err := c.(sdk.Authorizer).ExchangeCode(ctx, fullExchangeReq)
	require.NoError(t, err)
	require.Equal(t, fullExchangeReq, e.last())
	require.Equal(t, fullGrant, g)

	require.NoError(t, c.(sdk.WebhookSubscriber).SubscribeWebhooks(ctx, fullCredsReq))
	require.Equal(t, fullCredsReq, e.last())

	mc, err := c.(sdk.MediaFetcher).FetchMedia(ctx, fullFetchReq)
	require.NoError(t, err)
	require.Equal(t, fullFetchReq, e.last())
	require.Equal(t, "image/png", mc.MimeType)
	require.Equal(t, int64(len(media)), mc.Size)
	require.Equal(t, "i.png", mc.Name)
	got, err := io.ReadAll(mc.Body)
	require.NoError(t, err)
	require.NoError(t, mc.Body.Close())
	require.Equal(t, media, got)

	ts, err := c.(sdk.TemplateLister).ListTemplates(ctx, fullCredsReq)
	require.NoError(t, err)
	require.Equal(t, []*sdk.TemplateInfo{fullTemplate}, ts)

	ct, err := c.(sdk.Lookuper).LookupContact(ctx, fullLookupReq)
	require.NoError(t, err)
	require.Equal(t, fullLookupReq, e.last())
	require.Equal(t, fullContact, ct)

	th, err := c.(sdk.Lookuper).LookupThread(ctx, fullLookupReq)
	require.NoError(t, err)
	require.Equal(t, fullThread, th)

	require.NoError(t, c.(sdk.Deleter).Delete(ctx, fullDeleteReq))
	require.Equal(t, fullDeleteReq, e.last())

	require.NoError(t, c.(sdk.PostValidator).ValidatePost(ctx, fullPublishReq))
	require.Equal(t, fullPublishReq, e.last())
}

// A connector that implements none of the 1.1 interfaces answers
// unsupported for each of them, like a plugin built before they existed.
func TestOptionalUnsupported(t *testing.T) {
	t.Parallel()
	c := sdktest.Connect(t, &echo{})
	ctx := context.Background()
	_, err := c.(sdk.Authorizer).AuthorizeURL(ctx, fullAuthorizeReq)
	sdktest.RequireClass(t, sdk.ClassUnsupported, err)
	_, err = c.(sdk.Authorizer).ExchangeCode(ctx, fullExchangeReq)
	sdktest.RequireClass(t, sdk.ClassUnsupported, err)
	sdktest.RequireClass(t, sdk.ClassUnsupported, c.(sdk.WebhookSubscriber).SubscribeWebhooks(ctx, fullCredsReq))
	_, err = c.(sdk.MediaFetcher).FetchMedia(ctx, fullFetchReq)
	sdktest.RequireClass(t, sdk.ClassUnsupported, err)
	_, err = c.(sdk.TemplateLister).ListTemplates(ctx, fullCredsReq)
	sdktest.RequireClass(t, sdk.ClassUnsupported, err)
	_, err = c.(sdk.Lookuper).LookupContact(ctx, fullLookupReq)
	sdktest.RequireClass(t, sdk.ClassUnsupported, err)
	_, err = c.(sdk.Lookuper).LookupThread(ctx, fullLookupReq)
	sdktest.RequireClass(t, sdk.ClassUnsupported, err)
	sdktest.RequireClass(t, sdk.ClassUnsupported, c.(sdk.Deleter).Delete(ctx, fullDeleteReq))
	sdktest.RequireClass(t, sdk.ClassUnsupported, c.(sdk.PostValidator).ValidatePost(ctx, fullPublishReq))
}

// The host's size limit holds even when a plugin ignores MaxBytes.
func TestFetchMediaEnforcesMaxBytes(t *testing.T) {
	t.Parallel()
	e := &echo11{media: make([]byte, 1<<20)}
	c := sdktest.Connect(t, e)
	req := *fullFetchReq
	req.MaxBytes = 300 << 10
	mc, err := c.(sdk.MediaFetcher).FetchMedia(context.Background(), &req)
	if err == nil {
		_, err = io.ReadAll(mc.Body)
		_ = mc.Body.Close()
	}
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "larger than")
}

func TestFetchMediaErrorArrivesAsCallError(t *testing.T) {
	t.Parallel()
	e := &echo11{}
	e.err = sdk.NewError(sdk.ClassAuthRevoked, "190", "token expired")
	c := sdktest.Connect(t, e)
	_, err := c.(sdk.MediaFetcher).FetchMedia(context.Background(), fullFetchReq)
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
}

// failingBody fails after some bytes with a classified error.
type failingBody struct {
	sent int
	err  error
}

func (f *failingBody) Read(p []byte) (int, error) {
	if f.sent > 0 {
		return 0, f.err
	}
	f.sent = copy(p, "partial")
	return f.sent, nil
}
func (f *failingBody) Close() error { return nil }

type failingMedia struct {
	echo11
	err error
}

func (f *failingMedia) FetchMedia(context.Context, *sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
	return &sdk.MediaContent{MimeType: "image/png", Size: -1, Body: &failingBody{err: f.err}}, nil
}

// A connector's classified failure in the middle of a download keeps its
// class across the stream (a checksum mismatch is not worth retrying the
// same way a dropped connection is).
func TestFetchMediaBodyErrorKeepsItsClass(t *testing.T) {
	t.Parallel()
	c := sdktest.Connect(t, &failingMedia{err: sdk.NewError(sdk.ClassPermanent, "sha256", "checksum mismatch")})
	mc, err := c.(sdk.MediaFetcher).FetchMedia(context.Background(), fullFetchReq)
	require.NoError(t, err)
	_, err = io.ReadAll(mc.Body)
	_ = mc.Body.Close()
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "checksum mismatch")

	c = sdktest.Connect(t, &failingMedia{err: io.ErrClosedPipe})
	mc, err = c.(sdk.MediaFetcher).FetchMedia(context.Background(), fullFetchReq)
	require.NoError(t, err)
	_, err = io.ReadAll(mc.Body)
	_ = mc.Body.Close()
	sdktest.RequireClass(t, sdk.ClassRetryable, err)
}
