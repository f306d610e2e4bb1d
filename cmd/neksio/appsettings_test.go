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
