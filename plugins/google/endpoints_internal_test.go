package google

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
)

func TestEndpoints(t *testing.T) {
	t.Parallel()
	require.Equal(t, endpoints{
		v4:       "https://mybusiness.googleapis.com/v4",
		accounts: "https://mybusinessaccountmanagement.googleapis.com/v1",
		info:     "https://mybusinessbusinessinformation.googleapis.com/v1",
		auth:     "https://accounts.google.com/o/oauth2/v2/auth",
		token:    "https://oauth2.googleapis.com/token",
		revoke:   "https://oauth2.googleapis.com/revoke",
		jwks:     "https://www.googleapis.com/oauth2/v3/certs",
	}, endpointsFor(sdk.App{}))

	// The emulator: one base serves everything.
	require.Equal(t, endpoints{
		v4:       "http://127.0.0.1:9000/v4",
		accounts: "http://127.0.0.1:9000/accountmanagement/v1",
		info:     "http://127.0.0.1:9000/businessinformation/v1",
		auth:     "http://127.0.0.1:9000/o/oauth2/v2/auth",
		token:    "http://127.0.0.1:9000/token",
		revoke:   "http://127.0.0.1:9000/revoke",
		jwks:     "http://127.0.0.1:9000/oauth2/v3/certs",
	}, endpointsFor(sdk.App{APIBaseURL: "http://127.0.0.1:9000/"}))

	// Explicit settings win over both.
	e := endpointsFor(sdk.App{APIBaseURL: "http://127.0.0.1:9000", Settings: map[string]string{
		SettingTokenURL: "https://token.example.com/t/", SettingJWKSURL: "https://keys.example.com/jwks",
		SettingAuthURL: "https://auth.example.com", SettingRevokeURL: "https://revoke.example.com",
		SettingAccountsURL: "https://accounts.example.com/v1", SettingBusinessInfoURL: "https://info.example.com/v1",
	}})
	require.Equal(t, endpoints{
		v4: "http://127.0.0.1:9000/v4", accounts: "https://accounts.example.com/v1", info: "https://info.example.com/v1",
		auth: "https://auth.example.com", token: "https://token.example.com/t", revoke: "https://revoke.example.com",
		jwks: "https://keys.example.com/jwks",
	}, e)
}

func TestStars(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]int{`"ONE"`: 1, `"FIVE"`: 5, `"four"`: 4, `"STAR_RATING_UNSPECIFIED"`: 0, `3`: 3, `"2"`: 2,
		`9`: 0, `null`: 0, ``: 0, `"SIX"`: 0} {
		require.Equal(t, want, stars([]byte(raw)), raw)
	}
}

func TestResourceNames(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "accounts/1", "locations/2", "accounts/1/locations/", "accounts//locations/2",
		"accounts/1/locations/2/extra", "accounts/1/locations/..", "accounts/1/locations/2?x=1", "accounts/1/locations/2#f",
		"accounts/1/locations/a b", "accounts/1/locations/%2e%2e"} {
		_, err := parseLocation(bad)
		require.Error(t, err, bad)
	}
	loc, err := parseLocation("accounts/1/locations/2")
	require.NoError(t, err)
	require.Equal(t, "accounts/1/locations/2", loc.String())

	_, err = parseReview("accounts/1/locations/2/reviews/AbF-_9", "accounts/1/locations/2")
	require.NoError(t, err)
	_, err = parseReview("accounts/1/locations/2/reviews/x", "accounts/1/locations/3")
	require.Error(t, err)
	_, err = parseReview("accounts/1/locations/2/localPosts/x", "")
	require.Error(t, err)
}
