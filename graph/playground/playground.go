// Package playground serves GraphiQL with its assets (GraphiQL, React and
// ReactDOM, vendored under assets/ by scripts/fetch-graphiql.sh) from the
// binary, so the playground works on a machine without internet access.
// The page itself is gqlgen's GraphiQL template, pointed at local URLs.
package playground

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// AssetsPath is where Assets is mounted; the page references its files
// under it.
const AssetsPath = "/playground/assets/"

//go:embed assets/*.js assets/*.css
var files embed.FS

type asset struct {
	body        []byte
	contentType string
	etag        string
	// sri is the Subresource Integrity value of body.
	sri string
}

var assets = func() map[string]asset {
	out := map[string]asset{}
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(files, "assets/"+e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ct := "text/javascript; charset=utf-8"
		if path.Ext(e.Name()) == ".css" {
			ct = "text/css; charset=utf-8"
		}
		out[e.Name()] = asset{
			body:        b,
			contentType: ct,
			etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
			sri:         "sha256-" + base64.StdEncoding.EncodeToString(sum[:]),
		}
	}
	return out
}()

func url(name string) string { return AssetsPath + name }

// Page serves the GraphiQL page for endpoint (a path such as "/graphql").
// Every script and stylesheet it loads comes from AssetsPath, with its
// integrity hash.
func Page(title, endpoint string) http.Handler {
	js, css := assets["graphiql.min.js"], assets["graphiql.min.css"]
	react, reactDOM := assets["react.production.min.js"], assets["react-dom.production.min.js"]
	return gqlplayground.Handler(title, endpoint,
		gqlplayground.WithGraphiqlVersion(url("graphiql.min.js"), url("graphiql.min.css"), js.sri, css.sri),
		gqlplayground.WithGraphiqlReactVersion(url("react.production.min.js"), url("react-dom.production.min.js"), react.sri, reactDOM.sri),
		// The explorer plugin is not vendored; the page must not load it.
		gqlplayground.WithGraphiqlEnablePluginExplorer(false),
	)
}

// Assets serves the vendored files; mount it at AssetsPath.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, AssetsPath)
		a, found := assets[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("ETag", a.etag)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
