package cluster

import (
	"net/http"
	"path/filepath"
	"time"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
)

// CertDir is where `diego up` keeps the cluster's CA and certificates
// (<state>/certs, 0700, keys 0600), made once and reused across restarts.
func (c Config) CertDir() string { return filepath.Join(c.StateDir, "certs") }

// identities are every certificate the cluster needs: one per role, one per
// cell's rep.
func (c Config) identities() []certs.Identity {
	var ids []certs.Identity
	for _, r := range certs.Roles {
		ids = append(ids, certs.Of(r))
	}
	for _, cell := range c.cellIDs() {
		ids = append(ids, certs.Rep(cell))
	}
	return ids
}

// cellIDs are the ids of every cell.
func (c Config) cellIDs() []string {
	ids := make([]string, 0, c.Cells)
	for i := 0; i < c.Cells; i++ {
		ids = append(ids, c.CellLayout(i).ID)
	}
	return ids
}

// linkHosts are the addresses daemons reach one another at: loopback, and
// with isolated cells the host bridge and every cell's address.
func (c Config) linkHosts() []string {
	hosts := append([]string(nil), certs.DefaultHosts...)
	if c.IsolateCells {
		hosts = append(hosts, c.HostBridgeIP())
		for i := 0; i < c.Cells; i++ {
			hosts = append(hosts, c.CellNetworkOf(i).IP)
		}
	}
	return hosts
}

// makeCerts keeps the cluster's certificates under CertDir, unless the
// operator asked for plain links.
func (c Config) makeCerts() error {
	if c.InsecureLinks {
		return nil
	}
	_, err := certs.WriteSet(c.CertDir(), certs.SetOptions{
		Identities: c.identities(), Hosts: c.linkHosts(), CAName: "Diego CA (diego up)",
	})
	return err
}

// TLSFor is the TLS block of id's certificate: what a daemon of that role
// serves and calls with. Empty with InsecureLinks.
func (c Config) TLSFor(id certs.Identity) transport.TLS {
	if c.InsecureLinks {
		return transport.TLS{}
	}
	f := certs.FilesIn(c.CertDir(), id)
	return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
}

// EtcdTLSFor is id's TLS block for etcd.
func (c Config) EtcdTLSFor(id certs.Identity) etcdrunner.ClientTLS {
	t := c.TLSFor(id)
	return etcdrunner.ClientTLS{CACertFile: t.CACertFile, CertFile: t.CertFile, KeyFile: t.KeyFile}
}

// scheme is how links are spoken: "https", or "http" with InsecureLinks.
func (c Config) scheme() string {
	if c.InsecureLinks {
		return "http"
	}
	return "https"
}

// LinkClient is an HTTP client that calls the cluster's daemons as id.
func (c Config) LinkClient(id certs.Identity, timeout time.Duration) (*http.Client, error) {
	return transport.NewClient(c.TLSFor(id), timeout)
}
