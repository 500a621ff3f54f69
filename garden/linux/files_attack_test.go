package linux_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/imagetest"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Attacks on stream-in and stream-out from a hostile tenant: its image, its
// tar and its processes try to make garden, which runs as host root, read or
// change a file of the host. The host holds a canary directory with a secret
// file; every attack aims at it.
var _ = Describe("File transfers from a hostile tenant", func() {
	ctx := context.Background()
	var (
		canaryDir  string // on the host
		canaryFile string // canaryDir/canary, mode 0600, root-owned
		secret     string // the canary's content
	)

	BeforeEach(func() {
		canaryDir = fmt.Sprintf("/var/tmp/dg-canary-%d", os.Getpid())
		canaryFile = filepath.Join(canaryDir, "canary")
		secret = fmt.Sprintf("HOST-SECRET-%d-%d", os.Getpid(), GinkgoRandomSeed())
		Expect(os.MkdirAll(canaryDir, 0o700)).To(Succeed())
		Expect(os.WriteFile(canaryFile, []byte(secret), 0o600)).To(Succeed())
		Expect(os.Chmod(canaryFile, 0o600)).To(Succeed())
		DeferCleanup(os.RemoveAll, canaryDir)
	})

	// expectCanaryUntouched checks the host's canary and that nothing was
	// planted beside it.
	expectCanaryUntouched := func() {
		GinkgoHelper()
		st, err := os.Lstat(canaryFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode()).To(Equal(os.FileMode(0o600)), "the host canary's mode changed")
		dst, err := os.Lstat(canaryDir)
		Expect(err).NotTo(HaveOccurred())
		Expect(dst.Mode().Perm()).To(Equal(os.FileMode(0o700)), "the host canary directory's mode changed")
		sys := st.Sys().(*syscall.Stat_t)
		Expect(sys.Uid).To(BeZero(), "the host canary's owner changed")
		Expect(sys.Gid).To(BeZero(), "the host canary's group changed")
		Expect(sys.Nlink).To(BeEquivalentTo(1), "the host canary gained a hard link")
		Expect(os.ReadFile(canaryFile)).To(Equal([]byte(secret)), "the host canary's content changed")
		entries, err := os.ReadDir(canaryDir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(1), "something was planted in the host's canary directory")
	}

	tarOf := func(entries ...imagetest.Entry) io.Reader {
		GinkgoHelper()
		return bytes.NewReader(imagetest.Must(imagetest.Tar(entries...)))
	}

	// linkImage is busybox plus /canary-link -> the host canary (absolute).
	linkImage := func() string {
		GinkgoHelper()
		layer := imagetest.Must(imagetest.Layer(imagetest.Symlink("canary-link", canaryFile)))
		img, err := mutate.AppendLayers(imagetest.Must(imagetest.BusyboxImage()), layer)
		Expect(err).NotTo(HaveOccurred())
		repo := fmt.Sprintf("canary-link-%d", os.Getpid())
		Expect(imagetest.Push(registry.Host, repo, "latest", img)).To(Succeed())
		return fmt.Sprintf("docker://%s/%s#latest", registry.Host, repo)
	}

	DescribeTable("a directory entry over a symlink changes neither the link's target nor the host",
		func(fromImage bool, link func() string) {
			spec := garden.ContainerSpec{}
			if fromImage {
				spec.Image.URI = linkImage()
			}
			handle := create(spec).Handle
			if !fromImage {
				status, _, errOut := run(handle, sh("ln -s "+link()+" /canary-link"))
				Expect(status).To(BeZero(), errOut)
			}
			err := backend.StreamIn(ctx, handle, "/", tarOf(imagetest.Dir("canary-link", 0o777)))
			expectCanaryUntouched()
			Expect(err).NotTo(HaveOccurred())
			_, out, _ := run(handle, sh("readlink /canary-link"))
			Expect(strings.TrimSpace(out)).NotTo(BeEmpty(), "the symlink is still there")
		},
		Entry("an absolute symlink in the image", true, nil),
		Entry("an absolute symlink made inside", false, func() string { return canaryFile }),
		Entry("a relative symlink climbing out, made inside", false, func() string {
			return strings.Repeat("../", 40) + strings.TrimPrefix(canaryFile, "/")
		}),
	)

	DescribeTable("tar entries that name the host land inside the container or are refused",
		func(prepare string, entries func() []imagetest.Entry, refused bool) {
			handle := create(garden.ContainerSpec{}).Handle
			status, _, errOut := run(handle, sh("mkdir -p /tmp/in && cd /tmp/in && "+
				"ln -s "+canaryDir+" abs && ln -s "+strings.Repeat("../", 40)+strings.TrimPrefix(canaryDir, "/")+" rel && "+
				"ln -s "+canaryFile+" file-link"+prepare))
			Expect(status).To(BeZero(), errOut)
			err := backend.StreamIn(ctx, handle, "/tmp/in", tarOf(entries()...))
			expectCanaryUntouched()
			if refused {
				Expect(err).To(MatchError(garden.ErrInvalidSpec))
			}
			status, out, _ := run(handle, sh("grep -rl "+secret+" /tmp /var /etc /root /home 2>/dev/null; true"))
			Expect(status).To(BeZero())
			Expect(out).To(BeEmpty(), "the host's secret is readable inside")
		},
		Entry("a name climbing out with ../", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.File(strings.Repeat("../", 40)+strings.TrimPrefix(canaryDir, "/")+"/planted", 0o644, []byte("x"))}
		}, true),
		Entry("an absolute name", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.File(canaryDir+"/planted", 0o644, []byte("x"))}
		}, false),
		Entry("a file through an absolute symlinked directory", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.File("abs/planted", 0o644, []byte("x")), imagetest.File("abs/canary", 0o644, []byte("pwned"))}
		}, false),
		Entry("a file through a relative symlinked directory climbing out", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.File("rel/planted", 0o644, []byte("x")), imagetest.File("rel/canary", 0o644, []byte("pwned"))}
		}, false),
		Entry("a directory through a symlinked directory", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.Dir("rel/sub", 0o777), imagetest.Dir("abs/sub", 0o777)}
		}, false),
		Entry("a hard link to a host path", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.Hardlink("stolen", canaryFile)}
		}, false),
		Entry("a hard link climbing out with ../", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.Hardlink("stolen", strings.Repeat("../", 40)+strings.TrimPrefix(canaryFile, "/"))}
		}, true),
		Entry("a hard link to a symlink that points at the host", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.Hardlink("stolen", "file-link"), imagetest.Hardlink("stolen2", "abs/canary")}
		}, false),
		Entry("a regular file replacing a symlink to the host", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.File("file-link", 0o777, []byte("pwned"))}
		}, false),
		Entry("a symlink then a file through it", "", func() []imagetest.Entry {
			return []imagetest.Entry{imagetest.Symlink("esc", canaryDir), imagetest.Dir("esc", 0o777), imagetest.File("esc/planted", 0o644, []byte("x"))}
		}, false),
	)

	DescribeTable("owners outside the container's map are refused, never truncated",
		func(uid, gid int) {
			handle := create(garden.ContainerSpec{}).Handle
			err := backend.StreamIn(ctx, handle, "/tmp/in",
				tarOf(imagetest.File("suid", 0o4755, []byte("#!/bin/sh\nid\n")).Owned(uid, gid)))
			_, out, _ := run(handle, sh("stat -c '%u %g' /tmp/in/suid 2>/dev/null; true"))
			Expect(strings.TrimSpace(out)).To(BeEmpty(), "the file was written with an owner the container does not have: "+out)
			Expect(err).To(MatchError(garden.ErrInvalidSpec))
		},
		Entry("uid just past the map", 65536, 0),
		Entry("gid just past the map", 0, 65536),
		Entry("uid 2^32, which the kernel would truncate to host root", 1<<32, 0),
		Entry("gid 2^32+5", 0, 1<<32+5),
		Entry("uid -1, which chown takes as 'leave it host root'", -1, 0),
		Entry("gid -1", 0, -1),
	)

	It("gives a privileged container any valid id and refuses what chown would truncate", func() {
		handle := create(garden.ContainerSpec{Privileged: true}).Handle
		Expect(backend.StreamIn(ctx, handle, "/tmp/in", tarOf(imagetest.File("big", 0o644, nil).Owned(70000, 70001)))).To(Succeed())
		_, out, _ := run(handle, sh("stat -c '%u %g' /tmp/in/big"))
		Expect(out).To(Equal("70000 70001\n"))
		for _, id := range []int{-1, 1 << 32, 1<<32 - 1} {
			err := backend.StreamIn(ctx, handle, "/tmp/in", tarOf(imagetest.File("bad", 0o4755, nil).Owned(id, 0)))
			Expect(err).To(MatchError(garden.ErrInvalidSpec), "uid %d", id)
		}
		status, _, _ := run(handle, sh("test -e /tmp/in/bad"))
		Expect(status).NotTo(BeZero())
	})

	It("never lets a stream-out read the host while a process inside swaps a directory for a symlink", func() {
		handle := create(garden.ContainerSpec{}).Handle
		// d is a real directory holding a file named like the host's canary;
		// l points at the host's canary directory. The loop swaps them.
		status, _, errOut := run(handle, sh("mkdir -p /tmp/out/d && echo inside > /tmp/out/d/canary && ln -s "+canaryDir+" /tmp/out/l"))
		Expect(status).To(BeZero(), errOut)
		swapper, err := backend.Run(ctx, handle, sh("cd /tmp/out && while :; do mv d t; mv l d; mv d l; mv t d; done"), garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = swapper.Signal(syscall.SIGKILL); _, _ = swapper.Wait() })

		var leaks, streams, sawSymlink atomic.Int64
		deadline := time.Now().Add(8 * time.Second)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				for time.Now().Before(deadline) && leaks.Load() == 0 {
					var buf bytes.Buffer
					// Errors are expected (entries vanish mid-walk); what was
					// written before one must still hold no host content.
					_ = backend.StreamOut(ctx, handle, "/tmp/out", &buf)
					streams.Add(1)
					if bytes.Contains(buf.Bytes(), []byte(secret)) {
						leaks.Add(1)
					}
					if bytes.Contains(buf.Bytes(), []byte(canaryDir)) {
						sawSymlink.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		GinkgoWriter.Printf("%d stream-outs, %d saw the symlink, %d leaked\n", streams.Load(), sawSymlink.Load(), leaks.Load())
		Expect(leaks.Load()).To(BeZero(), "a stream-out carried the host's canary")
		Expect(sawSymlink.Load()).To(BeNumerically(">", 0), "the swap never showed: the race was not run")
		expectCanaryUntouched()
	})

	It("never lets a stream-in touch the host while a process inside swaps its entries for symlinks", func() {
		handle := create(garden.ContainerSpec{}).Handle
		// Each entry the tar writes is replaced, as fast as a shell can, by a
		// symlink to the host's canary: anything garden does by name after
		// making the entry would reach the host.
		status, _, errOut := run(handle, sh("mkdir -p /tmp/in"))
		Expect(status).To(BeZero(), errOut)
		swapper, err := backend.Run(ctx, handle, sh("cd /tmp/in && while :; do "+
			"rm -rf f d; ln -s "+canaryFile+" f; ln -s "+canaryFile+" d; done"), garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = swapper.Signal(syscall.SIGKILL); _, _ = swapper.Wait() })

		entries := []imagetest.Entry{imagetest.File("f", 0o777, []byte("tenant")), imagetest.Dir("d", 0o777)}
		deadline := time.Now().Add(6 * time.Second)
		streams := 0
		for time.Now().Before(deadline) {
			_ = backend.StreamIn(ctx, handle, "/tmp/in", tarOf(entries...)) // conflicts are expected
			streams++
			st, err := os.Stat(canaryFile)
			Expect(err).NotTo(HaveOccurred())
			if st.Mode() != 0o600 {
				break
			}
		}
		GinkgoWriter.Printf("%d stream-ins\n", streams)
		expectCanaryUntouched()
	})

	It("streams out symlinks as links and files by content, with the container's owners", func() {
		handle := create(garden.ContainerSpec{}).Handle
		status, _, errOut := run(handle, sh("mkdir -p /tmp/o/sub && echo hi > /tmp/o/sub/f && ln -s "+canaryFile+" /tmp/o/l && "+
			"mkfifo /tmp/o/fifo && chown 2000:2000 /tmp/o/sub/f && chmod 4750 /tmp/o/sub/f"))
		Expect(status).To(BeZero(), errOut)
		var buf bytes.Buffer
		Expect(backend.StreamOut(ctx, handle, "/tmp/o", &buf)).To(Succeed())
		headers := map[string]*tar.Header{}
		tr := tar.NewReader(&buf)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			Expect(err).NotTo(HaveOccurred())
			headers[hdr.Name] = hdr
			if hdr.Name == "o/sub/f" {
				Expect(io.ReadAll(tr)).To(Equal([]byte("hi\n")))
			}
		}
		Expect(headers).To(HaveKey("o/"))
		Expect(headers).To(HaveKey("o/sub/"))
		Expect(headers).To(HaveKey("o/fifo"))
		Expect(headers["o/l"].Typeflag).To(BeEquivalentTo(tar.TypeSymlink))
		Expect(headers["o/l"].Linkname).To(Equal(canaryFile))
		Expect(headers["o/sub/f"].Uid).To(Equal(2000))
		Expect(headers["o/sub/f"].Mode & 0o7777).To(BeEquivalentTo(0o4750))
		Expect(headers["o/fifo"].Typeflag).To(BeEquivalentTo(tar.TypeFifo))
		expectCanaryUntouched()

		// A single file, and a directory's contents only.
		buf.Reset()
		Expect(backend.StreamOut(ctx, handle, "/tmp/o/sub/f", &buf)).To(Succeed())
		Expect(readTar(&buf)).To(Equal(map[string]string{"f": "hi\n"}))
		buf.Reset()
		Expect(backend.StreamOut(ctx, handle, "/tmp/o/sub/.", &buf)).To(Succeed())
		Expect(readTar(&buf)).To(Equal(map[string]string{"f": "hi\n"}))
	})
})
