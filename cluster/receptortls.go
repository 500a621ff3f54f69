package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/diego-runtime/diego/internal/certs"
)

// ReceptorTLS are the files `diego up --tls` serves the receptor with: a CA
// of its own (internal/certs, apart from the daemon links' CA: the public API's
// clients need not trust the links) and a receptor certificate it signed for
// 127.0.0.1, ::1 and localhost. Clients trust CACert (`diego --ca-cert`,
// DIEGO_CA_CERT).
type ReceptorTLS struct {
	CACert string // PEM, 0644: give it to clients
	Cert   string // PEM
	Key    string // PEM, 0600
}

// loadReceptorTLS keeps the receptor's CA and certificate under
// <state>/receptor-tls (0700; made when missing, expired or not the CA's)
// and a public copy of the CA certificate at <state>/receptor-ca.pem. A
// cluster restarted on the same state dir keeps its CA, so clients keep
// trusting it.
func loadReceptorTLS(stateDir string) (ReceptorTLS, error) {
	dir := filepath.Join(stateDir, "receptor-tls")
	id := certs.Of(certs.RoleReceptor)
	ca, err := certs.WriteSet(dir, certs.SetOptions{Identities: []certs.Identity{id}, CAName: "Diego receptor CA"})
	if err != nil {
		return ReceptorTLS{}, fmt.Errorf("the receptor's certificate under %s: %w", dir, err)
	}
	files := certs.FilesIn(dir, id)
	public := filepath.Join(stateDir, "receptor-ca.pem")
	if err := os.WriteFile(public, ca.CertPEM(), 0o644); err != nil {
		return ReceptorTLS{}, fmt.Errorf("writing %s: %w", public, err)
	}
	return ReceptorTLS{CACert: public, Cert: files.Cert, Key: files.Key}, nil
}

// Pool is a cert pool holding the CA.
func (t ReceptorTLS) Pool() (*x509.CertPool, error) {
	data, err := os.ReadFile(t.CACert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("no certificate in %s", t.CACert)
	}
	return pool, nil
}

// Client is an HTTP client that trusts the CA (for readiness checks).
func (t ReceptorTLS) Client() (*http.Client, error) {
	pool, err := t.Pool()
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}

// receptorReady wants the receptor to list cells (so it reaches the BBS),
// over HTTPS trusting its CA when TLS is on, with the cluster's credentials.
func (c *Cluster) receptorReady() func(ctx context.Context) error {
	url := c.Addresses.Receptor + "/v1/cells"
	return func(ctx context.Context) error {
		client := http.DefaultClient
		if c.ReceptorTLS.CACert != "" {
			var err error
			if client, err = c.ReceptorTLS.Client(); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if c.Config.Username != "" {
			req.SetBasicAuth(c.Config.Username, c.Config.Password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		return nil
	}
}
