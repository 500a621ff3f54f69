package etcdrunner

import (
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// DefaultDialTimeout bounds the first connection to etcd.
const DefaultDialTimeout = 5 * time.Second

// DefaultKeepAliveTime and DefaultKeepAliveTimeout are how often a client
// pings a member while it has streams open, and how long it waits for the
// answer before it gives the connection up.
const (
	DefaultKeepAliveTime    = 5 * time.Second
	DefaultKeepAliveTimeout = 2 * time.Second
)

// ClientTLS names the files for mutual TLS to etcd; all empty means plain.
type ClientTLS struct {
	// CACertFile is the PEM file of the CA etcd's certificate is checked
	// against. Default "" (plain HTTP).
	CACertFile string `json:"ca_cert_file,omitempty"`
	// CertFile is the PEM client certificate presented to etcd. Default "".
	CertFile string `json:"cert_file,omitempty"`
	// KeyFile is the PEM file of CertFile's private key. Default "".
	KeyFile string `json:"key_file,omitempty"`
}

// ClientConfig says how to reach an etcd cluster (the -etcd-endpoints of a daemon).
type ClientConfig struct {
	// Endpoints of the cluster, e.g. ["https://10.0.0.1:2379"]; required.
	Endpoints []string `json:"endpoints"`
	// TLS for client connections; empty means plain HTTP.
	TLS ClientTLS `json:"tls"`
	// DialTimeout bounds the first connection (a Go duration string). Default "5s".
	DialTimeout time.Duration `json:"dial_timeout"`
}

// NewClient builds a client for the cluster. It does not block on connecting:
// requests made while etcd is away fail when their context ends, and the client
// reconnects by itself (with at most a second between attempts) when etcd returns.
func NewClient(cfg ClientConfig) (*clientv3.Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcdrunner: at least one etcd endpoint is required")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	cc := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
		// Reconnect quickly once etcd is back: gRPC's default backoff grows to 2 min.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
		// Payloads of a full fetch page can be large.
		MaxCallRecvMsgSize: 256 << 20,
		// A member whose machine is gone drops packets rather than refusing
		// them: without pings, a watch or lease keepalive stream on it hangs
		// for ever, so a lock's campaign never hears the holder's key go and
		// its own lease runs out (seen in e2e/multimachine). Pinging every
		// 5 s (etcd's least allowed interval) with a 2 s answer closes such
		// a connection well within a lease's TTL, and the client moves the
		// streams to another member.
		DialKeepAliveTime:    DefaultKeepAliveTime,
		DialKeepAliveTimeout: DefaultKeepAliveTimeout,
	}
	if cfg.TLS != (ClientTLS{}) {
		info := transport.TLSInfo{CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile, TrustedCAFile: cfg.TLS.CACertFile}
		tlsConfig, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcdrunner: loading etcd client TLS: %w", err)
		}
		cc.TLS = tlsConfig
	}
	c, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("etcdrunner: connecting to %v: %w", cfg.Endpoints, err)
	}
	return c, nil
}
