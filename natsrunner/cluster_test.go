package natsrunner_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	ginkgomon "github.com/tedsuo/ifrit/ginkgomon_v2"

	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/natsrunner"
)

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var _ = Describe("A node of a three-node cluster with TLS between nodes", func() {
	var (
		dir       string
		processes []ifrit.Process
		urls      []string
	)
	tlsIn := func(id certs.Identity) transport.TLS {
		f := certs.FilesIn(dir, id)
		return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
	}

	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "certs")
		ids := []certs.Identity{certs.Of(certs.RoleNATS), certs.Of(certs.RoleReceptor), certs.Rep("cell-1")}
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		var routes []string
		clusterPorts, clientPorts := []int{}, []int{}
		for i := 0; i < 3; i++ {
			clusterPorts, clientPorts = append(clusterPorts, freePort()), append(clientPorts, freePort())
			routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", clusterPorts[i]))
		}
		processes, urls = make([]ifrit.Process, 3), nil
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := 0; i < 3; i++ {
			cfg := natsrunner.Config{Port: clientPorts[i], StorageDir: GinkgoT().TempDir(), ReadyTimeout: 60 * time.Second,
				TLS: tlsIn(certs.Of(certs.RoleNATS)), Users: natsrunner.RoleUsers([]string{"cell-1"}),
				ServerName: fmt.Sprintf("n%d", i), LogsReplicas: 3,
				Cluster: natsrunner.Cluster{Name: "diego", Port: clusterPorts[i], Routes: routes}}
			Expect(cfg.Validate()).To(Succeed())
			urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]))
			wg.Add(1)
			go func() {
				defer wg.Done()
				logger := lager.NewLogger(fmt.Sprintf("n%d", i))
				logger.RegisterSink(lager.NewWriterSink(GinkgoWriter, lager.INFO))
				processes[i], errs[i] = natsrunner.Start(natsrunner.New(logger, cfg))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { ginkgomon.Interrupt(processes[i], 10*time.Second) })
		}
	})

	It("keeps the log stream on three nodes, so that it loses no line when a node goes", func() {
		repTLS, err := tlsIn(certs.Rep("cell-1")).ClientConfig()
		Expect(err).NotTo(HaveOccurred())
		rep, err := nats.Connect(urls[1]+","+urls[2], nats.Secure(repTLS))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(rep.Close)
		for i := 0; i < 10; i++ {
			Expect(rep.Publish("logs.app", []byte(fmt.Sprintf("line %d", i)))).To(Succeed())
		}
		Expect(rep.Flush()).To(Succeed())

		recTLS, err := tlsIn(certs.Of(certs.RoleReceptor)).ClientConfig()
		Expect(err).NotTo(HaveOccurred())
		receptor, err := nats.Connect(urls[2], nats.Secure(recTLS))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(receptor.Close)
		js, err := jetstream.New(receptor)
		Expect(err).NotTo(HaveOccurred())
		stored := func() (any, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s, err := js.Stream(ctx, natsrunner.LogsStream)
			if err != nil {
				return nil, err
			}
			info, err := s.Info(ctx)
			if err != nil {
				return nil, err
			}
			return []any{info.Config.Replicas, info.State.Msgs}, nil
		}
		Eventually(stored, 10*time.Second, 100*time.Millisecond).Should(Equal([]any{3, uint64(10)}))

		// Lines are published without acknowledgement: those sent while the
		// stream elects a new leader are not stored. Once a survivor
		// answers for the stream, every line is kept again.
		ginkgomon.Interrupt(processes[0], 10*time.Second)
		Eventually(stored, 20*time.Second, 200*time.Millisecond).Should(Equal([]any{3, uint64(10)}))
		for i := 10; i < 20; i++ {
			Expect(rep.Publish("logs.app", []byte(fmt.Sprintf("line %d", i)))).To(Succeed())
		}
		Expect(rep.Flush()).To(Succeed())
		Eventually(stored, 20*time.Second, 200*time.Millisecond).Should(Equal([]any{3, uint64(20)}))
	})

	It("refuses a cluster without server names or routes", func() {
		cfg := natsrunner.Config{Cluster: natsrunner.Cluster{Name: "diego", Routes: []string{"nats-route://127.0.0.1:1"}}}
		Expect(cfg.Validate()).To(MatchError(ContainSubstring("server_name")))
		cfg = natsrunner.Config{ServerName: "n", Cluster: natsrunner.Cluster{Name: "diego"}}
		Expect(cfg.Validate()).To(MatchError(ContainSubstring("routes")))
	})
})
