package meta_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
)

const (
	pageToken = "page-token"
	igToken   = "ig-token"
)

type testBundle struct {
	sandbox *sandbox.Server
	conn    sdk.Connector
	app     sdk.App
	now     time.Time
}

func setup(t *testing.T, opts ...sandbox.Option) *testBundle {
	t.Helper()
	// The wall clock, frozen: webhook builders stamp the current time.
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	sb := sandbox.New(append([]sandbox.Option{sandbox.WithClock(clock), sandbox.WithContainerPolls(2), sandbox.WithAppSecret(appSecret)}, opts...)...)
	sb.AddPage(pageID, "Cafe", pageToken)
	sb.AddInstagramAccount(igID, "cafe", igToken)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &testBundle{
		sandbox: sb,
		conn:    meta.New(meta.WithHTTPClient(srv.Client()), meta.WithClock(clock), meta.WithPublishPollInterval(0), meta.WithPublishMaxPolls(5)),
		app: sdk.App{APIBaseURL: srv.URL + "/v21.0", ClientSecret: appSecret,
			Settings: map[string]string{meta.SettingAllowPrivateMedia: "true"}},
		now: now,
	}
}

func (b *testBundle) fbCreds() sdk.Credentials {
	return sdk.Credentials{AccessToken: pageToken, Extra: map[string]string{meta.ExtraPlatform: meta.PlatformFacebook}}
}

func (b *testBundle) igCreds() sdk.Credentials {
	return sdk.Credentials{AccessToken: igToken, Extra: map[string]string{meta.ExtraPlatform: meta.PlatformInstagram}}
}

func (b *testBundle) dm(text string, human bool) *sdk.SendRequest {
	return &sdk.SendRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID, Kind: sdk.SendDirect,
		RecipientID: psid, ThreadID: psid, Text: text, HumanAgent: human}
}

func TestSendDirect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("text within the window", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.Seen(pageID, psid, b.now.Add(-time.Hour))
		res, err := b.conn.Send(ctx, b.dm("hello back", false))
		require.NoError(t, err)
		require.NotEmpty(t, res.ExternalID)
		require.Equal(t, sdk.StatusSent, res.Status)
		sent, err := b.sandbox.WaitSent(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, "message", sent[0].Kind)
		require.Equal(t, psid, sent[0].RecipientID)
		require.Equal(t, "RESPONSE", sent[0].MessagingType)
		require.Empty(t, sent[0].Tag)
		require.Equal(t, "hello back", sent[0].Text)
		require.Equal(t, res.ExternalID, sent[0].ID)
	})

	t.Run("attachments go one per message before the text", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.Seen(pageID, psid, b.now.Add(-time.Hour))
		req := b.dm("see attached", false)
		req.Attachments = []sdk.Attachment{{Type: "image", URL: "https://cdn.example.com/a.jpg"}, {Type: "document", URL: "https://cdn.example.com/a.pdf"}}
		res, err := b.conn.Send(ctx, req)
		require.NoError(t, err)
		sent := b.sandbox.SentMessages()
		require.Len(t, sent, 3)
		require.Equal(t, "image", sent[0].AttachmentType)
		require.Equal(t, "https://cdn.example.com/a.jpg", sent[0].AttachmentURL)
		require.Equal(t, "file", sent[1].AttachmentType)
		require.Equal(t, "see attached", sent[2].Text)
		require.Equal(t, sent[2].ID, res.ExternalID)
	})

	t.Run("RESPONSE is refused after 24 hours", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.Seen(pageID, psid, b.now.Add(-25*time.Hour))
		_, err := b.conn.Send(ctx, b.dm("too late", false))
		require.ErrorIs(t, err, sdk.ErrWindowClosed)
		require.Contains(t, err.Error(), "2018278")
		require.Empty(t, b.sandbox.SentMessages())
	})

	t.Run("a never-seen person is outside the window", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.Send(ctx, b.dm("hi", false))
		require.ErrorIs(t, err, sdk.ErrWindowClosed)
	})

	// A person's reply goes as RESPONSE while the window is open, and is
	// sent again with HUMAN_AGENT only when Meta refuses it as outside
	// 24 h and the app holds the permission.
	humanAgent := func(b *testBundle) { b.app.Settings[meta.SettingHumanAgentTag] = "true" }

	t.Run("a person's reply within 24 hours is RESPONSE, without a tag", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		humanAgent(b)
		b.sandbox.Seen(pageID, psid, b.now.Add(-23*time.Hour))
		_, err := b.conn.Send(ctx, b.dm("a person answers", true))
		require.NoError(t, err)
		sent := b.sandbox.SentMessages()
		require.Len(t, sent, 1)
		require.Equal(t, "RESPONSE", sent[0].MessagingType)
		require.Empty(t, sent[0].Tag)
		require.Equal(t, 1, b.sandbox.Requests())
	})

	t.Run("HUMAN_AGENT between 24 hours and 7 days, with the permission", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		humanAgent(b)
		b.sandbox.Seen(pageID, psid, b.now.Add(-6*24*time.Hour))
		req := b.dm("a person answers", true)
		req.Attachments = []sdk.Attachment{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}
		_, err := b.conn.Send(ctx, req)
		require.NoError(t, err)
		sent := b.sandbox.SentMessages()
		require.Len(t, sent, 2)
		for _, m := range sent {
			require.Equal(t, "MESSAGE_TAG", m.MessagingType)
			require.Equal(t, "HUMAN_AGENT", m.Tag)
		}
		require.Equal(t, 3, b.sandbox.Requests(), "one refused RESPONSE, then tagged messages only")
	})

	t.Run("no HUMAN_AGENT without the permission", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.Seen(pageID, psid, b.now.Add(-6*24*time.Hour))
		_, err := b.conn.Send(ctx, b.dm("a person answers", true))
		require.ErrorIs(t, err, sdk.ErrWindowClosed)
		require.Contains(t, err.Error(), "Human Agent permission")
		require.Empty(t, b.sandbox.SentMessages())
		require.Equal(t, 1, b.sandbox.Requests())
	})

	t.Run("no HUMAN_AGENT for an automated reply", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		humanAgent(b)
		b.sandbox.Seen(pageID, psid, b.now.Add(-6*24*time.Hour))
		_, err := b.conn.Send(ctx, b.dm("a bot answers", false))
		require.ErrorIs(t, err, sdk.ErrWindowClosed)
		require.Empty(t, b.sandbox.SentMessages())
	})

	t.Run("HUMAN_AGENT is refused after 7 days", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		humanAgent(b)
		b.sandbox.Seen(pageID, psid, b.now.Add(-8*24*time.Hour))
		_, err := b.conn.Send(ctx, b.dm("a person answers", true))
		require.ErrorIs(t, err, sdk.ErrWindowClosed)
		require.Contains(t, err.Error(), "7 days")
		require.Empty(t, b.sandbox.SentMessages())
	})

	t.Run("instagram window subcode", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.Seen(igID, igsid, b.now.Add(-30*time.Hour))
		req := &sdk.SendRequest{App: b.app, Credentials: b.igCreds(), AccountID: igID, Kind: sdk.SendDirect, RecipientID: igsid, Text: "late"}
		_, err := b.conn.Send(ctx, req)
		require.ErrorIs(t, err, sdk.ErrWindowClosed)
		require.Contains(t, err.Error(), "2534022")

		b.sandbox.Observe(sandbox.InstagramDM(igID, igsid, "hello again"))
		res, err := b.conn.Send(ctx, req)
		require.NoError(t, err)
		require.NotEmpty(t, res.ExternalID)
	})

	t.Run("a template is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		req := b.dm("", false)
		req.Template = &sdk.Template{Name: "x"}
		_, err := b.conn.Send(ctx, req)
		require.ErrorIs(t, err, sdk.ErrPermanent)
	})
}

func TestSendComments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("facebook public reply", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := b.conn.Send(ctx, &sdk.SendRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID,
			Kind: sdk.SendCommentPublic, RecipientID: "900_3001", ThreadID: pageID + "_900", Text: "Thanks!"})
		require.NoError(t, err)
		sent := b.sandbox.SentMessages()
		require.Len(t, sent, 1)
		require.Equal(t, "comment_reply", sent[0].Kind)
		require.Equal(t, "900_3001", sent[0].RecipientID)
		require.Equal(t, "Thanks!", sent[0].Text)
		require.Equal(t, sent[0].ID, res.ExternalID)
	})

	t.Run("instagram public reply uses /replies", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.Send(ctx, &sdk.SendRequest{App: b.app, Credentials: b.igCreds(), AccountID: igID,
			Kind: sdk.SendCommentPublic, RecipientID: "17865799348089039", Text: "Thanks!"})
		require.NoError(t, err)
		sent := b.sandbox.SentMessages()
		require.Len(t, sent, 1)
		require.Equal(t, "reply", sent[0].Kind)
	})

	private := func(b *testBundle, comment string) *sdk.SendRequest {
		return &sdk.SendRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID,
			Kind: sdk.SendCommentPrivate, RecipientID: comment, Text: "We sent you details in private"}
	}

	t.Run("private reply once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.Observe(sandbox.PageComment(pageID, pageID+"_900", "900_77", "7777", "Ada", "price?", "add"))
		res, err := b.conn.Send(ctx, private(b, "900_77"))
		require.NoError(t, err)
		require.NotEmpty(t, res.ExternalID)
		sent := b.sandbox.SentMessages()
		require.Equal(t, "private_reply", sent[0].Kind)
		require.Equal(t, "900_77", sent[0].RecipientID)

		_, err = b.conn.Send(ctx, private(b, "900_77"))
		require.ErrorIs(t, err, sdk.ErrPermanent)
		require.Contains(t, err.Error(), "already has a private reply")
		require.Len(t, b.sandbox.SentMessages(), 1)
	})

	t.Run("private reply within 7 days", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.Commented("900_old", b.now.Add(-8*24*time.Hour))
		_, err := b.conn.Send(ctx, private(b, "900_old"))
		require.ErrorIs(t, err, sdk.ErrPermanent)
		require.Contains(t, err.Error(), "7 days")

		b.sandbox.Commented("900_recent", b.now.Add(-6*24*time.Hour))
		_, err = b.conn.Send(ctx, private(b, "900_recent"))
		require.NoError(t, err)
	})
}

func TestSendErrorClasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name                  string
		status, code, subcode int
		want                  *sdk.Error
	}{
		{"window closed", 400, 10, 2018278, sdk.ErrWindowClosed},
		{"instagram window closed", 400, 10, 2534022, sdk.ErrWindowClosed},
		{"person unavailable", 400, 551, 1545041, sdk.ErrPermanent},
		{"app rate limit", 400, 4, 0, sdk.ErrRetryable},
		{"user rate limit", 400, 17, 0, sdk.ErrRetryable},
		{"page rate limit", 400, 32, 0, sdk.ErrRetryable},
		{"calls exceeded", 400, 613, 0, sdk.ErrRetryable},
		{"business use case limit", 400, 80006, 0, sdk.ErrRetryable},
		{"HTTP 429", 429, 0, 0, sdk.ErrRetryable},
		{"server error", 500, 2, 0, sdk.ErrRetryable},
		{"bad gateway without body code", 502, 0, 0, sdk.ErrRetryable},
		{"expired token", 400, 190, 463, sdk.ErrAuthRevoked},
		{"session invalid", 400, 102, 0, sdk.ErrAuthRevoked},
		{"session expired", 400, 463, 0, sdk.ErrAuthRevoked},
		{"HTTP 401", 401, 0, 0, sdk.ErrAuthRevoked},
		{"permission", 403, 10, 0, sdk.ErrPermanent},
		{"invalid parameter", 400, 100, 0, sdk.ErrPermanent},
		{"permissions 2xx code", 400, 200, 0, sdk.ErrPermanent},
		{"private reply already sent", 400, 10900, 0, sdk.ErrPermanent},
		{"private reply already sent subcode", 400, 100, 2018324, sdk.ErrPermanent},
		{"publishing limit", 400, 9, 2207042, sdk.ErrPermanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sandbox.Seen(pageID, psid, b.now)
			b.sandbox.FailNext(1, tc.status, tc.code, tc.subcode, "injected")
			_, err := b.conn.Send(ctx, b.dm("hi", false))
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), "injected")
			// The failure was consumed: the next send goes through.
			_, err = b.conn.Send(ctx, b.dm("hi", false))
			require.NoError(t, err)
		})
	}

	t.Run("network error is retryable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := meta.New()
		_, err := c.Send(ctx, &sdk.SendRequest{App: sdk.App{APIBaseURL: srv.URL}, Credentials: sdk.Credentials{AccessToken: "t"},
			AccountID: pageID, Kind: sdk.SendDirect, RecipientID: psid, Text: "hi"})
		require.ErrorIs(t, err, sdk.ErrRetryable)
	})

	t.Run("retry-after and is_transient", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"try later","code":1200,"is_transient":true}}`))
		}))
		t.Cleanup(srv.Close)
		_, err := meta.New(meta.WithHTTPClient(srv.Client())).Send(ctx, &sdk.SendRequest{App: sdk.App{APIBaseURL: srv.URL},
			Credentials: sdk.Credentials{AccessToken: "t"}, AccountID: pageID, Kind: sdk.SendDirect, RecipientID: psid, Text: "hi"})
		require.ErrorIs(t, err, sdk.ErrRetryable)
		var e *sdk.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 7*time.Second, e.RetryAfter)
	})

	t.Run("a wrong appsecret_proof is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.Seen(pageID, psid, b.now)
		req := b.dm("hi", false)
		req.App.ClientSecret = "another app"
		_, err := b.conn.Send(ctx, req)
		require.ErrorIs(t, err, sdk.ErrPermanent)
		require.Contains(t, err.Error(), "appsecret_proof")
	})

	t.Run("an unknown token is auth revoked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		req := b.dm("hi", false)
		req.Credentials.AccessToken = "stolen"
		_, err := b.conn.Send(ctx, req)
		require.ErrorIs(t, err, sdk.ErrAuthRevoked)
	})
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("validate a page", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		info, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: pageToken}, AccountID: pageID})
		require.NoError(t, err)
		require.Equal(t, &sdk.AccountInfo{AccountID: pageID, Name: "Cafe", Platform: meta.PlatformFacebook}, info)
	})

	t.Run("validate an instagram account", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		info, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: igToken}, AccountID: igID})
		require.NoError(t, err)
		require.Equal(t, igID, info.AccountID)
		require.Equal(t, "cafe", info.Name)
		require.Equal(t, meta.PlatformInstagram, info.Platform)
	})

	// A Page with a vanity name (facebook.com/cafe) answers /me with a
	// username, as Instagram accounts do: it is told apart by its
	// category, a field Instagram accounts do not have. It used to be
	// connected as Instagram, and its comment replies sent to /replies.
	t.Run("a page with a username is still facebook", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.SetUsername(pageID, "cafe")
		info, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: pageToken}, AccountID: pageID})
		require.NoError(t, err)
		require.Equal(t, &sdk.AccountInfo{AccountID: pageID, Name: "Cafe", Platform: meta.PlatformFacebook}, info)
	})

	t.Run("an instagram account opened with its page's token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.SetUsername(pageID, "cafe")
		info, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: pageToken}, AccountID: igID})
		require.NoError(t, err)
		require.Equal(t, igID, info.AccountID)
		require.Equal(t, meta.PlatformInstagram, info.Platform)
	})

	t.Run("an unknown account is an error, not instagram", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: pageToken}, AccountID: "999"})
		require.ErrorIs(t, err, sdk.ErrPermanent)
	})

	t.Run("revoke, then the token is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		req := &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: pageToken}, AccountID: pageID}
		require.NoError(t, b.conn.Revoke(ctx, req))
		_, err := b.conn.ValidateCredentials(ctx, req)
		require.ErrorIs(t, err, sdk.ErrAuthRevoked)
		require.ErrorIs(t, b.conn.Revoke(ctx, req), sdk.ErrAuthRevoked)
	})

	t.Run("refresh is unsupported", func(t *testing.T) {
		t.Parallel()
		_, err := meta.New().RefreshCredentials(ctx, &sdk.CredentialsRequest{})
		require.ErrorIs(t, err, sdk.ErrUnsupported)
	})

	t.Run("missing token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app})
		require.ErrorIs(t, err, sdk.ErrAuthRevoked)
	})
}
