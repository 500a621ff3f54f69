package etcdrunner

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// checkPeers reports a peer config that cannot form a cluster: https peers
// without a peer_tls block (or the other way round), a half-given block, or
// an initial cluster that leaves this member out or names a member twice.
func checkPeers(cfg Config, peerURL url.URL) error {
	if (cfg.PeerTLS != ServerTLS{}) != (peerURL.Scheme == "https") {
		return fmt.Errorf("etcdrunner: peer url %s: https goes with a peer_tls block and only with it", peerURL.String())
	}
	if cfg.PeerTLS != (ServerTLS{}) && (cfg.PeerTLS.CACertFile == "" || cfg.PeerTLS.CertFile == "" || cfg.PeerTLS.KeyFile == "") {
		return errors.New("etcdrunner: peer_tls needs ca_cert_file, cert_file and key_file together")
	}
	if len(cfg.InitialCluster) == 0 {
		return nil
	}
	seen := map[string]bool{}
	self := false
	for _, m := range cfg.InitialCluster {
		name, raw, ok := strings.Cut(m, "=")
		if !ok || name == "" || raw == "" {
			return fmt.Errorf("etcdrunner: initial_cluster member %q: want NAME=URL", m)
		}
		if seen[name] {
			return fmt.Errorf("etcdrunner: initial_cluster names %q twice", name)
		}
		seen[name] = true
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("etcdrunner: initial_cluster member %q: %w", m, err)
		}
		if name == cfg.Name {
			if u.String() != peerURL.String() {
				return fmt.Errorf("etcdrunner: initial_cluster gives %s the peer url %s, its peer_url is %s", name, u, peerURL.String())
			}
			self = true
		}
	}
	if !self {
		return fmt.Errorf("etcdrunner: initial_cluster does not name this member (%s)", cfg.Name)
	}
	return nil
}
