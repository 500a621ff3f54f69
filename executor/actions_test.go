package executor_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

// zeroReader reads as endless zero bytes.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

var _ = Describe("Actions and checks in real containers", func() {
	var (
		exec   *executor.Executor
		events *collector
	)

	BeforeEach(func() {
		exec = newExecutor(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10})
		events = collect(exec)
	})

	runTask := func(guid string, action *models.Action, resultFile string) executor.RunResult {
		GinkgoHelper()
		Expect(exec.Allocate([]executor.Allocation{{Guid: guid, Kind: executor.KindTask, Resource: lrpResource}})).To(BeEmpty())
		Expect(exec.Run(executor.RunRequest{Guid: guid, Kind: executor.KindTask, Domain: "d", RootFS: tg.BusyboxURI,
			Action: action, ResultFile: resultFile})).To(Succeed())
		DeferCleanup(func() { _ = exec.Delete(context.Background(), guid) })
		Eventually(events.find(guid, executor.EventCompleted), 30*time.Second).ShouldNot(BeNil())
		return events.find(guid, executor.EventCompleted)().RunResult
	}

	It("downloads an archive into the container, checked against its checksum, and the task reads it", func() {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		content := []byte("from the archive")
		Expect(tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content))})).To(Succeed())
		tw.Write(content)
		tw.Close()
		gz.Close()
		archive := buf.Bytes()
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(archive) }))
		DeferCleanup(server.Close)
		sum := sha256.Sum256(archive)

		result := runTask("download-1", models.Serial(
			models.Download(models.DownloadAction{From: server.URL + "/app.tgz", To: "/app",
				ChecksumAlgorithm: "sha256", ChecksumValue: hex.EncodeToString(sum[:])}),
			sh("cat /app/hello.txt > /tmp/result"),
		), "/tmp/result")
		Expect(result).To(Equal(executor.RunResult{Result: "from the archive"}))
	})

	It("fails a task whose download has the wrong checksum, saying so", func() {
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }))
		DeferCleanup(server.Close)
		result := runTask("download-2", models.Download(models.DownloadAction{From: server.URL + "/f", To: "/app/f",
			ChecksumAlgorithm: "sha256", ChecksumValue: "0000000000000000000000000000000000000000000000000000000000000000"}), "")
		Expect(result.Failed).To(BeTrue())
		Expect(result.FailureReason).To(ContainSubstring("checksum mismatch"))
	})

	It("fails a task whose download is larger than its disk limit, saying so", func() {
		// 128 MiB of zeros into a container whose disk is 64 MiB (lrpResource).
		const size = 128 << 20
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			io.CopyN(w, zeroReader{}, size)
		}))
		DeferCleanup(server.Close)
		result := runTask("download-big", models.Download(models.DownloadAction{From: server.URL + "/big.bin", To: "/big.bin"}), "")
		Expect(result.Failed).To(BeTrue())
		Expect(result.FailureReason).To(ContainSubstring("does not fit in the container's disk limit"))
	})

	It("fails a task whose path is not executable, saying why", func() {
		result := runTask("noexec-1", &models.Action{Run: &models.RunAction{Path: "/etc/passwd"}}, "")
		Expect(result.Failed).To(BeTrue())
		Expect(result.FailureReason).To(ContainSubstring("/etc/passwd"))
	})

	It("runs an LRP healthy by its HTTP check and routable only once its readiness check passes", func() {
		Expect(exec.Allocate([]executor.Allocation{{Guid: "ready-0", Kind: executor.KindLRP, Resource: lrpResource}})).To(BeEmpty())
		Expect(exec.Run(executor.RunRequest{
			Guid: "ready-0", Kind: executor.KindLRP, ProcessGuid: "ready", Domain: "d", RootFS: tg.AppURI,
			Ports:  []uint32{8080, 9090},
			Action: &models.Action{Run: &models.RunAction{Path: "/app/httpapp"}},
			Checks: &models.CheckDefinition{
				Checks:          []models.Check{{HTTPCheck: &models.HTTPCheck{Port: 8080, Path: "/health"}}},
				ReadinessChecks: []models.Check{{TCPCheck: &models.TCPCheck{Port: 9090}}},
			},
			StartTimeout: 30 * time.Second,
		})).To(Succeed())
		DeferCleanup(func() { _ = exec.Delete(context.Background(), "ready-0") })
		Eventually(events.find("ready-0", executor.EventRunning), 30*time.Second).ShouldNot(BeNil())
		Expect(events.find("ready-0", executor.EventRunning)().Routable).To(BeFalse(), "nothing listens on 9090")
		Consistently(func() bool { c, _ := exec.Get("ready-0"); return c.Routable }, time.Second).Should(BeFalse())
		c, _ := exec.Get("ready-0")
		Expect(c.State).To(Equal(executor.StateRunning), "readiness never crashes an instance")
	})
})
