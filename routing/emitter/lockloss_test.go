package emitter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/routing/emitter"
	"github.com/diego-runtime/diego/routing/router"
)

// steadyLoad sends requests for one host to a router until stopped and
// keeps every answer that was not a 200.
type steadyLoad struct {
	mu       sync.Mutex
	sent     int
	failures []string
	stop     chan struct{}
	done     chan struct{}
}

func startLoad(routerURL, host string) *steadyLoad {
	l := &steadyLoad{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 2 * time.Second}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			req, _ := http.NewRequest(http.MethodGet, routerURL, nil)
			req.Host = host
			resp, err := client.Do(req)
			l.mu.Lock()
			l.sent++
			switch {
			case err != nil:
				l.failures = append(l.failures, err.Error())
			case resp.StatusCode != http.StatusOK:
				l.failures = append(l.failures, fmt.Sprintf("%s at %s", resp.Status, time.Now().Format("15:04:05.000")))
			}
			l.mu.Unlock()
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	return l
}

func (l *steadyLoad) finish() (sent int, failures []string) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, l.failures
}

var _ = Describe("The route emitter when etcd goes away for longer than its lock's TTL", func() {
	It("steps down without exiting, takes the lock again, republishes its table, and the router answers throughout", func() {
		f := newFixture()
		logs := gbytes.NewBuffer()
		f.logger.RegisterSink(lager.NewWriterSink(logs, lager.INFO))

		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "app") }))
		DeferCleanup(backend.Close)
		u, err := url.Parse(backend.URL)
		Expect(err).NotTo(HaveOccurred())
		port, err := strconv.Atoi(u.Port())
		Expect(err).NotTo(HaveOccurred())

		// A router that prunes after 4 s, and sees every publisher silent
		// after 2 s: shorter than the outage below.
		rcfg := router.DefaultConfig()
		rcfg.ListenAddress = "127.0.0.1:0"
		rcfg.NATSURLs = []string{f.natsURL}
		rcfg.PruneThreshold = time.Duration(4 * time.Second)
		rcfg.PruneInterval = time.Duration(250 * time.Millisecond)
		rcfg.PublisherSilence = time.Duration(2 * time.Second)
		rcfg.RegisterInterval = time.Duration(time.Second)
		rcfg.ShutdownTimeout = time.Duration(2 * time.Second)
		rt, err := router.New(f.logger, rcfg, router.Options{})
		Expect(err).NotTo(HaveOccurred())
		startRunner(rt)

		ecfg := emitter.DefaultConfig()
		ecfg.GreetTimeout = 200 * time.Millisecond
		ecfg.RegisterInterval = time.Second
		const lockTTL = 2 * time.Second
		process := startRunner(&lock.Standby{
			Lock:   lock.Runner{Logger: f.logger, Client: f.etcdc, Name: "route-emitter", Value: "emitter-1", TTL: lockTTL},
			Active: &emitter.Emitter{Logger: f.logger, BBS: f.db, NATS: f.conn, Clock: clock.NewClock(), Config: ecfg},
		})

		f.desire("web", 1)
		key := models.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: "d"}
		instance := models.ActualLRPInstanceKey{InstanceGuid: "web-0", CellID: "cell-1"}
		ctx := context.Background()
		Expect(f.db.ClaimActualLRP(ctx, f.logger, key, instance)).To(Succeed())
		Expect(f.db.StartActualLRP(ctx, f.logger, key, instance, models.ActualLRPNetInfo{
			Address: "127.0.0.1", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: uint32(port)}},
		}, true)).To(Succeed())
		register := "register web.localhost 127.0.0.1:" + u.Port()
		Eventually(f.seen.all, 5*time.Second).Should(ContainElement(register))
		routerURL := "http://" + rt.Addr() + "/"
		Eventually(func() int {
			req, _ := http.NewRequest(http.MethodGet, routerURL, nil)
			req.Host = "web.localhost"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}, 5*time.Second).Should(Equal(http.StatusOK))

		load := startLoad(routerURL, "web.localhost")
		DeferCleanup(func() { _ = f.etcd.Start() }) // if the spec fails during the outage
		f.etcd.Stop()
		Eventually(logs, 3*lockTTL).Should(gbytes.Say("lost-stepping-down"))
		f.seen.reset()
		Consistently(process.Wait(), 3*lockTTL).ShouldNot(Receive(), "the emitter process keeps running")
		Expect(f.seen.all()).To(BeEmpty(), "a stepped-down emitter does not publish")

		Expect(f.etcd.Start()).To(Succeed())
		Eventually(func() (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return lock.Holder(ctx, f.etcdc, "route-emitter")
		}, 10*time.Second).Should(Equal("emitter-1"))
		Eventually(f.seen.all, 10*time.Second).Should(ContainElement(register))
		Consistently(process.Wait(), time.Second).ShouldNot(Receive())

		sent, failures := load.finish()
		Expect(sent).To(BeNumerically(">", 100))
		Expect(failures).To(BeEmpty())
	})
})
