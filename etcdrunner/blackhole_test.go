package etcdrunner_test

import (
	"context"
	"net"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/etcdrunner"
)

// blackhole relays TCP to a member until Swallow, after which it keeps
// every connection open and passes nothing: a machine that dropped off the
// network, not one that refuses.
type blackhole struct {
	ln     net.Listener
	to     string
	mu     sync.Mutex
	closed bool
	conns  []net.Conn
	gone   chan struct{}
}

func newBlackhole(to string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	b := &blackhole{ln: ln, to: to, gone: make(chan struct{})}
	go b.serve()
	return b
}

func (b *blackhole) serve() {
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns = append(b.conns, in)
		b.mu.Unlock()
		go func() {
			out, err := net.Dial("tcp", b.to)
			if err != nil {
				in.Close()
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, out)
			b.mu.Unlock()
			go b.pipe(out, in)
			b.pipe(in, out)
		}()
	}
}

// pipe copies until Swallow, then reads and drops everything.
func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-b.gone:
			continue
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (b *blackhole) Swallow() { close(b.gone) }

func (b *blackhole) Close() {
	b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.Close()
	}
}

var _ = Describe("A client of a cluster whose member stops answering", func() {
	It("moves its watches and requests to the other members within seconds", func() {
		_, endpoints := startCluster()
		hole := newBlackhole(endpoints[0][len("http://"):])
		DeferCleanup(hole.Close)
		c, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{"http://" + hole.ln.Addr().String()}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		ctx, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		// The watch opens on the member behind the blackhole, the only
		// endpoint known yet; then the client learns the others.
		events := c.Watch(ctx, "/diego/blackhole", clientv3.WithPrefix())
		put := func(key string) error {
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			defer pcancel()
			_, err := c.Put(pctx, key, "x")
			return err
		}
		Expect(put("/diego/blackhole/1")).To(Succeed())
		Eventually(events, 5*time.Second).Should(Receive())
		c.SetEndpoints(append([]string{"http://" + hole.ln.Addr().String()}, endpoints[1:]...)...)

		hole.Swallow()
		other, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: endpoints[1:]})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(other.Close)
		_, err = other.Put(ctx, "/diego/blackhole/2", "x")
		Expect(err).NotTo(HaveOccurred())
		// Without pings the watch would wait on the silent member for ever.
		Eventually(events, 15*time.Second).Should(Receive())
		Eventually(func() error { return put("/diego/blackhole/3") }, 15*time.Second, 100*time.Millisecond).Should(Succeed())
	})
})
