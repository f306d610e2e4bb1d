package playground

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The page loads nothing from another host: every script and stylesheet it
// references is served by the binary, with a matching integrity hash.
func TestPageAndAssetsAreLocal(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", Page("Neksio GraphQL", "/graphql"))
	mux.Handle("GET "+AssetsPath, Assets())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	page := get(t, srv.URL+"/", http.StatusOK)
	require.NotContains(t, page, "http://", "the page names no other host")
	require.NotContains(t, page, "https://", "the page names no other host")
	require.NotContains(t, page, "cdn.", "the page names no CDN")

	refs := checkAssets(t, srv.URL, page)
	require.Len(t, refs, 4, "GraphiQL's script and stylesheet, React, ReactDOM")

	get(t, srv.URL+AssetsPath+"nope.js", http.StatusNotFound)
	get(t, srv.URL+AssetsPath, http.StatusNotFound)
	get(t, srv.URL+AssetsPath+"../playground.go", http.StatusNotFound)
}

// A repeat load can be answered from the browser's cache.
func TestAssetsRevalidate(t *testing.T) {
	srv := httptest.NewServer(Assets())
	defer srv.Close()
	resp, err := http.Get(srv.URL + AssetsPath + "react.production.min.js")
	require.NoError(t, err)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+AssetsPath+"react.production.min.js", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
}

var anyRefRE = regexp.MustCompile(`\b(?:src|href)=`)

var refRE = regexp.MustCompile(`(?s)<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"[^>]*?integrity="([^"]+)"`)

// checkAssets fetches every script and stylesheet page references from
// base, requires each to be a local path that answers 200 with a body
// matching its integrity attribute, and returns the paths.
func checkAssets(t testing.TB, base, page string) []string {
	t.Helper()
	var refs []string
	for _, m := range refRE.FindAllStringSubmatch(page, -1) {
		ref, integrity := html.UnescapeString(m[1]), html.UnescapeString(m[2])
		require.True(t, strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "//"), "%s is not a local path", ref)
		body := get(t, base+ref, http.StatusOK)
		sum := sha256.Sum256([]byte(body))
		require.Equal(t, "sha256-"+base64.StdEncoding.EncodeToString(sum[:]), integrity, ref)
		refs = append(refs, ref)
	}
	// Nothing is loaded without an integrity attribute either.
	require.Len(t, anyRefRE.FindAllString(page, -1), len(refs), "every src and href is checked above")
	return refs
}

func get(t testing.TB, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, resp.StatusCode, url)
	return string(b)
}
