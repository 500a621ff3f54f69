package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/internal/certs"
)

// ErrNoPeerCertificate is returned by PeerIdentity for a request that did not
// come over mutual TLS.
var ErrNoPeerCertificate = errors.New("transport: the request carries no verified client certificate")

// PeerIdentity is the role (and cell) named by the caller's client
// certificate, read from the chain the TLS handshake verified.
func PeerIdentity(r *http.Request) (certs.Identity, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return certs.Identity{}, ErrNoPeerCertificate
	}
	return certs.IdentityOf(r.TLS.VerifiedChains[0][0])
}

// ForbiddenName is the error name of a 403 from RequireRoles, in the JSON
// shape of every typed error on the wire ({"name": ..., "message": ...}).
const ForbiddenName = "Forbidden"

// WriteForbidden answers 403 with a typed Forbidden error.
func WriteForbidden(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}{ForbiddenName, message})
}

// RequireRoles lets through only callers whose certificate names one of
// roles, and answers 403 Forbidden to any other. When the server runs plain
// HTTP (enabled false) every request goes through: there is no certificate to
// read, and the operator asked for no authentication.
func RequireRoles(logger lager.Logger, enabled bool, next http.Handler, roles ...string) http.Handler {
	if !enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := PeerIdentity(r)
		if err != nil {
			logger.Info("refused-caller", lager.Data{"path": r.URL.Path, "error": err.Error()})
			WriteForbidden(w, err.Error())
			return
		}
		if !slices.Contains(roles, id.Role) {
			logger.Info("refused-role", lager.Data{"path": r.URL.Path, "role": id.String()})
			WriteForbidden(w, fmt.Sprintf("role %s may not call %s %s", id, r.Method, r.URL.Path))
			return
		}
		next.ServeHTTP(w, r)
	})
}
