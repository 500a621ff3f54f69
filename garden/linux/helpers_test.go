package linux_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"sort"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/linux"
)

// departingClient takes the first write, then fails like a client that left.
type departingClient struct {
	w    io.Writer
	done bool
}

func (d *departingClient) Write(p []byte) (int, error) {
	if d.done {
		return 0, errors.New("client went away")
	}
	d.done = true
	return d.w.Write(p)
}

func writeTar(w io.Writer, files map[string]string) {
	tw := tar.NewWriter(w)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		Expect(tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})).To(Succeed())
		_, err := tw.Write([]byte(files[n]))
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(tw.Close()).To(Succeed())
}

// readTar returns the regular files of a tar stream.
func readTar(r io.Reader) map[string]string {
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		if hdr.Typeflag == tar.TypeReg {
			var b bytes.Buffer
			_, err := io.Copy(&b, tr)
			Expect(err).NotTo(HaveOccurred())
			out[hdr.Name] = b.String()
		}
	}
}

// startedGarden starts a garden of its own with cfg over an image store in
// stateDir/storeDir.
func startedGarden(cfg linux.Config, storeDir string) *linux.Backend {
	GinkgoHelper()
	s, err := image.NewStore(logger, image.StoreConfig{Dir: filepath.Join(stateDir, storeDir), InsecureRegistries: []string{registry.Host}})
	Expect(err).NotTo(HaveOccurred())
	b, err := linux.New(logger, clock.NewClock(), cfg, s)
	Expect(err).NotTo(HaveOccurred())
	Expect(b.Start(context.Background())).To(Succeed())
	return b
}
