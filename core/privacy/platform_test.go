package privacy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/privacy"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/plugins/sdk"
)

func TestMetaDataDeletion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		a := seed(t, b, "m1")
		other := seed(t, b, "m2")
		h := &privacy.MetaDeletion{Privacy: b.svc, AppSecret: func() string { return "meta-app-secret" }}
		mux := http.NewServeMux()
		mux.Handle("POST /privacy/meta/data-deletion", h)
		mux.HandleFunc("GET /privacy/meta/data-deletion/status", h.ServeStatus)
		post := func(signed string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/privacy/meta/data-deletion",
				strings.NewReader(url.Values{"signed_request": {signed}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			mux.ServeHTTP(rec, req)
			return rec
		}
		now := b.clock.Now()
		sr := privacy.SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: now.Unix(), UserID: a.alice.externalID}

		// Forged, tampered, expired or malformed: 403 and nothing changes.
		for name, signed := range map[string]string{
			"forged":    privacy.SignRequest(sr, "not-the-secret"),
			"expired":   privacy.SignRequest(privacy.SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: now.Add(-2 * time.Hour).Unix(), UserID: sr.UserID}, "meta-app-secret"),
			"future":    privacy.SignRequest(privacy.SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: now.Add(time.Hour).Unix(), UserID: sr.UserID}, "meta-app-secret"),
			"algorithm": privacy.SignRequest(privacy.SignedRequest{Algorithm: "none", IssuedAt: now.Unix(), UserID: sr.UserID}, "meta-app-secret"),
			"tampered":  tamper(privacy.SignRequest(sr, "meta-app-secret"), other.alice.externalID),
			"empty":     "",
			"garbage":   "abc.def",
		} {
			rec := post(signed)
			require.Equal(t, http.StatusForbidden, rec.Code, name)
		}
		require.NotEmpty(t, scanDB(t, b.s, a.alice.needles()...))
		require.NotEmpty(t, scanDB(t, b.s, other.alice.needles()...))

		rec := post(privacy.SignRequest(sr, "meta-app-secret"))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var out struct {
			URL  string `json:"url"`
			Code string `json:"confirmation_code"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
		require.NotEmpty(t, out.Code)
		require.Equal(t, "https://neksio.example.com/privacy/meta/data-deletion/status?code="+out.Code, out.URL)
		require.Empty(t, scanDB(t, b.s, a.alice.needles()...))
		require.Empty(t, scanDir(t, b.dir, a.alice.needles()...))
		require.NotEmpty(t, scanDB(t, b.s, a.bob.name), "only the person Meta named")
		require.NotEmpty(t, scanDB(t, b.s, other.alice.name))

		status := httptest.NewRecorder()
		mux.ServeHTTP(status, httptest.NewRequest(http.MethodGet, "/privacy/meta/data-deletion/status?code="+out.Code, nil))
		require.Equal(t, http.StatusOK, status.Code)
		require.Contains(t, status.Body.String(), `"completed"`)
		status = httptest.NewRecorder()
		// A code that differs in its last character is not found (flip it
		// to a character the real code does not end with).
		last := "0"
		if strings.HasSuffix(out.Code, last) {
			last = "1"
		}
		mux.ServeHTTP(status, httptest.NewRequest(http.MethodGet, "/privacy/meta/data-deletion/status?code="+out.Code[:len(out.Code)-1]+last, nil))
		require.Equal(t, http.StatusNotFound, status.Code)
	})
}

// tamper swaps the payload's user for another, keeping the signature.
func tamper(signed, user string) string {
	sig, _, _ := strings.Cut(signed, ".")
	forged := privacy.SignRequest(privacy.SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: time.Now().Unix(), UserID: user}, "x")
	_, payload, _ := strings.Cut(forged, ".")
	return sig + "." + payload
}

// TestAuthorizationRemoved: TikTok's authorization.removed, through the
// inbox's ingestion, erases what the authorization brought.
func TestAuthorizationRemoved(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		a := seed(t, b, "t1")
		other := seed(t, b, "t2")
		in := &inbox.Service{Store: b.s, OnAuthorizationRemoved: b.svc.AuthorizationRemoved}
		sys := tenant.NewContext(context.Background(), tenant.System(a.ws, "webhook"))
		ch := b.s.Ent.Channel.Query().OnlyX(sys)
		err := b.s.InTx(sys, func(tx *store.Tx) error {
			_, err := in.Ingest(sys, tx, ch, []*sdk.Event{{Kind: sdk.EventAccount,
				Account: &sdk.AccountEvent{Type: "authorization_removed", Detail: map[string]string{"reason": "1"}}}})
			return err
		})
		require.NoError(t, err)
		for _, p := range []person{a.alice, a.bob} {
			require.Empty(t, scanDB(t, b.s, p.needles()...))
			require.Empty(t, scanDir(t, b.dir, p.needles()...))
		}
		ch = b.s.Ent.Channel.GetX(sys, ch.ID)
		require.Equal(t, channel.StatusNeedsReconnect, ch.Status)
		require.Empty(t, ch.Credentials)
		require.NotEmpty(t, scanDB(t, b.s, other.alice.needles()...))
	})
}
