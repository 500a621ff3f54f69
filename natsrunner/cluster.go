package natsrunner

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/diego-runtime/diego/internal/certs"
)

// DefaultClusterPort is the port nodes of a cluster meet on.
const DefaultClusterPort = 6222

// Cluster makes a server one node of a NATS cluster. Nodes talk over mutual
// TLS with the server's own certificate (Config.TLS), and a node lets in only
// a peer whose certificate names the nats role: a client's certificate of the
// same CA opens no route.
type Cluster struct {
	// Name is the cluster's name, the same on every node. Default empty: no
	// cluster.
	Name string `json:"name"`
	// Host is where the node listens for its peers. Default: Config.Host.
	Host string `json:"host"`
	// Port is where the node listens for its peers. Default 6222.
	Port int `json:"port"`
	// Routes are every node's peer URL, "nats-route://HOST:PORT" (this
	// node's own may be among them). Default none.
	Routes []string `json:"routes"`
}

// Enabled says whether the server is a node of a cluster.
func (c Cluster) Enabled() bool { return c.Name != "" }

func (c Cluster) validate(serverName string) error {
	if !c.Enabled() {
		if len(c.Routes) > 0 {
			return errors.New("natsrunner: cluster.routes need a cluster.name")
		}
		return nil
	}
	if serverName == "" {
		return errors.New("natsrunner: a cluster node needs a server_name, unique and stable, for JetStream")
	}
	if len(c.Routes) == 0 {
		return errors.New("natsrunner: cluster.routes: name every node's peer URL")
	}
	for _, r := range c.Routes {
		if _, err := url.Parse(r); err != nil {
			return fmt.Errorf("natsrunner: cluster route %q: %w", r, err)
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("natsrunner: cluster.port %d out of range", c.Port)
	}
	return nil
}

// apply sets the server's cluster options; with TLS, routes are mutual TLS
// with the server's certificate and only nats-role peers are accepted.
func (c Cluster) apply(opts *server.Options, t ServerTLS) error {
	if !c.Enabled() {
		return nil
	}
	opts.Cluster.Name = c.Name
	opts.Cluster.Host = c.Host
	if opts.Cluster.Host == "" {
		opts.Cluster.Host = opts.Host
	}
	opts.Cluster.Port = c.Port
	if opts.Cluster.Port == 0 {
		opts.Cluster.Port = DefaultClusterPort
	}
	opts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
	if !t.Enabled() {
		return nil
	}
	srv, err := t.ServerConfig()
	if err != nil {
		return err
	}
	// One config serves accepted and dialled routes: it trusts the CA both
	// ways and checks the peer's role both ways.
	srv.RootCAs = srv.ClientCAs
	srv.VerifyPeerCertificate = onlyNATSPeers
	opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = srv, 5
	return nil
}

// onlyNATSPeers refuses a peer (client or server of a route) whose verified
// certificate does not name the nats role.
func onlyNATSPeers(_ [][]byte, chains [][]*x509.Certificate) error {
	if len(chains) == 0 || len(chains[0]) == 0 {
		return errors.New("natsrunner: route peer without a verified certificate")
	}
	id, err := certs.IdentityOf(chains[0][0])
	if err != nil {
		return fmt.Errorf("natsrunner: route peer: %w", err)
	}
	if id.Role != certs.RoleNATS {
		return fmt.Errorf("natsrunner: route peer %s is not a nats server", id)
	}
	return nil
}
