package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ReceptorTLS are the files `diego up --tls` serves the receptor with: a CA
// of its own and a certificate it signed for 127.0.0.1, ::1 and localhost.
// Clients trust CACert (`diego --ca-cert`, DIEGO_CA_CERT).
//
// The lead means to fold this into internal/certs, which makes a CA and a
// certificate per daemon role; until then the receptor's pair lives here.
type ReceptorTLS struct {
	CACert string // PEM, 0644: give it to clients
	Cert   string // PEM, 0644
	Key    string // PEM, 0600
}

// receptorTLSValidity is how long a generated certificate is good for.
const receptorTLSValidity = 5 * 365 * 24 * time.Hour

// loadReceptorTLS returns the receptor's CA and certificate under
// <state>/receptor-tls, making them when any is missing or the certificate no
// longer verifies against the CA (expired, or the CA was replaced). A cluster
// restarted on the same state dir keeps its CA, so clients keep trusting it.
func loadReceptorTLS(stateDir string) (ReceptorTLS, error) {
	dir := filepath.Join(stateDir, "receptor-tls")
	files := ReceptorTLS{
		CACert: filepath.Join(dir, "ca.pem"),
		Cert:   filepath.Join(dir, "receptor.pem"),
		Key:    filepath.Join(dir, "receptor-key.pem"),
	}
	caKey := filepath.Join(dir, "ca-key.pem")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ReceptorTLS{}, fmt.Errorf("making %s: %w", dir, err)
	}
	if files.verify() == nil {
		return files, nil
	}
	// Missing, expired or not the CA's: a new certificate, from the same CA
	// while that one is good.
	ca, key, err := loadOrMakeCA(files.CACert, caKey)
	if err != nil {
		return ReceptorTLS{}, err
	}
	if err := makeServerCert(ca, key, files.Cert, files.Key); err != nil {
		return ReceptorTLS{}, err
	}
	if err := files.verify(); err != nil {
		return ReceptorTLS{}, fmt.Errorf("the receptor's certificate under %s: %w", dir, err)
	}
	return files, nil
}

// verify checks that the certificate and key pair up and that the CA signed
// the certificate for 127.0.0.1.
func (t ReceptorTLS) verify() error {
	pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return err
	}
	pool, err := t.Pool()
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return err
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"})
	return err
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

// loadOrMakeCA reads the CA pair, or makes and writes one when either file
// is missing.
func loadOrMakeCA(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		cert, err := x509.ParseCertificate(pair.Certificate[0])
		key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if err == nil && ok && time.Now().Before(cert.NotAfter) {
			return cert, key, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "diego up receptor CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(receptorTLSValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(keyPath, key, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeCertPEM(certPath, der); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// makeServerCert writes a certificate for the receptor on this machine,
// signed by the CA, and its new key.
func makeServerCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "receptor"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(receptorTLSValidity),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writePEM(keyPath, key, 0o600); err != nil {
		return err
	}
	return writeCertPEM(certPath, der)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("cluster: no randomness: " + err.Error())
	}
	return n
}

func writePEM(path string, key *ecdsa.PrivateKey, mode os.FileMode) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writeFileMode(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), mode)
}

func writeCertPEM(path string, der []byte) error {
	return writeFileMode(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileMode writes data with exactly mode, whatever umask or an older
// file said.
func writeFileMode(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("securing %s: %w", path, err)
	}
	return nil
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
