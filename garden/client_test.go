package garden_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func sh(script string) garden.ProcessSpec {
	return garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", script}}
}

var _ = Describe("Client and Server", func() {
	ctx := context.Background()

	It("pings and reports capacity", func() {
		Expect(client.Ping(ctx)).To(Succeed())
		c, err := client.Capacity(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.MaxContainers).To(BeEquivalentTo(250))
		Expect(c.MemoryBytes).To(BeNumerically(">", 0))
		Expect(c.DiskBytes).To(BeNumerically(">", 0))
	})

	It("creates, describes, lists and destroys a container", func() {
		info := create(garden.ContainerSpec{Handle: "wire-1", Properties: map[string]string{"owner": "wire"}, Limits: garden.Limits{MemoryBytes: 64 << 20}})
		Expect(info.Handle).To(Equal("wire-1"))
		Expect(info.ContainerIP).To(HavePrefix("10.254.42."))
		Expect(info.HostIP).To(Equal("10.254.42.1"))

		got, err := client.Info(ctx, "wire-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Properties).To(Equal(map[string]string{"owner": "wire"}))
		Expect(got.State).To(Equal(garden.StateActive))
		Expect(got.Limits.MemoryBytes).To(BeEquivalentTo(64 << 20))

		Expect(client.List(ctx, map[string]string{"owner": "wire"})).To(Equal([]string{"wire-1"}))
		Expect(client.List(ctx, map[string]string{"owner": "nobody"})).To(BeEmpty())

		m, err := client.Metrics(ctx, "wire-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(m.MemoryLimitBytes).To(BeEquivalentTo(64 << 20))

		Expect(client.Destroy(ctx, "wire-1")).To(Succeed())
		_, err = client.Info(ctx, "wire-1")
		Expect(err).To(MatchError(garden.ErrContainerNotFound))
	})

	It("streams a process's stdout and stderr apart, then its exit status", func() {
		h := create(garden.ContainerSpec{}).Handle
		var stdout, stderr syncBuffer
		p, err := client.Run(ctx, h, sh("echo out; echo err >&2; exit 12"), garden.ProcessIO{Stdout: &stdout, Stderr: &stderr})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.ID()).NotTo(BeEmpty())
		Expect(p.Wait()).To(Equal(12))
		Expect(stdout.String()).To(Equal("out\n"))
		Expect(stderr.String()).To(Equal("err\n"))
	})

	It("streams large output intact", func() {
		h := create(garden.ContainerSpec{}).Handle
		var stdout syncBuffer
		p, err := client.Run(ctx, h, sh("seq 1 200000"), garden.ProcessIO{Stdout: &stdout})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).To(Equal(0))
		var want bytes.Buffer
		for i := 1; i <= 200000; i++ {
			fmt.Fprintf(&want, "%d\n", i)
		}
		Expect(stdout.String() == want.String()).To(BeTrue())
	})

	It("keeps a process running after the client disconnects; it can be re-attached and signalled by id", func() {
		h := create(garden.ContainerSpec{}).Handle
		runCtx, cancel := context.WithCancel(ctx)
		first := &syncBuffer{}
		p, err := client.Run(runCtx, h, garden.ProcessSpec{ID: "long-one", Path: "/bin/sh", Args: []string{"-c", "trap 'echo got-term; exit 9' TERM; echo started; while true; do sleep 0.05; done"}}, garden.ProcessIO{Stdout: first})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.ID()).To(Equal("long-one"))
		Eventually(first.String).Should(Equal("started\n"))
		cancel()
		_, err = p.Wait()
		Expect(err).To(HaveOccurred()) // the stream is gone, not the process

		info, err := client.Info(ctx, h)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.ProcessIDs).To(ContainElement("long-one"))

		second := &syncBuffer{}
		again, err := client.Attach(ctx, h, "long-one", garden.ProcessIO{Stdout: second})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Signal(syscall.SIGTERM)).To(Succeed())
		Expect(again.Wait()).To(Equal(9))
		Expect(second.String()).To(Equal("got-term\n"))

		By("answering a late attach with the exit status")
		late, err := client.Attach(ctx, h, "long-one", garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Expect(late.Wait()).To(Equal(9))
	})

	It("stops a container: SIGTERM, then SIGKILL after the grace period", func() {
		h := create(garden.ContainerSpec{}).Handle
		out := &syncBuffer{}
		p, err := client.Run(ctx, h, sh("trap '' TERM; echo ready; while true; do sleep 0.05; done"), garden.ProcessIO{Stdout: out})
		Expect(err).NotTo(HaveOccurred())
		Eventually(out.String).Should(Equal("ready\n"))
		Expect(client.Stop(ctx, h, 100*time.Millisecond)).To(Succeed())
		Expect(p.Wait()).To(Equal(137))
	})

	It("streams files in and out", func() {
		h := create(garden.ContainerSpec{}).Handle
		var in bytes.Buffer
		tw := tar.NewWriter(&in)
		Expect(tw.WriteHeader(&tar.Header{Name: "greeting", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg})).To(Succeed())
		_, _ = tw.Write([]byte("hello\n"))
		Expect(tw.Close()).To(Succeed())
		Expect(client.StreamIn(ctx, h, "/tmp", &in)).To(Succeed())

		var out bytes.Buffer
		Expect(client.StreamOut(ctx, h, "/tmp/greeting", &out)).To(Succeed())
		tr := tar.NewReader(&out)
		hdr, err := tr.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(hdr.Name).To(Equal("greeting"))
		body, _ := io.ReadAll(tr)
		Expect(string(body)).To(Equal("hello\n"))

		err = client.StreamOut(ctx, h, "/does/not/exist", io.Discard)
		Expect(err).To(MatchError(garden.ErrInvalidSpec))
	})

	It("maps ports in and serves the app through them", func() {
		info := create(garden.ContainerSpec{Image: garden.ImageRef{URI: appURI}, Env: []string{"PORT=8080"}})
		m, err := client.NetIn(ctx, info.Handle, garden.NetInRule{ContainerPort: 8080})
		Expect(err).NotTo(HaveOccurred())
		_, err = client.Run(ctx, info.Handle, garden.ProcessSpec{Path: "/app/httpapp", User: "vcap"}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		url := fmt.Sprintf("http://127.0.0.1:%d/health", m.HostPort)
		Eventually(func() (int, error) {
			resp, err := (&http.Client{Timeout: time.Second}).Get(url)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}, 5*time.Second).Should(Equal(200))
		Expect(client.NetOut(ctx, info.Handle, garden.NetOutRule{Protocol: "tcp", Network: "10.254.42.0/24", Ports: []string{"80-90"}})).To(Succeed())
		Expect(client.NetOut(ctx, info.Handle, garden.NetOutRule{Protocol: "bogus"})).To(MatchError(garden.ErrInvalidSpec))
	})

	DescribeTable("carries typed errors over the wire",
		func(do func() error, want error) {
			err := do()
			Expect(err).To(MatchError(want))
			var e *garden.Error
			Expect(errors.As(err, &e)).To(BeTrue())
			Expect(e.Message).NotTo(BeEmpty())
		},
		Entry("unknown container", func() error { _, err := client.Info(context.Background(), "ghost"); return err }, garden.ErrContainerNotFound),
		Entry("destroying an unknown container", func() error { return client.Destroy(context.Background(), "ghost") }, garden.ErrContainerNotFound),
		Entry("a bad URI", func() error {
			_, err := client.Create(context.Background(), garden.ContainerSpec{Image: garden.ImageRef{URI: "docker://"}})
			return err
		}, garden.ErrBadURI),
		Entry("an image that cannot be fetched", func() error {
			_, err := client.Create(context.Background(), garden.ContainerSpec{Image: garden.ImageRef{URI: fmt.Sprintf("docker://%s/nope#1", registry.Host)}})
			return err
		}, garden.ErrImageFetchFailed),
		Entry("an invalid handle", func() error {
			_, err := client.Create(context.Background(), garden.ContainerSpec{Handle: "no/slashes", Image: garden.ImageRef{URI: busyboxURI}})
			return err
		}, garden.ErrInvalidSpec),
		Entry("running in an unknown container", func() error {
			_, err := client.Run(context.Background(), "ghost", sh("true"), garden.ProcessIO{})
			return err
		}, garden.ErrContainerNotFound),
		Entry("attaching to an unknown process", func() error {
			_, err := client.Attach(context.Background(), "ghost", "p1", garden.ProcessIO{})
			return err
		}, garden.ErrContainerNotFound),
	)

	It("refuses a handle that exists", func() {
		create(garden.ContainerSpec{Handle: "dup"})
		_, err := client.Create(ctx, garden.ContainerSpec{Handle: "dup", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).To(MatchError(garden.ErrContainerAlreadyExists))
		Expect(client.List(ctx, nil)).To(ContainElement("dup"))
	})
})
