package imagetest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Registry is an in-memory registry served over plain HTTP on 127.0.0.1.
type Registry struct {
	Host   string // host:port
	server *httptest.Server
}

// NewRegistry starts a registry; each wrapper (outermost last) may change how
// it answers, e.g. RequireBasicAuth.
func NewRegistry(wrappers ...func(http.Handler) http.Handler) *Registry {
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	for _, w := range wrappers {
		h = w(h)
	}
	server := httptest.NewServer(h)
	return &Registry{Host: strings.TrimPrefix(server.URL, "http://"), server: server}
}

// Close stops the registry.
func (r *Registry) Close() { r.server.Close() }

// StartRegistry starts a registry that lives as long as the test process and
// returns its host:port.
func StartRegistry() string { return NewRegistry().Host }

// Push uploads img as host/repo:tag. Pass remote.WithAuth for a registry that
// requires credentials.
func Push(host, repo, tag string, img v1.Image, opts ...remote.Option) error {
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// WriteOCILayout writes img into an OCI layout at dir (created if needed),
// tagged tag (the org.opencontainers.image.ref.name annotation).
func WriteOCILayout(dir string, img v1.Image, tag string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("creating OCI layout %s: %w", dir, err)
		}
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	}))
}

// WriteDockerArchive writes img as a `docker save` tarball at path, named
// ref (e.g. "diego/busybox:latest").
func WriteDockerArchive(path string, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(path, tag, img)
}

// RequireBasicAuth makes a registry answer 401 (with a Basic challenge) to
// any request without exactly these credentials.
func RequireBasicAuth(username, password string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != username || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="imagetest"`)
				registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Refuse makes a registry answer every request with 403 DENIED.
func Refuse() func(http.Handler) http.Handler {
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			registryError(w, http.StatusForbidden, "DENIED", "refused by the test registry")
		})
	}
}

// CorruptBlob makes a registry serve the blob digest with its last byte
// flipped: same size, wrong content, as a failing disk or proxy would.
func CorruptBlob(digest v1.Hash) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+digest.String()) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := bytes.Clone(rec.Body.Bytes())
			if rec.Code == http.StatusOK && len(body) > 0 {
				body[len(body)-1] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	}
}

func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, message)
}
