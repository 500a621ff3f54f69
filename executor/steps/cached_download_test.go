package steps_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor/downloadcache"
	"github.com/diego-runtime/diego/executor/steps"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("A download with a cache_key", func() {
	var (
		root   string
		cache  *downloadcache.Cache
		server *httptest.Server
		hits   atomic.Int32
		body   = []byte("#!/bin/sh\necho cached\n")
	)

	BeforeEach(func() {
		root = GinkgoT().TempDir()
		cache = downloadcache.New(lagertest.NewTestLogger("steps"), GinkgoT().TempDir(), 1<<20)
		hits.Store(0)
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.Write(body)
		}))
		DeferCleanup(server.Close)
	})

	download := func(actionJSON string) error {
		GinkgoHelper()
		var action models.Action
		Expect(json.Unmarshal([]byte(actionJSON), &action)).To(Succeed())
		step, err := steps.Build(&action, steps.Deps{
			Container: hostContainer{root: root}, Streamer: newBufferStreamer(), HTTP: http.DefaultClient,
			Cache: cache, Clock: clock.NewClock(), GracePeriod: time.Second,
		})
		Expect(err).NotTo(HaveOccurred())
		return step.Perform(context.Background())
	}
	sum := sha256.Sum256(body)
	goodSum := hex.EncodeToString(sum[:])

	It("reaches the server once for two downloads of the key, and both land in the container", func() {
		Expect(download(`{"download": {"from": "` + server.URL + `/a", "to": "/one/run.sh", "cache_key": "k"}}`)).To(Succeed())
		Expect(download(`{"download": {"from": "` + server.URL + `/a", "to": "/two/run.sh", "cache_key": "k"}}`)).To(Succeed())
		Expect(hits.Load()).To(BeEquivalentTo(1))
		Expect(os.ReadFile(filepath.Join(root, "one", "run.sh"))).To(Equal(body))
		Expect(os.ReadFile(filepath.Join(root, "two", "run.sh"))).To(Equal(body))
	})

	It("checks a cached artifact against the checksum a later download names", func() {
		Expect(download(`{"download": {"from": "` + server.URL + `/a", "to": "/one/run.sh", "cache_key": "k"}}`)).To(Succeed())
		err := download(`{"download": {"from": "` + server.URL + `/a", "to": "/two/run.sh", "cache_key": "k",
			"checksum_algorithm": "sha256", "checksum_value": "` + strings.Repeat("0", 64) + `"}}`)
		Expect(err).To(MatchError(ContainSubstring(`checksum mismatch: the artifact cached under "k" has sha256 ` + goodSum)))
		Expect(download(`{"download": {"from": "` + server.URL + `/a", "to": "/three/run.sh", "cache_key": "k",
			"checksum_algorithm": "sha256", "checksum_value": "` + goodSum + `"}}`)).To(Succeed())
		Expect(hits.Load()).To(BeEquivalentTo(1))
	})

	It("checks a cached archive's checksum over the whole file", func() {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		Expect(tw.WriteHeader(&tar.Header{Name: "f.txt", Mode: 0o644, Size: 2})).To(Succeed())
		tw.Write([]byte("hi"))
		tw.Close()
		gz.Close()
		archive := buf.Bytes()
		sum := sha256.Sum256(archive)
		tgz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(archive) }))
		DeferCleanup(tgz.Close)
		for _, to := range []string{"/x", "/y"} {
			Expect(download(`{"download": {"from": "` + tgz.URL + `/a.tgz", "to": "` + to + `", "cache_key": "tgz",
				"checksum_algorithm": "sha256", "checksum_value": "` + hex.EncodeToString(sum[:]) + `"}}`)).To(Succeed())
			Expect(os.ReadFile(filepath.Join(root, to, "f.txt"))).To(Equal([]byte("hi")))
		}
	})

	It("reaches the server every time without a cache_key", func() {
		Expect(download(`{"download": {"from": "` + server.URL + `/a", "to": "/one/run.sh"}}`)).To(Succeed())
		Expect(download(`{"download": {"from": "` + server.URL + `/a", "to": "/two/run.sh"}}`)).To(Succeed())
		Expect(hits.Load()).To(BeEquivalentTo(2))
		Expect(cache.Fetches()).To(BeZero())
	})

	It("keeps an artifact whose checksum does not match out of the cache", func() {
		err := download(`{"download": {"from": "` + server.URL + `/a", "to": "/bad/run.sh", "cache_key": "k",
			"checksum_algorithm": "sha256", "checksum_value": "` + strings.Repeat("0", 64) + `"}}`)
		Expect(err).To(MatchError(ContainSubstring("checksum mismatch")))
		Expect(cache.Contains("k")).To(BeFalse())
		Expect(filepath.Join(root, "bad")).NotTo(BeADirectory())

		Expect(download(`{"download": {"from": "` + server.URL + `/a", "to": "/good/run.sh", "cache_key": "k",
			"checksum_algorithm": "sha256", "checksum_value": "` + goodSum + `"}}`)).To(Succeed())
		Expect(cache.Contains("k")).To(BeTrue())
		Expect(hits.Load()).To(BeEquivalentTo(2))
	})
})
