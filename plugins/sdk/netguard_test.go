package sdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for addr, public := range map[string]bool{
		"8.8.8.8": true, "2a03:2880:f003:c07:face:b00c::2": true, "157.240.1.35": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "0.0.0.0": false, "100.64.0.1": false, "::1": false,
		"fe80::1": false, "fc00::1": false, "::ffff:127.0.0.1": false, "64:ff9b::a00:1": false,
		"224.0.0.1": false, "255.255.255.255": false,
	} {
		require.Equal(t, public, sdk.PublicAddr(netip.MustParseAddr(addr)), addr)
	}
}

func TestCheckPublicURL(t *testing.T) {
	t.Parallel()
	require.NoError(t, sdk.CheckPublicURL("https://scontent.xx.fbcdn.net/v/t1/a.jpg?oe=65"))
	require.NoError(t, sdk.CheckPublicURL("http://8.8.8.8/x"))
	for _, bad := range []string{"ftp://example.com/a", "/relative", "http://127.0.0.1:8080/a", "http://[::1]/a",
		"http://localhost/a", "http://media.local/a", "http://metadata.google.internal/a", "http://intranet/a",
		"http://169.254.169.254/latest/meta-data", "http://10.0.0.5/a"} {
		err := sdk.CheckPublicURL(bad)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Equal(t, sdk.CodePrivateAddress, err.(*sdk.Error).Code, bad)
	}
}

// The client checks the address it dials, after resolution: a name that
// resolves to loopback is refused even though the URL looks harmless.
func TestPublicHTTPClientRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret")) }))
	t.Cleanup(srv.Close)
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, byName, nil)
	require.NoError(t, err)
	_, err = sdk.PublicHTTPClient(5*time.Second, false).Do(req)
	require.Error(t, err)
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "not a public address")

	resp, err := sdk.PublicHTTPClient(5*time.Second, true).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
