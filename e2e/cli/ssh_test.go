package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/creack/pty"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"golang.org/x/crypto/ssh"

	"github.com/diego-runtime/diego/e2e/world"
)

// sshAccess is the receptor's one-time login (POST .../index/:i/ssh).
type sshAccess struct {
	Address  string `json:"address"`
	User     string `json:"user"`
	Password string `json:"password"`
	HostKey  string `json:"host_key"`
}

var _ = Describe("diego ssh", Ordered, func() {
	var (
		onCell1, onCell2 int // the indices of "shelly" on each cell (cell-2's rep has disable_ssh)
		tunnelIndex      int // the index of "tunnel" on cell-1
	)

	issue := func(app string, index int) (sshAccess, world.Response) {
		resp, err := w.Request(http.MethodPost, "/v1/actual_lrps/"+app+"/index/"+strconv.Itoa(index)+"/ssh", struct{}{})
		Expect(err).NotTo(HaveOccurred())
		var a sshAccess
		if resp.Status == http.StatusOK {
			Expect(json.Unmarshal(resp.Body, &a)).To(Succeed())
		}
		return a, resp
	}
	login := func(a sshAccess, user, password string) error {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(a.HostKey))
		Expect(err).NotTo(HaveOccurred())
		cfg := &ssh.ClientConfig{User: user, HostKeyCallback: ssh.FixedHostKey(key), Timeout: 10 * time.Second}
		if password != "" {
			cfg.Auth = []ssh.AuthMethod{ssh.Password(password)}
		}
		c, err := ssh.Dial("tcp", a.Address, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}

	BeforeAll(func() {
		busybox, err := w.PushBusybox()
		Expect(err).NotTo(HaveOccurred())
		app, err := w.PushTestApp()
		Expect(err).NotTo(HaveOccurred())
		for _, args := range [][]string{
			{"create", "shelly", busybox, "--command", "sleep 100000", "--no-routes", "--health-check", "none", "--instances", "2"},
			// Two instances, spread over both zones: one is on cell-1, where ssh is on.
			{"create", "tunnel", app, "--no-routes", "--instances", "2"},
			{"create", "sealed", busybox, "--command", "sleep 100000", "--no-routes", "--health-check", "none", "--no-ssh"},
		} {
			_, errOut, code := w.CLI(args...)
			Expect(code).To(Equal(0), errOut)
		}
		// indexOn is the index of app's instance on cell, of two spread over both zones.
		indexOn := func(app, cell string) int {
			GinkgoHelper()
			running, err := w.RunningIndices(app)
			Expect(err).NotTo(HaveOccurred())
			Expect(running).To(HaveLen(2))
			for i, a := range running {
				if a.CellID == cell {
					return i
				}
			}
			Fail(fmt.Sprintf("no instance of %s on %s: two instances spread over both zones", app, cell))
			return -1
		}
		onCell1, onCell2 = indexOn("shelly", "cell-1"), indexOn("shelly", "cell-2")
		tunnelIndex = indexOn("tunnel", "cell-1")
		DeferCleanup(func() {
			for _, app := range []string{"shelly", "tunnel", "sealed"} {
				w.CLI("delete", app)
			}
		})
	})

	It("runs a one-off command in the instance and prints its output", func() {
		out, errOut, code := w.CLI("ssh", "shelly", "-i", strconv.Itoa(onCell1), "--", "echo", "hello from", "$(hostname)")
		Expect(code).To(Equal(0), errOut)
		Expect(out).To(MatchRegexp(`^hello from \S+\n$`))
	})

	It("passes the command's exit status back", func() {
		_, errOut, code := w.CLI("ssh", "shelly", "-i", strconv.Itoa(onCell1), "--", "exit", "3")
		Expect(code).To(Equal(3), errOut)
		Expect(errOut).To(BeEmpty())
	})

	It("gives the command a terminal with -t", func() {
		out, errOut, code := w.CLI("ssh", "shelly", "-i", strconv.Itoa(onCell1), "-t", "--", "tty; stty size")
		Expect(code).To(Equal(0), errOut)
		Expect(out).To(MatchRegexp(`/dev/pts/\d+\r?\n24 80\r?\n`))
	})

	It("opens an interactive shell on a terminal that follows the window's size, and passes its exit status back", func() {
		cmd := exec.Command(filepath.Join(w.BinDir, "diego"), "ssh", "shelly", "-i", strconv.Itoa(onCell1))
		cmd.Env = append(os.Environ(), "DIEGO_TARGET="+w.ReceptorURL, "TERM=xterm")
		term, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
		Expect(err).NotTo(HaveOccurred())
		defer term.Close()
		out := gbytes.NewBuffer()
		go func() { _, _ = io.Copy(out, term) }()
		_, err = io.WriteString(term, "stty size\n")
		Expect(err).NotTo(HaveOccurred())
		Eventually(out, 20*time.Second).Should(gbytes.Say(`30 100`))
		// The user's window changes: diego ssh gets SIGWINCH and tells the instance.
		Expect(pty.Setsize(term, &pty.Winsize{Rows: 50, Cols: 132})).To(Succeed())
		Eventually(func() *gbytes.Buffer {
			_, _ = io.WriteString(term, "stty size\n")
			return out
		}, 10*time.Second, 500*time.Millisecond).Should(gbytes.Say(`50 132`))
		_, err = io.WriteString(term, "exit 3\n")
		Expect(err).NotTo(HaveOccurred())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var exitErr *exec.ExitError
		Eventually(done, 20*time.Second).Should(Receive(BeAssignableToTypeOf(exitErr)))
		Expect(cmd.ProcessState.ExitCode()).To(Equal(3))
	})

	It("forwards a local port to a port of the instance's own loopback, where its app listens", func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(w.BinDir, "diego"), "ssh", "tunnel", "-i", strconv.Itoa(tunnelIndex), "-L", "0:localhost:8080")
		cmd.Env = append(os.Environ(), "DIEGO_TARGET="+w.ReceptorURL)
		stdout, err := cmd.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		cmd.Stderr = GinkgoWriter
		Expect(cmd.Start()).To(Succeed())
		defer func() { cancel(); _ = cmd.Wait() }()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		Expect(err).NotTo(HaveOccurred())
		m := regexp.MustCompile(`^Forwarding (127\.0\.0\.1:\d+) to localhost:8080 in tunnel/` + strconv.Itoa(tunnelIndex) + `\n$`).FindStringSubmatch(line)
		Expect(m).NotTo(BeNil(), line)

		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + m[1] + "/")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		var in world.Instance
		Expect(json.Unmarshal(body, &in)).To(Succeed(), string(body))
		actual, err := w.RunningIndices("tunnel")
		Expect(err).NotTo(HaveOccurred())
		Expect(in.Guid).To(Equal(actual[tunnelIndex].InstanceGuid), "the app of the forwarded instance answered through the tunnel")
	})

	It("is refused without credentials, with a wrong code, with a code for another instance and with a used one", func() {
		a, resp := issue("shelly", onCell1)
		Expect(resp.Status).To(Equal(http.StatusOK), string(resp.Body))
		Expect(login(a, a.User, "")).To(MatchError(ContainSubstring("unable to authenticate")))
		Expect(login(a, a.User, "not-a-code")).To(MatchError(ContainSubstring("unable to authenticate")))
		Expect(login(a, "tunnel/0", a.Password)).To(MatchError(ContainSubstring("unable to authenticate")))
		Expect(login(a, a.User, a.Password)).To(Succeed())
		Expect(login(a, a.User, a.Password)).To(MatchError(ContainSubstring("unable to authenticate")), "a code opens one connection")
	})

	It("is refused for an app that opted out with ssh_disabled", func() {
		_, resp := issue("sealed", 0)
		Expect(resp.Status).To(Equal(http.StatusForbidden), string(resp.Body))
		out, errOut, code := w.CLI("ssh", "sealed", "--", "echo", "in")
		Expect(code).To(Equal(1))
		Expect(out).To(BeEmpty())
		Expect(errOut).To(ContainSubstring("app sealed has ssh_disabled"))
	})

	It("is refused on a cell whose operator set disable_ssh", func() {
		out, errOut, code := w.CLI("ssh", "shelly", "-i", strconv.Itoa(onCell2), "--", "echo", "in")
		Expect(code).To(Equal(255))
		Expect(out).To(BeEmpty())
		Expect(errOut).To(ContainSubstring("ssh is turned off on cell cell-2"))
	})

	It("keeps the opt-out in the desired LRP", func() {
		d, err := w.DesiredLRP("sealed")
		Expect(err).NotTo(HaveOccurred())
		Expect(d).To(HaveField("SSHDisabled", true))
	})
})
