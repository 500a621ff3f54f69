// Package sshd is the receptor's SSH server behind `diego ssh`: a client
// logs in as "PROCESS_GUID/INDEX" with a one-time code the receptor's API
// issued (Codes), and each session or port forward it opens is relayed to
// the rep of the instance's cell (rep/shellapi), which has garden run the
// process or open the connection inside the instance's container. Nothing
// listens inside the container. docs/ssh.md tells the whole path.
package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"golang.org/x/crypto/ssh"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/shellapi"
)

// BBS is what the server reads: the app's opt-out, the instance and its cell.
type BBS interface {
	DesiredLRPByProcessGuid(ctx context.Context, logger lager.Logger, processGuid string) (*models.DesiredLRP, error)
	ActualLRPs(ctx context.Context, logger lager.Logger, filter models.ActualLRPFilter) ([]*models.ActualLRP, error)
	Cells(ctx context.Context, logger lager.Logger) ([]*models.CellPresence, error)
}

// Server is an ifrit runner serving SSH on its listener.
type Server struct {
	Logger  lager.Logger
	HostKey ssh.Signer
	Codes   *Codes
	BBS     BBS
	// RepHTTP calls reps with the receptor's certificate; it must have no
	// overall timeout. RepScheme is "https" under mutual TLS, else "http".
	RepHTTP   *http.Client
	RepScheme string
	// AdvertiseHost is the host clients reach the server by; empty: see Issue.
	AdvertiseHost string

	listener net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

// handshakeTimeout bounds a client's key exchange and login.
const handshakeTimeout = 20 * time.Second

// Listen opens the server's listener (so its address is known before Run).
func (s *Server) Listen(address string) error {
	l, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("sshd: listening on %s: %w", address, err)
	}
	s.listener = l
	return nil
}

// Addr is where the server listens.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// LoadOrMakeHostKey reads an OpenSSH private key from path, or makes an
// ed25519 key (held in memory only) when path is empty.
func LoadOrMakeHostKey(path string) (ssh.Signer, error) {
	if path == "" {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("sshd: making a host key: %w", err)
		}
		return ssh.NewSignerFromKey(priv)
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sshd: reading the host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("sshd: parsing the host key %s: %w", path, err)
	}
	return signer, nil
}

// Run implements ifrit.Runner; a signal closes the listener and every
// connection.
func (s *Server) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	s.conns = map[net.Conn]struct{}{}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			if err := s.Codes.Redeem(meta.User(), string(password)); err != nil {
				s.Logger.Info("login-refused", lager.Data{"user": meta.User(), "remote": meta.RemoteAddr().String()})
				return nil, err
			}
			return &ssh.Permissions{}, nil
		},
		MaxAuthTries: 3,
	}
	cfg.AddHostKey(s.HostKey)
	errs := make(chan error, 1)
	go func() {
		for {
			nc, err := s.listener.Accept()
			if err != nil {
				errs <- err
				return
			}
			go s.serveConn(nc, cfg)
		}
	}()
	s.Logger.Info("listening", lager.Data{"address": s.Addr()})
	close(ready)
	select {
	case err := <-errs:
		return fmt.Errorf("sshd: accepting: %w", err)
	case <-signals:
		s.listener.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		return nil
	}
}

func (s *Server) track(c net.Conn, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}

func (s *Server) serveConn(nc net.Conn, cfg *ssh.ServerConfig) {
	s.track(nc, true)
	defer s.track(nc, false)
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	sconn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		s.Logger.Debug("handshake-failed", lager.Data{"remote": nc.RemoteAddr().String(), "error": err.Error()})
		return
	}
	defer sconn.Close()
	_ = nc.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)
	logger := s.Logger.Session("conn", lager.Data{"user": sconn.User(), "remote": nc.RemoteAddr().String()})
	logger.Info("logged-in")
	defer logger.Info("closed")
	guid, index, err := ParseUser(sconn.User())
	if err != nil { // a code was issued for it, so it parses
		logger.Error("bad-user", err)
		return
	}
	for newCh := range chans {
		switch newCh.ChannelType() {
		case "session":
			go s.session(logger, guid, index, newCh)
		case "direct-tcpip":
			go s.directTCPIP(logger, guid, index, newCh)
		default:
			_ = newCh.Reject(ssh.UnknownChannelType, "only session and direct-tcpip channels")
		}
	}
}

// target is where an instance runs now.
type target struct {
	instanceGuid string
	rep          *shellapi.Client
}

// errOptedOut is an app with ssh_disabled.
var errOptedOut = errors.New("the app has ssh_disabled")

// resolve finds the instance's container and its cell's rep, checking the
// app's opt-out each time (a channel opened after the app opted out fails).
func (s *Server) resolve(ctx context.Context, logger lager.Logger, guid string, index int) (target, error) {
	d, err := s.BBS.DesiredLRPByProcessGuid(ctx, logger, guid)
	if err != nil {
		return target{}, fmt.Errorf("app %s: %w", guid, err)
	}
	if d.SSHDisabled {
		return target{}, fmt.Errorf("app %s: %w", guid, errOptedOut)
	}
	actuals, err := s.BBS.ActualLRPs(ctx, logger, models.ActualLRPFilter{ProcessGuid: guid, Index: &index})
	if err != nil {
		return target{}, fmt.Errorf("instance %s/%d: %w", guid, index, err)
	}
	var running *models.ActualLRP
	for _, a := range actuals {
		// The ordinary record first; an evacuating one still serves.
		if a.State == models.ActualLRPStateRunning && (running == nil || running.Evacuating) {
			running = a
		}
	}
	if running == nil {
		return target{}, fmt.Errorf("instance %s/%d is not running", guid, index)
	}
	cells, err := s.BBS.Cells(ctx, logger)
	if err != nil {
		return target{}, fmt.Errorf("cells: %w", err)
	}
	for _, c := range cells {
		if c.CellID != running.CellID {
			continue
		}
		url := c.RepURL
		if url == "" {
			url = s.RepScheme + "://" + c.RepAddress
		}
		return target{instanceGuid: running.InstanceGuid, rep: &shellapi.Client{HTTP: s.RepHTTP, BaseURL: url}}, nil
	}
	return target{}, fmt.Errorf("instance %s/%d: cell %s is not present", guid, index, running.CellID)
}

// Access is what a client needs to open one SSH connection to an instance:
// the receptor's API answers it (docs/api.md, POST .../ssh).
type Access struct {
	// Address is the SSH server's host:port.
	Address string `json:"address"`
	// User names the instance: PROCESS_GUID/INDEX.
	User string `json:"user"`
	// Password is a one-time code: one connection, within a minute.
	Password string `json:"password"`
	// HostKey is the server's public key (authorized_keys format), so the
	// client need not trust it on first use.
	HostKey string `json:"host_key"`
	// HostKeyFingerprint is its SHA256 fingerprint, as ssh-keygen -l shows it.
	HostKeyFingerprint string `json:"host_key_fingerprint"`
}

// Issue returns the access to one instance. The address's host is
// AdvertiseHost, else the listener's when it is a single address, else
// requestHost (the host the API client reached the receptor by).
func (s *Server) Issue(processGuid string, index int, requestHost string) Access {
	host, port, _ := net.SplitHostPort(s.Addr())
	if s.AdvertiseHost != "" {
		host = s.AdvertiseHost
	} else if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if h, _, err := net.SplitHostPort(requestHost); err == nil {
			host = h
		} else if requestHost != "" {
			host = requestHost
		}
	}
	user := User(processGuid, index)
	pub := s.HostKey.PublicKey()
	return Access{
		Address:            net.JoinHostPort(host, port),
		User:               user,
		Password:           s.Codes.Issue(user),
		HostKey:            string(ssh.MarshalAuthorizedKey(pub)[:len(ssh.MarshalAuthorizedKey(pub))-1]),
		HostKeyFingerprint: ssh.FingerprintSHA256(pub),
	}
}
