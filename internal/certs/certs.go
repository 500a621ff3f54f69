package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// The roles a certificate can name.
const (
	RoleBBS          = "bbs"
	RoleAuctioneer   = "auctioneer"
	RoleConverger    = "converger"
	RoleRouteEmitter = "route-emitter"
	RoleRep          = "rep"
	RoleReceptor     = "receptor"
	RoleRouter       = "router"
	// RoleEtcd and RoleNATS are the servers of the embedded etcd and NATS.
	RoleEtcd = "etcd"
	RoleNATS = "nats"
)

// Roles are every role but the rep's (which needs a cell id), in the order
// `diego certs` writes them.
var Roles = []string{RoleBBS, RoleAuctioneer, RoleConverger, RoleRouteEmitter, RoleReceptor, RoleRouter, RoleEtcd, RoleNATS}

// Defaults for certificates this package makes.
const (
	// DefaultCAValidity is how long a new CA is good for: 10 years.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// DefaultLeafValidity is how long a new leaf certificate is good for: 2 years.
	DefaultLeafValidity = 2 * 365 * 24 * time.Hour
	// RenewBefore: a leaf closer than this to its end is made again by WriteSet.
	RenewBefore = 30 * 24 * time.Hour
)

const uriScheme = "diego"

// Identity is who a certificate was issued to: a role, and for a rep the
// cell it runs.
type Identity struct {
	Role   string
	CellID string // only for RoleRep
}

// Rep is the identity of the rep of cell.
func Rep(cell string) Identity { return Identity{Role: RoleRep, CellID: cell} }

// Of is the identity of a role that has no cell.
func Of(role string) Identity { return Identity{Role: role} }

// String is "rep/cell-1" or the role alone.
func (id Identity) String() string {
	if id.CellID != "" {
		return id.Role + "/" + id.CellID
	}
	return id.Role
}

// Name is the file name (without extension) of the identity's certificate:
// "rep-cell-1" or the role alone.
func (id Identity) Name() string { return strings.ReplaceAll(id.String(), "/", "-") }

// URI is the SAN that names the identity: diego://role/rep/cell-1.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: "role", Path: "/" + id.String()}
}

// Validate reports an identity no certificate should name.
func (id Identity) Validate() error {
	if id.Role == "" || strings.ContainsAny(id.Role, "/ ") {
		return fmt.Errorf("certs: role %q is not a role name", id.Role)
	}
	if (id.Role == RoleRep) != (id.CellID != "") {
		return fmt.Errorf("certs: a cell id goes with the rep role and only with it (role %q, cell %q)", id.Role, id.CellID)
	}
	if strings.ContainsAny(id.CellID, "/ ") {
		return fmt.Errorf("certs: cell id %q has a slash or a space", id.CellID)
	}
	return nil
}

// ErrNoIdentity is returned by IdentityOf for a certificate that names no role.
var ErrNoIdentity = errors.New("certs: the certificate names no diego role")

// IdentityOf reads the role a certificate names from its diego:// URI SAN.
// Call it only on a certificate whose chain was verified.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range cert.URIs {
		if u.Scheme != uriScheme || u.Host != "role" {
			continue
		}
		role, cell, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		id := Identity{Role: role, CellID: cell}
		if err := id.Validate(); err != nil {
			return Identity{}, err
		}
		found = append(found, id)
	}
	switch len(found) {
	case 0:
		return Identity{}, ErrNoIdentity
	case 1:
		return found[0], nil
	}
	return Identity{}, fmt.Errorf("certs: the certificate names %d roles; it must name one", len(found))
}

// CA is a certificate authority that can issue leaf certificates.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA makes a self-signed CA named name, good for validity from now.
func NewCA(name string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: making the CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Diego"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("certs: signing the CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: reading the new CA back: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Leaf is an issued certificate and its key, PEM-encoded.
type Leaf struct {
	CertPEM []byte
	KeyPEM  []byte
}

// TLSCertificate is the leaf as crypto/tls wants it.
func (l Leaf) TLSCertificate() (tls.Certificate, error) {
	return tls.X509KeyPair(l.CertPEM, l.KeyPEM)
}

// Issue makes a certificate for id, good for server and client
// authentication, with hosts (IP addresses or DNS names) as SANs.
func (ca *CA) Issue(id Identity, hosts []string, validity time.Duration) (Leaf, error) {
	if err := id.Validate(); err != nil {
		return Leaf{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("certs: making the key of %s: %w", id, err)
	}
	serial, err := newSerial()
	if err != nil {
		return Leaf{}, err
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	subject := pkix.Name{CommonName: id.String(), OrganizationalUnit: []string{id.Role}, Organization: []string{"Diego"}}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{id.URI()},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return Leaf{}, fmt.Errorf("certs: signing the certificate of %s: %w", id, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Leaf{}, fmt.Errorf("certs: encoding the key of %s: %w", id, err)
	}
	return Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// CertPEM is the CA's certificate, PEM-encoded.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// KeyPEM is the CA's key, PEM-encoded.
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("certs: encoding the CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCA reads a CA back from its PEM certificate and key.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: reading the CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("certs: reading the CA certificate: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, errors.New("certs: the CA must be an ECDSA certificate authority made by this package")
	}
	return &CA{Cert: cert, Key: key}, nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certs: making a serial number: %w", err)
	}
	return serial, nil
}
