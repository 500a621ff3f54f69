package dashboard

import (
	"bytes"
	"embed"
	"net/http"
	"time"
)

//go:embed static
var static embed.FS

// paths are the URL paths the page is made of, with their embedded files.
func paths() map[string]string {
	return map[string]string{
		"/":              "static/index.html",
		"/dashboard.css": "static/dashboard.css",
		"/dashboard.js":  "static/dashboard.js",
	}
}

// Mount serves the page on mux at exactly GET / and its two asset paths, and
// claims nothing else, so the mux's own answers for unknown paths (the
// receptor's typed 404 and 405) are unchanged. Mount it on the receptor's mux,
// behind the same basic auth as the API: the page's fetch and EventSource calls
// are same-origin, so the browser resends the credentials it was given.
func Mount(mux *http.ServeMux) {
	h := Handler()
	for path := range paths() {
		if path == "/" {
			path = "/{$}"
		}
		mux.Handle("GET "+path, h)
	}
}

// Handler serves the page at "/" and its two assets (/dashboard.css,
// /dashboard.js); any other path answers 404. The page names the assets and the
// API by relative URLs, so it also works under a prefix with http.StripPrefix.
func Handler() http.Handler {
	names := paths()
	files := make(map[string][]byte, len(names))
	for path, name := range names {
		data, err := static.ReadFile(name)
		if err != nil {
			panic("dashboard: missing embedded asset " + name) // a build defect, caught by the tests
		}
		files[path] = data
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		// Always revalidate, so that a receptor upgrade is seen on the next load.
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		// ServeContent picks the Content-Type from the name's extension.
		http.ServeContent(w, r, names[r.URL.Path], time.Time{}, bytes.NewReader(data))
	})
}
