package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// The demo editors (clients/js/demo, bundled with the browser SDK by
// clients/js/build.mjs): the canvas demo at /demo/ and the one built with
// the SDK's React bindings at /demo/react/. The files are build output committed to the
// repository; `node build.mjs --check` fails when they are stale.
//
//go:embed web
var webFiles embed.FS

// webRoot is the URL path the demo is served under.
const webRoot = "/demo/"

// webCSP is the demo's Content-Security-Policy: its own script and style
// only, and websockets to its own origin (the page connects to /v1/sync on
// the host it was loaded from, which the session handler's Origin check
// accepts without --allowed-origins).
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// webTypes are the content types of the files the build writes (fixed
// here rather than taken from the host's mime tables, which differ).
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

type webAsset struct {
	body  []byte
	ctype string
	etag  string
}

// WebHandler serves the embedded demo editors: GET /demo/ (index.html) and
// its assets under /demo/, the React demo at /demo/react/ (a page's folder
// named without its slash is redirected to it), and a redirect from / to
// /demo/ that keeps the query (so /?wf=demo&user=alice opens the demo).
// Mount it with RegisterWeb, or on those two patterns yourself.
//
// The page reads its token from the URL (?token=…, or ?user=… with --dev),
// so every response carries Referrer-Policy: no-referrer, and a strict CSP.
func WebHandler() http.Handler {
	assets := loadWebAssets()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		target := webRoot
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, target, http.StatusFound)
	})
	mux.HandleFunc("GET "+webRoot, func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, webRoot)
		if name == "" || strings.HasSuffix(name, "/") {
			name += "index.html"
		}
		a, ok := assets[name]
		if !ok {
			// A page's folder named without its slash (/demo/react): its
			// relative asset URLs only resolve under the slash.
			if _, page := assets[name+"/index.html"]; page {
				target := webRoot + name + "/"
				if r.URL.RawQuery != "" {
					target += "?" + r.URL.RawQuery
				}
				w.Header().Set("Referrer-Policy", "no-referrer")
				http.Redirect(w, r, target, http.StatusFound)
				return
			}
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		// The names are not content-hashed: revalidate every time (a 304
		// thanks to the ETag) so a new binary never serves a stale page.
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", webCSP)
		h.Set("X-Frame-Options", "DENY")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
	return mux
}

// RegisterWeb mounts WebHandler on mux at GET /demo/ and GET / (exactly
// "/", so nothing else the server routes is shadowed; a catch-all "GET /"
// would also conflict with the method-less /admin/ pattern).
func RegisterWeb(mux *http.ServeMux) {
	h := WebHandler()
	mux.Handle("GET "+webRoot, h)
	mux.Handle("GET /{$}", h)
}

// loadWebAssets reads every embedded file once, with its content type and
// a strong ETag of its content.
func loadWebAssets() map[string]webAsset {
	root, err := fs.Sub(webFiles, "web")
	if err != nil { // cannot happen: "web" is a valid path
		panic(err)
	}
	assets := map[string]webAsset{}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		ctype, ok := webTypes[path.Ext(p)]
		if !ok {
			ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		assets[p] = webAsset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil { // cannot happen: an embed.FS does not fail to read
		panic(err)
	}
	return assets
}
