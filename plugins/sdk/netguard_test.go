package sdk_test

import (
	"context"
	"io"
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

func download(t *testing.T, h http.HandlerFunc, max int64) (*sdk.MediaContent, []byte, error) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	mc, err := sdk.MediaFromResponse(resp, max, "fallback.bin")
	if err != nil {
		return nil, nil, err
	}
	defer mc.Body.Close()
	b, err := io.ReadAll(mc.Body)
	return mc, b, err
}

func TestMediaFromResponse(t *testing.T) {
	t.Parallel()
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...)

	// No type named: sniffed. Exactly max bytes is fine.
	mc, b, err := download(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(png)
	}, int64(len(png)))
	require.NoError(t, err)
	require.Equal(t, "image/png", mc.MimeType)
	require.Equal(t, "fallback.bin", mc.Name)
	require.Equal(t, png, b)

	// The server's type and file name win.
	mc, _, err = download(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/PDF; charset=binary")
		w.Header().Set("Content-Disposition", `attachment; filename="menu.pdf"`)
		_, _ = w.Write([]byte("%PDF-1.7"))
	}, 0)
	require.NoError(t, err)
	require.Equal(t, "application/pdf", mc.MimeType)
	require.Equal(t, "menu.pdf", mc.Name)

	// A declared length over the cap is refused before reading.
	_, _, err = download(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(png) }, 10)
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Equal(t, sdk.CodeTooLarge, err.(*sdk.Error).Code)

	// An undeclared length over the cap fails the body, not truncates it.
	_, _, err = download(t, func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush() // chunked: no Content-Length
		_, _ = w.Write(png)
	}, 10)
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "larger than 10 bytes")
}
