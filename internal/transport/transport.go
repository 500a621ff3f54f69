// Package transport builds every daemon-to-daemon HTTP server and client, so that
// mutual TLS switches on for all of them at once from config: a server given a
// TLS block requires a client certificate from its CA, and a client given one
// presents its certificate and trusts only that CA. An empty block means plain
// HTTP, which `diego up` writes only when told --insecure-links, and which a
// daemon link (ListenLink, NewLinkServer) accepts on a loopback address only.
//
// A server learns who called from the caller's verified certificate
// (PeerIdentity, which reads the role internal/certs wrote into it) and can
// refuse a role an endpoint is not for (RequireRoles).
package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// TLS names the files for mutual TLS. All empty means plain HTTP.
type TLS struct {
	// CACertFile is the PEM file of the deployment's CA, the only issuer
	// the peer's certificate is accepted from. Default "" (no TLS).
	CACertFile string `json:"ca_cert_file,omitempty"`
	// CertFile is the PEM file of this daemon's certificate, which names
	// its role (diego certs). Default "".
	CertFile string `json:"cert_file,omitempty"`
	// KeyFile is the PEM file of CertFile's private key. Default "".
	KeyFile string `json:"key_file,omitempty"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CACertFile != "" || t.CertFile != "" || t.KeyFile != "" }

// Scheme is "https" when TLS is configured, else "http".
func (t TLS) Scheme() string {
	if t.Enabled() {
		return "https"
	}
	return "http"
}

// ServerConfig is the server side of mutual TLS: it presents the certificate
// and requires a client certificate signed by the CA. Nil when not enabled.
func (t TLS) ServerConfig() (*tls.Config, error) { return t.load(true) }

// ClientConfig is the client side of mutual TLS: it presents the certificate
// and trusts only the CA. Nil when not enabled.
func (t TLS) ClientConfig() (*tls.Config, error) { return t.load(false) }

func (t TLS) load(server bool) (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	if t.CACertFile == "" || t.CertFile == "" || t.KeyFile == "" {
		return nil, fmt.Errorf("transport: mutual TLS needs ca_cert_file, cert_file and key_file together")
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("transport: loading key pair: %w", err)
	}
	caPEM, err := os.ReadFile(t.CACertFile)
	if err != nil {
		return nil, fmt.Errorf("transport: reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("transport: no certificates in %s", t.CACertFile)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if server {
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	} else {
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// NewClient returns an HTTP client for calls to other daemons. timeout bounds a
// whole request; 0 means none (for streams).
func NewClient(t TLS, timeout time.Duration) (*http.Client, error) {
	cfg, err := t.load(false)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     cfg,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// Listen opens a listener for a daemon's API, wrapped in TLS when configured.
func Listen(t TLS, address string) (net.Listener, error) {
	cfg, err := t.load(true)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", address, err)
	}
	if cfg != nil {
		l = tls.NewListener(l, cfg)
	}
	return l, nil
}
