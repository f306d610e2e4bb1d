package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/tiktok"
)

// NEKSIO_TIKTOK_* reach the connector under the names it reads.
func TestAppSettingsTikTok(t *testing.T) {
	t.Parallel()
	app := appSettings([]string{
		"NEKSIO_TIKTOK_CLIENT_KEY=key", "NEKSIO_TIKTOK_CLIENT_SECRET=secret",
		"NEKSIO_TIKTOK_API_BASE_URL=http://open", "NEKSIO_TIKTOK_BUSINESS_API_BASE_URL=http://biz/open_api/v1.3",
		"NEKSIO_TIKTOK_AUTH_URL=http://auth", "NEKSIO_TIKTOK_AUDITED=true", "NEKSIO_META_APP_SECRET=not-tiktok's",
	}, "tiktok")
	require.Equal(t, "key", app.Settings[tiktok.SettingClientKey])
	require.Equal(t, "secret", app.ClientSecret)
	require.Equal(t, "http://open", app.APIBaseURL)
	require.Equal(t, "http://biz/open_api/v1.3", app.Settings[tiktok.SettingBusinessAPIBaseURL])
	require.Equal(t, "http://auth", app.Settings[tiktok.SettingAuthURL])
	require.Equal(t, "true", app.Settings[tiktok.SettingAudited])
	require.NotContains(t, app.Settings, "app_secret")
}

// A third-party connector's name is spelled as its request quota's is:
// "my-relay" reads NEKSIO_MY_RELAY_*.
func TestAppSettingsHyphenatedName(t *testing.T) {
	t.Parallel()
	app := appSettings([]string{"NEKSIO_MY_RELAY_APP_SECRET=s", "NEKSIO_MY_RELAY_API_BASE_URL=http://relay"}, "my-relay")
	require.Equal(t, "s", app.ClientSecret)
	require.Equal(t, "http://relay", app.APIBaseURL)
}
