package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// sshAccess is the receptor's answer to POST .../index/:i/ssh.
type sshAccess struct {
	Address  string `json:"address"`
	User     string `json:"user"`
	Password string `json:"password"`
	HostKey  string `json:"host_key"`
}

// ExitCode is an error that only carries the exit status to end with (the
// command's own, passed back by diego ssh).
type ExitCode int

func (e ExitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

func newSSHCommand(g *Globals) *cobra.Command {
	var (
		index    int
		forwards []string
		forceTTY bool
		noTTY    bool
	)
	cmd := &cobra.Command{
		Use:   "ssh APP [-i INDEX] [-L [LOCALPORT:]HOST:PORT]... [-- COMMAND...]",
		Short: "open a shell in an instance, run a command there, or forward ports into it",
		Long: `ssh opens a shell in one instance of APP (a terminal when stdin is one), or runs
COMMAND there with /bin/sh -c and ends with its exit status. -L forwards a local
port to HOST:PORT as seen from inside the instance (localhost is the instance
itself); with -L and no COMMAND it only forwards, until Ctrl-C. The receptor's
API issues a one-time login for it (docs/ssh.md); an app created with
ssh_disabled, or a cluster whose operator turned ssh off, refuses.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := sshConnect(ctx, g, args[0], index)
			if err != nil {
				return err
			}
			defer client.Close()
			for _, spec := range forwards {
				if err := startForward(g.Out, client, spec, args[0], index); err != nil {
					return err
				}
			}
			command := strings.Join(args[1:], " ")
			if len(forwards) > 0 && command == "" {
				// Forward only: until Ctrl-C or the connection ends.
				sigs := make(chan os.Signal, 1)
				signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
				defer signal.Stop(sigs)
				done := make(chan error, 1)
				go func() { done <- client.Wait() }()
				select {
				case <-sigs:
					return nil
				case err := <-done:
					return fmt.Errorf("the ssh connection ended: %v", err)
				}
			}
			tty := !noTTY && (forceTTY || (command == "" && isTerminal(os.Stdin)))
			return runSession(client, command, tty)
		},
	}
	cmd.Flags().IntVarP(&index, "index", "i", 0, "instance index")
	cmd.Flags().StringArrayVarP(&forwards, "forward", "L", nil, "forward [LOCALPORT:]HOST:PORT (local port 0 or absent: any free port, printed)")
	cmd.Flags().BoolVarP(&forceTTY, "tty", "t", false, "run COMMAND on a terminal")
	cmd.Flags().BoolVarP(&noTTY, "no-tty", "T", false, "never ask for a terminal")
	return cmd
}

// sshConnect asks the receptor for a one-time login and opens the SSH
// connection, trusting exactly the host key the (authenticated) API named.
func sshConnect(ctx context.Context, g *Globals, app string, index int) (*ssh.Client, error) {
	var access sshAccess
	path := "/v1/actual_lrps/" + url.PathEscape(app) + "/index/" + strconv.Itoa(index) + "/ssh"
	if err := g.api().do(ctx, "POST", path, struct{}{}, &access); err != nil {
		return nil, err
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(access.HostKey))
	if err != nil {
		return nil, fmt.Errorf("the receptor's ssh host key: %w", err)
	}
	client, err := ssh.Dial("tcp", access.Address, &ssh.ClientConfig{
		User:            access.User,
		Auth:            []ssh.AuthMethod{ssh.Password(access.Password)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
	})
	if err != nil {
		return nil, fmt.Errorf("ssh to %s/%d at %s: %w", app, index, access.Address, err)
	}
	return client, nil
}

// startForward listens on the local port and relays each connection to
// HOST:PORT inside the instance.
func startForward(out io.Writer, client *ssh.Client, spec, app string, index int) error {
	local, remote := "0", spec
	if parts := strings.Split(spec, ":"); len(parts) == 3 {
		local, remote = parts[0], parts[1]+":"+parts[2]
	} else if len(parts) != 2 {
		return fmt.Errorf("-L %q: want [LOCALPORT:]HOST:PORT", spec)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", local))
	if err != nil {
		return fmt.Errorf("-L %s: %w", spec, err)
	}
	fmt.Fprintf(out, "Forwarding %s to %s in %s/%d\n", l.Addr(), remote, app, index)
	go func() {
		defer l.Close()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r, err := client.Dial("tcp", remote)
				if err != nil {
					fmt.Fprintf(os.Stderr, "diego ssh: forwarding to %s: %v\n", remote, err)
					return
				}
				defer r.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(r, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, r); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return nil
}

// runSession runs command (a shell when empty), on a terminal when tty, and
// returns its exit status as an ExitCode.
func runSession(client *ssh.Client, command string, tty bool) error {
	session, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("opening a session: %w", err)
	}
	defer session.Close()
	session.Stdin, session.Stdout, session.Stderr = os.Stdin, os.Stdout, os.Stderr
	if tty {
		rows, cols := terminalSize(os.Stdout)
		term := os.Getenv("TERM")
		if term == "" {
			term = "xterm"
		}
		if err := session.RequestPty(term, rows, cols, ssh.TerminalModes{}); err != nil {
			return fmt.Errorf("asking for a terminal: %w", err)
		}
		if restore, err := makeRaw(os.Stdin); err == nil {
			defer restore()
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				r, c := terminalSize(os.Stdout)
				_ = session.WindowChange(r, c)
			}
		}()
	}
	if command == "" {
		err = session.Shell()
		if err == nil {
			err = session.Wait()
		}
	} else {
		err = session.Run(command)
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		return ExitCode(exit.ExitStatus())
	}
	if err != nil {
		return fmt.Errorf("ssh session: %w", err)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func terminalSize(f *os.File) (rows, cols int) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 {
		return 24, 80
	}
	return int(ws.Row), int(ws.Col)
}

// makeRaw puts the terminal in raw mode (as cfmakeraw does) and returns
// what restores it.
func makeRaw(f *os.File) (func(), error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
