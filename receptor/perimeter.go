package receptor

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// Defaults of the perimeter.
const (
	DefaultMaxStreamsPerClient = 16
)

// Errors of the perimeter (docs/api.md).
var (
	// ErrUnsupportedMediaType answers a POST, PUT or DELETE whose
	// Content-Type is not application/json: what a cross-site form or a
	// no-cors fetch sends without a preflight.
	ErrUnsupportedMediaType = &models.Error{Name: "UnsupportedMediaType", Message: "the request must be Content-Type: application/json", Status: http.StatusUnsupportedMediaType}
	// ErrHostNotAllowed answers a request whose Host is not in AllowedHosts.
	ErrHostNotAllowed = &models.Error{Name: "HostNotAllowed", Message: "the request's Host is not served here", Status: http.StatusMisdirectedRequest}
	// ErrTooManyStreams answers an event or log stream beyond the client's cap.
	ErrTooManyStreams = &models.Error{Name: "TooManyStreams", Message: "too many open streams", Status: http.StatusTooManyRequests}
)

// TLSFiles are the receptor's server certificate and key (PEM). Both empty
// means plain HTTP.
type TLSFiles struct {
	// CertFile is the PEM certificate the public API is served with over
	// HTTPS. Default "" (plain HTTP).
	CertFile string `json:"tls_cert_file,omitempty"`
	// KeyFile is the PEM file of CertFile's private key. Default "".
	KeyFile string `json:"tls_key_file,omitempty"`
}

// Enabled reports whether HTTPS is configured.
func (t TLSFiles) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Listen opens the public API's listener on address: TLS with the
// certificate when files are given (no client certificate is asked for:
// clients authenticate with basic auth), else plain TCP.
func Listen(address string, files TLSFiles) (net.Listener, error) {
	var cfg *tls.Config
	if files.Enabled() {
		if files.CertFile == "" || files.KeyFile == "" {
			return nil, fmt.Errorf("receptor: HTTPS needs tls_cert_file and tls_key_file together")
		}
		cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("receptor: loading the certificate: %w", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("receptor: listening on %s: %w", address, err)
	}
	if cfg != nil {
		l = tls.NewListener(l, cfg)
	}
	return l, nil
}

// CheckExposure refuses a receptor that anyone beyond this machine could
// reach without credentials: listenAddress not on loopback (all addresses,
// a routable address or a host name) needs a username and a password,
// unless allowAnonymous says the operator wants it open.
func CheckExposure(listenAddress, username, password string, allowAnonymous bool) error {
	if loopbackOnly(listenAddress) || allowAnonymous {
		return nil
	}
	if username == "" || password == "" {
		return fmt.Errorf("receptor: listen_address %q is reachable beyond this machine: set username and password (basic auth), or allow_anonymous: true", listenAddress)
	}
	return nil
}

// loopbackOnly reports whether address listens only on loopback.
func loopbackOnly(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// ServeHTTP is the perimeter every request crosses before a route: the Host
// allow list, CORS, basic auth, a typed 404/405 for unrouted requests, and
// the JSON-only rule for state-changing methods.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ping" && !h.hostAllowed(r.Host) {
		h.refuse(w, r, ErrHostNotAllowed.WithMessage("Host %q is not served here", r.Host))
		return
	}
	if h.cors(w, r) {
		return
	}
	if h.opts.Username != "" && r.URL.Path != "/ping" && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="diego"`)
		writeJSON(w, http.StatusUnauthorized, models.ErrUnauthorized)
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.notFound(w, r)
		return
	}
	if stateChanging(r.Method) && !isJSON(r.Header.Get("Content-Type")) {
		h.refuse(w, r, ErrUnsupportedMediaType.WithMessage("%s %s needs Content-Type: application/json, not %q", r.Method, r.URL.Path, r.Header.Get("Content-Type")))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// refuse answers a typed error the perimeter decided, and logs it.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, e *models.Error) {
	h.logger.Info("refused", lager.Data{"method": r.Method, "path": r.URL.Path, "remote": r.RemoteAddr, "error": e.Name, "message": e.Message})
	writeJSON(w, e.Status, e)
}

func stateChanging(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete
}

// isJSON reports whether a Content-Type is application/json, parameters
// (charset) aside.
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}

// hostAllowed reports whether host (with or without a port) is in
// AllowedHosts, or whether there is no list.
func (h *Handler) hostAllowed(host string) bool {
	if len(h.opts.AllowedHosts) == 0 {
		return true
	}
	if name, _, err := net.SplitHostPort(host); err == nil {
		host = name
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	for _, allowed := range h.opts.AllowedHosts {
		if strings.EqualFold(host, strings.Trim(allowed, "[]")) {
			return true
		}
	}
	return false
}

func (h *Handler) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(h.opts.Username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(h.opts.Password)) == 1
	return userOK && passOK
}

// cors sets the CORS headers and reports whether the request was a preflight
// it has fully answered. A listed origin gets itself back with credentials
// allowed; with "*" any other origin gets "*", which a browser never pairs
// with credentials, so a page elsewhere can read public answers but cannot
// act with the user's basic-auth credentials.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(h.opts.CORSOrigins) == 0 {
		return false
	}
	w.Header().Add("Vary", "Origin")
	switch {
	case origin != "*" && slices.Contains(h.opts.CORSOrigins, origin):
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	case slices.Contains(h.opts.CORSOrigins, "*"):
		w.Header().Set("Access-Control-Allow-Origin", "*")
	default:
		return false
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
	allowHeaders := r.Header.Get("Access-Control-Request-Headers")
	if allowHeaders == "" {
		allowHeaders = "Authorization, Content-Type, Cache-Control, Last-Event-ID"
	}
	w.Header().Set("Access-Control-Allow-Headers", allowHeaders)
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// capStreams holds a stream slot of the caller for as long as next serves,
// answering 429 TooManyStreams when the caller has none left.
func (h *Handler) capStreams(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := streamClient(r, h.opts.Username != "")
		if !h.takeStream(client) {
			w.Header().Set("Retry-After", "1")
			h.refuse(w, r, ErrTooManyStreams.WithMessage("%s already holds %d open event or log streams; close one first", client, h.opts.MaxStreamsPerClient))
			return
		}
		defer h.releaseStream(client)
		next(w, r)
	})
}

// streamClient names who holds a stream: the basic-auth user when auth is
// on (the perimeter has checked it), else the remote IP.
func streamClient(r *http.Request, auth bool) string {
	if user, _, ok := r.BasicAuth(); auth && ok {
		return "user " + user
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return "address " + ip
}

func (h *Handler) takeStream(client string) bool {
	h.streamsMu.Lock()
	defer h.streamsMu.Unlock()
	if h.streams[client] >= h.opts.MaxStreamsPerClient {
		return false
	}
	h.streams[client]++
	return true
}

func (h *Handler) releaseStream(client string) {
	h.streamsMu.Lock()
	defer h.streamsMu.Unlock()
	if h.streams[client]--; h.streams[client] <= 0 {
		delete(h.streams, client)
	}
}
