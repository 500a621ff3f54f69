package image_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
)

// holderEnv makes the test binary, run again as a child, a process that holds
// a store with a container and a full disk pool until it is killed: the way a
// garden dies.
const holderEnv = "IMAGE_TEST_DISK_HOLDER"

func init() {
	if dir := os.Getenv(holderEnv); dir != "" {
		if err := holdDisks(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

func holdDisks(dir string) error {
	logger := lager.NewLogger("holder")
	store, err := image.NewStore(logger, image.StoreConfig{
		Dir: filepath.Join(dir, "store"), PreloadedRootFSes: map[string]string{"root": filepath.Join(dir, "rootfs")}, DiskPoolDepth: 2,
	})
	if err != nil {
		return err
	}
	if _, err := store.Create(context.Background(), logger, "held", image.Spec{URI: "preloaded:root", DiskLimitBytes: image.MinDiskBytes}); err != nil {
		return err
	}
	store.WaitIdle()
	fmt.Println("ready")
	select {}
}

// loopsBackedUnder is imagetest.LoopsBackedUnder for a spec.
func loopsBackedUnder(dir string) []string {
	GinkgoHelper()
	found, err := imagetest.LoopsBackedUnder(dir)
	Expect(err).NotTo(HaveOccurred())
	return found
}

// filesIn lists the non-directories below dir.
func filesIn(dir string) []string {
	var found []string
	Expect(filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			found = append(found, path)
		}
		return nil
	})).To(Succeed())
	return found
}

var _ = Describe("Containers' disks", func() {
	const mib = 1 << 20
	var (
		logger *lagertest.TestLogger
		ctx    context.Context
		dir    string
		store  *image.Store
		rootfs string
		create = func(handle string, size int64) image.Image {
			GinkgoHelper()
			img, err := store.Create(ctx, logger, handle, image.Spec{URI: "preloaded:root", DiskLimitBytes: size})
			Expect(err).NotTo(HaveOccurred())
			return img
		}
	)

	BeforeEach(func() {
		logger = lagertest.NewTestLogger("disks")
		ctx = context.Background()
		dir = GinkgoT().TempDir()
		rootfs = filepath.Join(dir, "rootfs")
		Expect(os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(rootfs, "etc", "hostname"), []byte("image\n"), 0o644)).To(Succeed())
		var err error
		store, err = image.NewStore(logger, image.StoreConfig{
			Dir: filepath.Join(dir, "store"), PreloadedRootFSes: map[string]string{"root": rootfs}, DiskPoolDepth: 2,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(store.Cleanup(logger)).To(Succeed())
			store.Close()
			Expect(mountsUnder(dir)).To(BeEmpty())
			Expect(loopsBackedUnder(dir)).To(BeEmpty())
		})
	})

	It("gives the rootfs a file system of the limit's size: a write past it fails with ENOSPC", func() {
		img := create("c1", 32*mib)
		var st syscall.Statfs_t
		Expect(syscall.Statfs(img.RootFSPath, &st)).To(Succeed())
		Expect(int64(st.Blocks) * st.Bsize).To(BeNumerically("<=", 32*mib))
		f, err := os.Create(filepath.Join(img.RootFSPath, "fill"))
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		chunk := make([]byte, mib)
		var werr error
		for i := 0; i < 40 && werr == nil; i++ {
			_, werr = f.Write(chunk)
		}
		Expect(werr).To(MatchError(syscall.ENOSPC))
		Expect(readFile(filepath.Join(img.RootFSPath, "etc", "hostname"))).To(Equal("image\n"))
	})

	It("gives a container a fresh file system even when it comes from the pool", func() {
		img := create("c1", 16*mib)
		Expect(os.WriteFile(filepath.Join(img.RootFSPath, "mine"), []byte("c1"), 0o644)).To(Succeed())
		Expect(store.Destroy(logger, "c1")).To(Succeed())
		store.WaitIdle() // the pool is full now
		img = create("c2", 16*mib)
		Expect(filepath.Join(img.RootFSPath, "mine")).NotTo(BeAnExistingFile())
		entries, err := os.ReadDir(filepath.Join(dir, "store", "containers", "c2", "upper"))
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(BeEmpty())
	})

	It("frees every file system, loop device and file of many containers created and destroyed, keeping only a bounded pool", func() {
		sizes := []int64{16 * mib, 24 * mib, 32 * mib, 40 * mib}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				for i := 0; i < 8; i++ {
					h := fmt.Sprintf("c-%d-%d", w, i)
					create(h, sizes[(w+i)%len(sizes)])
					Expect(store.Destroy(logger, h)).To(Succeed())
				}
			}()
		}
		wg.Wait()
		store.WaitIdle()
		Expect(mountsUnder(dir)).To(BeEmpty())
		Expect(filepath.Join(dir, "store", "containers")).To(BeADirectory())
		entries, err := os.ReadDir(filepath.Join(dir, "store", "containers"))
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(BeEmpty())
		// Ready file systems: at most the depth (2) of each of the 3 most
		// recently used sizes, and none has a name on disk.
		Expect(len(loopsBackedUnder(dir))).To(BeNumerically("<=", 2*3))
		for _, f := range filesIn(filepath.Join(dir, "store", "disks")) {
			Expect(filepath.Base(f)).To(MatchRegexp(`^\d+\.img$`), "only the formatted templates, one per size")
		}

		store.Close()
		Expect(loopsBackedUnder(dir)).To(BeEmpty())
	})

	It("leaves nothing of its pool when the process holding it is killed, and a new store cleans the containers", func() {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), holderEnv+"="+dir)
		cmd.Stderr = GinkgoWriter
		out, err := cmd.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Start()).To(Succeed())
		DeferCleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		Expect(err).NotTo(HaveOccurred())
		Expect(line).To(Equal("ready\n"))
		held := filepath.Join(dir, "store", "containers", "held")
		Expect(loopsBackedUnder(dir)).To(HaveLen(3), "the container's disk and a pool of two")

		Expect(cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
		Expect(cmd.Wait()).To(HaveOccurred())
		// The pool went with the process; the container's disk is mounted
		// where garden left it, as after any crash.
		Eventually(func() []string { return loopsBackedUnder(dir) }, 5*time.Second, 50*time.Millisecond).Should(HaveLen(1))
		Expect(mountsUnder(held)).NotTo(BeEmpty())

		restarted, err := image.NewStore(logger, image.StoreConfig{Dir: filepath.Join(dir, "store"), PreloadedRootFSes: map[string]string{"root": rootfs}})
		Expect(err).NotTo(HaveOccurred())
		Expect(restarted.Cleanup(logger)).To(Succeed())
		Expect(mountsUnder(dir)).To(BeEmpty())
		Eventually(func() []string { return loopsBackedUnder(dir) }, 5*time.Second, 50*time.Millisecond).Should(BeEmpty())
		Expect(held).NotTo(BeAnExistingFile())
		for _, f := range filesIn(filepath.Join(dir, "store", "disks")) {
			Expect(filepath.Base(f)).To(MatchRegexp(`^\d+\.img$`))
		}
	})
})
