package steps_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor/steps"
	"github.com/diego-runtime/diego/models"
)

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

var _ = Describe("Steps built from an action tree", func() {
	var (
		root     string
		streamer *bufferStreamer
		deps     steps.Deps
	)

	BeforeEach(func() {
		root = GinkgoT().TempDir()
		streamer = newBufferStreamer()
		deps = steps.Deps{
			Container:   hostContainer{root: root},
			Streamer:    streamer,
			HTTP:        http.DefaultClient,
			Clock:       clock.NewClock(),
			GracePeriod: 500 * time.Millisecond,
			Env:         []string{"PATH=/usr/bin:/bin", "FROM_CONTAINER=yes", "OVERRIDDEN=container"},
		}
	})

	build := func(actionJSON string) steps.Step {
		var action models.Action
		Expect(json.Unmarshal([]byte(actionJSON), &action)).To(Succeed())
		step, err := steps.Build(&action, deps)
		Expect(err).NotTo(HaveOccurred())
		return step
	}

	sh := func(script string) string {
		args, _ := json.Marshal([]string{"-c", script})
		return `{"run": {"path": "/bin/sh", "args": ` + string(args) + `}}`
	}

	Describe("run", func() {
		It("succeeds when the process exits 0 and keeps stdout and stderr apart", func() {
			err := build(sh("echo out; echo err >&2")).Perform(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(streamer.Output("APP/OUT")).To(Equal("out"))
			Expect(streamer.Output("APP/ERR")).To(Equal("err"))
		})

		It("fails with the exact exit status", func() {
			err := build(sh("exit 17")).Perform(context.Background())
			Expect(err).To(MatchError("Exited with status 17"))
			var exit *steps.ExitError
			Expect(errors.As(err, &exit)).To(BeTrue())
			Expect(exit.Status).To(Equal(17))
		})

		It("overlays the action's env on the container's, the last duplicate winning", func() {
			err := build(`{"run": {"path": "/bin/sh", "args": ["-c", "echo $FROM_CONTAINER $OVERRIDDEN"],
				"env": [{"name": "OVERRIDDEN", "value": "first"}, {"name": "OVERRIDDEN", "value": "action"}]}}`).
				Perform(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(streamer.Output("APP/OUT")).To(Equal("yes action"))
		})

		It("labels output with the action's log source", func() {
			Expect(build(`{"run": {"path": "/bin/echo", "args": ["hi"], "log_source": "STG"}}`).Perform(context.Background())).To(Succeed())
			Expect(streamer.Output("STG/OUT")).To(Equal("hi"))
		})

		It("discards output when suppress_log_output is set", func() {
			Expect(build(`{"run": {"path": "/bin/echo", "args": ["hi"], "suppress_log_output": true}}`).Perform(context.Background())).To(Succeed())
			Expect(streamer.Output("APP/OUT")).To(BeEmpty())
		})

		It("sends SIGTERM on cancel and lets a process that honours it exit", func() {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- build(sh("trap 'echo terminated; exit 0' TERM; echo ready; while true; do sleep 0.05; done")).Perform(ctx)
			}()
			Eventually(func() string { return streamer.Output("APP/OUT") }).Should(Equal("ready"))
			cancel()
			Eventually(done).Should(Receive(MatchError(steps.ErrCancelled)))
			Expect(streamer.Output("APP/OUT")).To(ContainSubstring("terminated"))
		})

		It("sends SIGKILL after the grace period to a process that ignores SIGTERM", func() {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- build(sh("trap '' TERM; echo ready; while true; do sleep 0.05; done")).Perform(ctx) }()
			Eventually(func() string { return streamer.Output("APP/OUT") }).Should(Equal("ready"))
			started := time.Now()
			cancel()
			Eventually(done, 5*time.Second).Should(Receive(MatchError(steps.ErrCancelled)))
			Expect(time.Since(started)).To(BeNumerically(">=", 450*time.Millisecond))
		})
	})

	Describe("serial", func() {
		It("runs in order and stops at the first failure", func() {
			err := build(`{"serial": {"actions": [` + sh("echo one") + `,` + sh("exit 3") + `,` + sh("echo three") + `]}}`).Perform(context.Background())
			Expect(err).To(MatchError("Exited with status 3"))
			Expect(streamer.Output("APP/OUT")).To(Equal("one"))
		})
	})

	Describe("parallel", func() {
		It("waits for every action and fails if any failed", func() {
			marker := filepath.Join(root, "slow-finished")
			err := build(`{"parallel": {"actions": [` + sh("exit 4") + `,` + sh("sleep 0.3; touch "+marker) + `]}}`).Perform(context.Background())
			Expect(err).To(MatchError(ContainSubstring("Exited with status 4")))
			Expect(marker).To(BeAnExistingFile())
		})

		It("succeeds when all succeed", func() {
			Expect(build(`{"parallel": {"actions": [` + sh("true") + `,` + sh("true") + `]}}`).Perform(context.Background())).To(Succeed())
		})
	})

	Describe("codependent", func() {
		It("cancels the rest as soon as one exits, and reports its failure", func() {
			started := time.Now()
			err := build(`{"codependent": {"actions": [` + sh("sleep 0.2; exit 9") + `,` + sh("while true; do sleep 0.05; done") + `]}}`).Perform(context.Background())
			Expect(err).To(MatchError("Exited with status 9"))
			Expect(time.Since(started)).To(BeNumerically("<", 3*time.Second))
		})

		It("cancels the rest when one exits successfully", func() {
			err := build(`{"codependent": {"actions": [` + sh("true") + `,` + sh("while true; do sleep 0.05; done") + `]}}`).Perform(context.Background())
			Expect(err).NotTo(HaveOccurred())
		})
	})

	Describe("timeout", func() {
		It("cancels its action and fails once the limit passes", func() {
			err := build(`{"timeout": {"timeout": 200000000, "action": ` + sh("while true; do sleep 0.05; done") + `}}`).Perform(context.Background())
			var timeout *steps.TimeoutError
			Expect(errors.As(err, &timeout)).To(BeTrue())
			Expect(err).To(MatchError("timed out after 200ms"))
		})

		It("passes through an action that finishes in time", func() {
			Expect(build(`{"timeout": {"timeout": 5000000000, "action": ` + sh("true") + `}}`).Perform(context.Background())).To(Succeed())
		})
	})

	Describe("try", func() {
		It("swallows its action's failure", func() {
			Expect(build(`{"try": {"action": ` + sh("exit 2") + `}}`).Perform(context.Background())).To(Succeed())
		})
	})

	Describe("emit_progress", func() {
		It("says when it starts and how it ended", func() {
			ok := build(`{"emit_progress": {"start_message": "starting", "success_message": "done", "failure_message_prefix": "broke", "action": ` + sh("true") + `}}`)
			Expect(ok.Perform(context.Background())).To(Succeed())
			Expect(streamer.Output("APP/OUT")).To(Equal("starting\ndone"))

			bad := build(`{"emit_progress": {"start_message": "again", "failure_message_prefix": "broke", "action": ` + sh("exit 5") + `}}`)
			Expect(bad.Perform(context.Background())).To(MatchError("Exited with status 5"))
			Expect(streamer.Output("APP/ERR")).To(Equal("broke: Exited with status 5"))
		})
	})

	Describe("download and upload", func() {
		var (
			server   *httptest.Server
			hits     atomic.Int32
			archive  []byte
			uploaded chan []byte
		)

		BeforeEach(func() {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			tw := tar.NewWriter(gz)
			content := []byte("hello from the archive\n")
			Expect(tw.WriteHeader(&tar.Header{Name: "greeting.txt", Mode: 0o644, Size: int64(len(content))})).To(Succeed())
			tw.Write(content)
			tw.Close()
			gz.Close()
			archive = buf.Bytes()
			uploaded = make(chan []byte, 1)

			hits.Store(0)
			server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodGet && r.URL.Path == "/app.tgz":
					hits.Add(1)
					w.Write(archive)
				case r.Method == http.MethodPut:
					body, _ := io.ReadAll(r.Body)
					uploaded <- body
				default:
					http.NotFound(w, r)
				}
			}))
			DeferCleanup(server.Close)
		})

		It("extracts a downloaded archive at the destination when the checksum matches", func() {
			sum := sha256.Sum256(archive)
			step := build(`{"download": {"from": "` + server.URL + `/app.tgz", "to": "/app", "checksum_algorithm": "sha256", "checksum_value": "` + hex.EncodeToString(sum[:]) + `"}}`)
			Expect(step.Perform(context.Background())).To(Succeed())
			Expect(os.ReadFile(filepath.Join(root, "app", "greeting.txt"))).To(Equal([]byte("hello from the archive\n")))
		})

		It("fails with a reason naming a wrong checksum", func() {
			// Uncached, the artifact streams straight in and is checked as it
			// passes: the step fails (and with it the container's run) after
			// its bytes are in. A cached one is checked before (cached_download_test).
			step := build(`{"download": {"from": "` + server.URL + `/app.tgz", "to": "/app", "checksum_algorithm": "sha256", "checksum_value": "00"}}`)
			Expect(step.Perform(context.Background())).To(MatchError(ContainSubstring("checksum mismatch")))
		})

		It("streams an uncached download into the container without staging it on the host", func() {
			// Nowhere to stage: any temporary file fails the download.
			GinkgoT().Setenv("TMPDIR", filepath.Join(root, "no-such-dir"))
			sum := sha256.Sum256(archive)
			step := build(`{"download": {"from": "` + server.URL + `/app.tgz", "to": "/app", "checksum_algorithm": "sha256", "checksum_value": "` + hex.EncodeToString(sum[:]) + `"}}`)
			Expect(step.Perform(context.Background())).To(Succeed())
			Expect(os.ReadFile(filepath.Join(root, "app", "greeting.txt"))).To(Equal([]byte("hello from the archive\n")))
		})

		It("fails a download larger than the container's disk with a reason that says so", func() {
			// The container's root is a 4 MiB file system; the file is 16 MiB.
			small := GinkgoT().TempDir()
			Expect(syscall.Mount("tmpfs", small, "tmpfs", 0, "size=4m")).To(Succeed())
			DeferCleanup(func() { Expect(syscall.Unmount(small, 0)).To(Succeed()) })
			big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(16<<20))
				io.CopyN(w, zeros{}, 16<<20)
			}))
			DeferCleanup(big.Close)
			deps.Container = hostContainer{root: small}
			step := build(`{"download": {"from": "` + big.URL + `/big.bin", "to": "/big.bin"}}`)
			Expect(step.Perform(context.Background())).To(MatchError(ContainSubstring("does not fit in the container's disk limit")))
		})

		It("fails with a reason naming a URL that 404s", func() {
			step := build(`{"download": {"from": "` + server.URL + `/missing.tgz", "to": "/app"}}`)
			Expect(step.Perform(context.Background())).To(MatchError(ContainSubstring("404 Not Found")))
		})

		It("uploads a file out of the container", func() {
			Expect(os.WriteFile(filepath.Join(root, "result.txt"), []byte("42"), 0o644)).To(Succeed())
			step := build(`{"upload": {"from": "/result.txt", "to": "` + server.URL + `/upload"}}`)
			Expect(step.Perform(context.Background())).To(Succeed())
			var body []byte
			Eventually(uploaded).Should(Receive(&body))
			tr := tar.NewReader(bytes.NewReader(body))
			_, err := tr.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(io.ReadAll(tr)).To(Equal([]byte("42")))
		})
	})
})
