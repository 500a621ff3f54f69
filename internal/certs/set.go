package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// File names in a certificate directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// SetOptions says which certificates WriteSet keeps in a directory.
type SetOptions struct {
	// Identities to hold a certificate each. Empty means every role in Roles.
	Identities []Identity
	// Hosts are the IP addresses and DNS names every leaf is valid for.
	// Default ["127.0.0.1", "::1", "localhost"].
	Hosts []string
	// CAName is the CA's CommonName when one is made. Default "Diego CA".
	CAName string
	// HostsOf adds hosts to one identity's leaf, by Identity.Name ("bbs",
	// "rep-cell-1"): the addresses of the machines that run it. Default none.
	HostsOf map[string][]string
}

// DefaultHosts are the SANs of a leaf when SetOptions.Hosts is empty.
var DefaultHosts = []string{"127.0.0.1", "::1", "localhost"}

// Files are the paths of one identity's certificate, its key, and the CA.
type Files struct {
	CACert string
	Cert   string
	Key    string
}

// FilesIn names the files of id in dir.
func FilesIn(dir string, id Identity) Files {
	return Files{
		CACert: filepath.Join(dir, CACertFile),
		Cert:   filepath.Join(dir, id.Name()+".crt"),
		Key:    filepath.Join(dir, id.Name()+".key"),
	}
}

// WriteSet keeps a CA and one certificate per identity in dir (made 0700):
// it makes what is missing and keeps what is there, so that a cluster
// restarted on the same dir keeps its CA. A leaf is made again when it was not
// issued by the CA in dir, lacks one of the hosts, or ends within RenewBefore.
// Keys are written 0600.
func WriteSet(dir string, opts SetOptions) (*CA, error) {
	if len(opts.Identities) == 0 {
		for _, r := range Roles {
			opts.Identities = append(opts.Identities, Of(r))
		}
	}
	if len(opts.Hosts) == 0 {
		opts.Hosts = DefaultHosts
	}
	if opts.CAName == "" {
		opts.CAName = "Diego CA"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: making %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: securing %s: %w", dir, err)
	}
	ca, err := loadOrMakeCA(dir, opts.CAName)
	if err != nil {
		return nil, err
	}
	for _, id := range opts.Identities {
		files := FilesIn(dir, id)
		hosts := append(slices.Clone(opts.Hosts), opts.HostsOf[id.Name()]...)
		if current(files, ca, hosts) {
			continue
		}
		leaf, err := ca.Issue(id, hosts, DefaultLeafValidity)
		if err != nil {
			return nil, err
		}
		if err := writeFile(files.Key, leaf.KeyPEM, 0o600); err != nil {
			return nil, err
		}
		if err := writeFile(files.Cert, leaf.CertPEM, 0o644); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

func loadOrMakeCA(dir, name string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		if err := os.Chmod(keyPath, 0o600); err != nil {
			return nil, fmt.Errorf("certs: securing %s: %w", keyPath, err)
		}
		return ParseCA(certPEM, keyPEM)
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("certs: reading %s: %w", certPath, certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("certs: reading %s: %w", keyPath, keyErr)
	default:
		return nil, fmt.Errorf("certs: %s holds half a CA (%s and %s go together): remove the other to make a new CA", dir, CACertFile, CAKeyFile)
	}
	ca, err := NewCA(name, DefaultCAValidity)
	if err != nil {
		return nil, err
	}
	keyPEM, err = ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certPath, ca.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

// current reports whether files hold a usable certificate of ca for hosts.
func current(files Files, ca *CA, hosts []string) bool {
	certPEM, err := os.ReadFile(files.Cert)
	if err != nil {
		return false
	}
	if _, err := os.Stat(files.Key); err != nil {
		return false
	}
	if err := os.Chmod(files.Key, 0o600); err != nil {
		return false
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || time.Until(cert.NotAfter) < RenewBefore {
		return false
	}
	if cert.CheckSignatureFrom(ca.Cert) != nil {
		return false
	}
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil && !slices.Contains(cert.DNSNames, h) {
			return false
		}
	}
	return true
}

// writeFile writes data to a new file at path with perm: a file already there
// is removed first, so a key never sits under an older, wider mode.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("certs: replacing %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("certs: writing %s: %w", path, err)
	}
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("certs: securing %s: %w", path, err)
	}
	return nil
}
