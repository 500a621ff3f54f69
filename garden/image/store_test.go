package image_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"code.cloudfoundry.org/lager/v3/lagertest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
)

var _ = Describe("Store", func() {
	var (
		logger   *lagertest.TestLogger
		ctx      context.Context
		dir      string
		cfg      image.StoreConfig
		store    *image.Store
		newStore = func() {
			var err error
			store, err = image.NewStore(logger, cfg)
			Expect(err).NotTo(HaveOccurred())
		}
	)

	BeforeEach(func() {
		logger = lagertest.NewTestLogger("image")
		ctx = context.Background()
		dir = GinkgoT().TempDir()
		cfg = image.StoreConfig{Dir: dir, InsecureRegistries: []string{registryHost}, HostImagePaths: []string{os.TempDir()}}
		newStore()
		// Registered after TempDir's own cleanup, so it runs first: no mount
		// may outlive a spec, and the temp dir must be removable.
		DeferCleanup(func() {
			Expect(store.Cleanup(logger)).To(Succeed())
			Expect(mountsUnder(dir)).To(BeEmpty())
		})
	})

	expectBusybox := func(img image.Image) {
		Expect(filepath.Join(img.RootFSPath, "bin", "busybox")).To(BeARegularFile())
		Expect(readFile(filepath.Join(img.RootFSPath, "etc", "passwd"))).To(ContainSubstring("vcap:x:2000:2000"))
		Expect(img.Config.Cmd).To(Equal([]string{"sh"}))
		Expect(img.Config.Env).To(ConsistOf(imagetest.Path))
	}

	expectNothingOf := func(handle string) {
		Expect(filepath.Join(dir, "containers", handle)).NotTo(BeAnExistingFile())
		Expect(mountsUnder(filepath.Join(dir, "containers"))).To(BeEmpty())
		Expect(filepath.Glob(filepath.Join(dir, "layers", "tmp-*"))).To(BeEmpty())
	}

	fetchError := func(err error) *image.FetchError {
		var fe *image.FetchError
		ExpectWithOffset(1, errors.As(err, &fe)).To(BeTrue(), "want a FetchError, got %v", err)
		return fe
	}

	Describe("Create", func() {
		Context("from a registry in the insecure list", func() {
			It("mounts the image's layers at <Dir>/containers/<handle>/rootfs and returns its config", func() {
				img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox#1.0"})
				Expect(err).NotTo(HaveOccurred())
				Expect(img.RootFSPath).To(Equal(filepath.Join(dir, "containers", "c1", "rootfs")))
				Expect(mountsUnder(img.RootFSPath)).To(HaveLen(1))
				expectBusybox(img)
			})

			It("uses the latest tag when the URI has none", func() {
				img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
				Expect(err).NotTo(HaveOccurred())
				expectBusybox(img)
			})

			It("accepts a digest instead of a tag", func() {
				digest, err := busybox.Digest()
				Expect(err).NotTo(HaveOccurred())
				img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox#" + digest.String()})
				Expect(err).NotTo(HaveOccurred())
				expectBusybox(img)
			})

			It("fetches docker:/// URIs from the default registry", func() {
				cfg.DefaultRegistry = registryHost
				newStore()
				img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker:///diego/busybox#1.0"})
				Expect(err).NotTo(HaveOccurred())
				expectBusybox(img)
			})

			It("fetches an image's config once, not for every container made from it", func() {
				config, err := busybox.ConfigName()
				Expect(err).NotTo(HaveOccurred())
				var configGets, manifestGets atomic.Int32
				reg := imagetest.NewRegistry(func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						switch {
						case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+config.String()):
							configGets.Add(1)
						case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/"):
							manifestGets.Add(1)
						}
						next.ServeHTTP(w, r)
					})
				})
				DeferCleanup(reg.Close)
				Expect(imagetest.Push(reg.Host, "diego/busybox", "1.0", busybox)).To(Succeed())
				cfg.InsecureRegistries = []string{reg.Host}
				newStore()
				for _, handle := range []string{"c1", "c2", "c3"} {
					img, err := store.Create(ctx, logger, handle, image.Spec{URI: "docker://" + reg.Host + "/diego/busybox#1.0"})
					Expect(err).NotTo(HaveOccurred())
					expectBusybox(img)
				}
				Expect(configGets.Load()).To(BeEquivalentTo(1))
				Expect(manifestGets.Load()).To(BeEquivalentTo(3), "a tag is resolved again for each container")
			})
		})

		Context("from a plain-HTTP registry that is not in the insecure list", func() {
			It("refuses with a FetchError that says so", func() {
				cfg.InsecureRegistries = nil
				newStore()
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox#1.0"})
				Expect(fetchError(err).Reason).To(ContainSubstring("not in the insecure registries list"))
				expectNothingOf("c1")
			})
		})

		Context("from a registry that requires credentials", func() {
			var uri string

			BeforeEach(func() {
				reg := imagetest.NewRegistry(imagetest.RequireBasicAuth("alice", "s3cret"))
				DeferCleanup(reg.Close)
				Expect(imagetest.Push(reg.Host, "private/busybox", "1.0", busybox,
					remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))).To(Succeed())
				cfg.InsecureRegistries = []string{reg.Host}
				newStore()
				uri = "docker://" + reg.Host + "/private/busybox#1.0"
			})

			It("succeeds with the right credentials", func() {
				img, err := store.Create(ctx, logger, "c1", image.Spec{URI: uri, Username: "alice", Password: "s3cret"})
				Expect(err).NotTo(HaveOccurred())
				expectBusybox(img)
			})

			It("fails with a FetchError for wrong credentials", func() {
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: uri, Username: "alice", Password: "wrong"})
				fe := fetchError(err)
				Expect(fe.Reason).To(Equal("registry refused the credentials"))
				Expect(fe.Error()).To(ContainSubstring(uri))
				expectNothingOf("c1")
			})

			It("fails with a FetchError without credentials", func() {
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: uri})
				Expect(fetchError(err).Reason).To(Equal("registry requires credentials"))
			})
		})

		Context("from a registry that refuses", func() {
			It("fails with a FetchError naming the refusal", func() {
				reg := imagetest.NewRegistry(imagetest.Refuse())
				DeferCleanup(reg.Close)
				cfg.InsecureRegistries = []string{reg.Host}
				newStore()
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + reg.Host + "/diego/busybox#1.0"})
				Expect(fetchError(err).Reason).To(Equal("registry denied access"))
				expectNothingOf("c1")
			})
		})

		Context("for an image the registry does not have", func() {
			It("fails with a FetchError naming the image", func() {
				uri := "docker://" + registryHost + "/diego/nonexistent#1.0"
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: uri})
				fe := fetchError(err)
				Expect(fe.Reason).To(Equal("image not found"))
				Expect(err.Error()).To(ContainSubstring(uri))
				expectNothingOf("c1")
			})
		})

		Context("when a layer arrives corrupted", func() {
			It("fails with a FetchError naming the digest mismatch and keeps nothing of it", func() {
				layers, err := whiteouts.Layers()
				Expect(err).NotTo(HaveOccurred())
				top, err := layers[len(layers)-1].Digest()
				Expect(err).NotTo(HaveOccurred())

				reg := imagetest.NewRegistry(imagetest.CorruptBlob(top))
				DeferCleanup(reg.Close)
				Expect(imagetest.Push(reg.Host, "diego/whiteouts", "latest", whiteouts)).To(Succeed())
				cfg.InsecureRegistries = []string{reg.Host}
				newStore()

				_, err = store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + reg.Host + "/diego/whiteouts"})
				fe := fetchError(err)
				Expect(fe.Reason).To(ContainSubstring(top.String()))
				Expect(fe.Reason).To(ContainSubstring("digest mismatch"))
				expectNothingOf("c1")
				Expect(layerDirs(dir)).To(HaveLen(2), "the two intact layers stay cached, the corrupt one does not")
			})
		})

		Context("from an OCI layout", func() {
			var layoutDir string

			BeforeEach(func() {
				layoutDir = filepath.Join(GinkgoT().TempDir(), "layout")
				Expect(imagetest.WriteOCILayout(layoutDir, busybox, "1.0")).To(Succeed())
				Expect(imagetest.WriteOCILayout(layoutDir, whiteouts, "whiteouts")).To(Succeed())
			})

			It("mounts the image with that tag", func() {
				img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "oci://" + layoutDir + "#1.0"})
				Expect(err).NotTo(HaveOccurred())
				expectBusybox(img)
				Expect(filepath.Join(img.RootFSPath, "a")).NotTo(BeAnExistingFile())
			})

			It("fails with a FetchError for a tag the layout lacks", func() {
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: "oci://" + layoutDir + "#2.0"})
				Expect(fetchError(err).Err).To(MatchError(ContainSubstring(`no image tagged "2.0"`)))
				expectNothingOf("c1")
			})

			It("fails with a FetchError when there is no layout", func() {
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: "oci://" + filepath.Join(os.TempDir(), "nonexistent-layout") + "#1.0"})
				Expect(fetchError(err).Reason).To(ContainSubstring("nothing at"))
			})
		})

		Context("from a docker archive", func() {
			It("mounts the image in the archive", func() {
				archive := filepath.Join(GinkgoT().TempDir(), "busybox.tar")
				Expect(imagetest.WriteDockerArchive(archive, busybox, "diego/busybox:1.0")).To(Succeed())
				img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker-archive://" + archive})
				Expect(err).NotTo(HaveOccurred())
				expectBusybox(img)
			})

			It("fails with a FetchError for a missing archive", func() {
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker-archive://" + filepath.Join(os.TempDir(), "nonexistent.tar")})
				fetchError(err)
				expectNothingOf("c1")
			})
		})

		Context("from a preloaded rootfs", func() {
			var rootfs string

			BeforeEach(func() {
				rootfs = filepath.Join(GinkgoT().TempDir(), "cflinuxfs")
				Expect(os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)).To(Succeed())
				Expect(os.WriteFile(filepath.Join(rootfs, "etc", "os-release"), []byte("preloaded\n"), 0o644)).To(Succeed())
				cfg.PreloadedRootFSes = map[string]string{"cflinuxfs": rootfs}
				newStore()
			})

			It("uses the directory as the only lower layer and leaves it untouched", func() {
				img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "preloaded:cflinuxfs"})
				Expect(err).NotTo(HaveOccurred())
				Expect(readFile(filepath.Join(img.RootFSPath, "etc", "os-release"))).To(Equal("preloaded\n"))
				Expect(overlayOptions(img.RootFSPath)).To(ContainSubstring("lowerdir=" + rootfs + ","))

				Expect(os.WriteFile(filepath.Join(img.RootFSPath, "etc", "os-release"), []byte("changed\n"), 0o644)).To(Succeed())
				Expect(readFile(filepath.Join(rootfs, "etc", "os-release"))).To(Equal("preloaded\n"))
			})

			It("uses a shifted copy when the container has id mappings", func() {
				spec := image.Spec{URI: "preloaded:cflinuxfs", UIDMappings: mapping, GIDMappings: mapping}
				img, err := store.Create(ctx, logger, "c1", spec)
				Expect(err).NotTo(HaveOccurred())
				uid, _ := owner(filepath.Join(img.RootFSPath, "etc", "os-release"))
				Expect(uid).To(Equal(uint32(100000)))
				uid, _ = owner(filepath.Join(rootfs, "etc", "os-release"))
				Expect(uid).To(BeZero(), "the preloaded directory itself is not touched")
			})

			It("fails with a FetchError for an unknown name", func() {
				_, err := store.Create(ctx, logger, "c1", image.Spec{URI: "preloaded:unknown"})
				Expect(fetchError(err).Reason).To(ContainSubstring(`"unknown"`))
				expectNothingOf("c1")
			})
		})

		Context("for a handle that already has a rootfs", func() {
			It("fails with ErrHandleExists and leaves the first rootfs alone", func() {
				first, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
				Expect(err).NotTo(HaveOccurred())
				_, err = store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
				Expect(err).To(MatchError(image.ErrHandleExists))
				Expect(mountsUnder(first.RootFSPath)).To(HaveLen(1))
				expectBusybox(first)
			})
		})

		DescribeTable("refuses bad URIs with ErrBadURI",
			func(spec image.Spec) {
				_, err := store.Create(ctx, logger, "c1", spec)
				Expect(err).To(MatchError(image.ErrBadURI))
				expectNothingOf("c1")
			},
			Entry("empty", image.Spec{URI: ""}),
			Entry("unknown scheme", image.Spec{URI: "ftp://host/busybox"}),
			Entry("no repository", image.Spec{URI: "docker:///"}),
			Entry("malformed repository", image.Spec{URI: "docker:///Library//busybox"}),
			Entry("bad tag", image.Spec{URI: "docker:///busybox#not a tag"}),
			Entry("OCI layout with a host", image.Spec{URI: "oci://host/path#1.0"}),
			Entry("relative archive path", image.Spec{URI: "docker-archive:relative.tar"}),
			Entry("preloaded without a name", image.Spec{URI: "preloaded:"}),
			Entry("username without password", image.Spec{URI: "docker:///busybox", Username: "alice"}),
		)

		It("refuses handles that are not a plain name", func() {
			for _, handle := range []string{"", ".", "..", "a/b", "../escape"} {
				_, err := store.Create(ctx, logger, handle, image.Spec{URI: "docker:///busybox"})
				Expect(err).To(MatchError(ContainSubstring("invalid container handle")), handle)
			}
		})
	})

	Describe("Config", func() {
		It("returns the image config without creating anything", func() {
			app := imagetest.Must(imagetest.HTTPAppImage(GinkgoT().TempDir()))
			Expect(imagetest.Push(registryHost, "diego/httpapp", "latest", app)).To(Succeed())

			config, err := store.Config(ctx, image.Spec{URI: "docker://" + registryHost + "/diego/httpapp"})
			Expect(err).NotTo(HaveOccurred())
			Expect(config.Entrypoint).To(Equal([]string{"/app/httpapp"}))
			Expect(config.ExposedPorts).To(Equal([]string{"8080/tcp"}))
			Expect(config.Env).To(ContainElement("PORT=8080"))
			Expect(layerDirs(dir)).To(BeEmpty())
		})

		It("fails like Create for an unknown image", func() {
			_, err := store.Config(ctx, image.Spec{URI: "docker://" + registryHost + "/diego/nonexistent"})
			Expect(fetchError(err).Reason).To(Equal("image not found"))
		})
	})

	Describe("Destroy", func() {
		It("unmounts the rootfs and removes the container's directories, idempotently", func() {
			_, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
			Expect(err).NotTo(HaveOccurred())
			Expect(store.Destroy(logger, "c1")).To(Succeed())
			expectNothingOf("c1")
			Expect(layerDirs(dir)).To(HaveLen(1), "layers stay cached")
			Expect(store.Destroy(logger, "c1")).To(Succeed())
			Expect(store.Destroy(logger, "never-created")).To(Succeed())
		})

		It("also unmounts what a runtime left mounted inside the rootfs", func() {
			img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
			Expect(err).NotTo(HaveOccurred())
			Expect(syscallMountTmpfs(filepath.Join(img.RootFSPath, "tmp"))).To(Succeed())
			Expect(store.Destroy(logger, "c1")).To(Succeed())
			expectNothingOf("c1")
		})
	})

	Describe("Cleanup after a crash", func() {
		It("unmounts and removes every container and half-written layer, keeping complete layers", func() {
			_, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
			Expect(err).NotTo(HaveOccurred())
			_, err = store.Create(ctx, logger, "c2", image.Spec{URI: "docker://" + registryHost + "/diego/whiteouts"})
			Expect(err).NotTo(HaveOccurred())
			halfWritten := filepath.Join(dir, "layers", "tmp-0123456789abcdef-42")
			Expect(os.MkdirAll(filepath.Join(halfWritten, "bin"), 0o755)).To(Succeed())

			// garden restarts: a new Store over the same directory.
			newStore()
			Expect(store.Cleanup(logger)).To(Succeed())
			expectNothingOf("c1")
			expectNothingOf("c2")
			Expect(halfWritten).NotTo(BeAnExistingFile())
			Expect(layerDirs(dir)).To(HaveLen(3))

			img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
			Expect(err).NotTo(HaveOccurred())
			expectBusybox(img)
		})
	})

	Describe("DiskUsage", func() {
		It("counts what the container wrote, not the image", func() {
			img, err := store.Create(ctx, logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
			Expect(err).NotTo(HaveOccurred())
			before, err := store.DiskUsage("c1")
			Expect(err).NotTo(HaveOccurred())
			Expect(before).To(BeNumerically("<", 64*1024))

			Expect(os.WriteFile(filepath.Join(img.RootFSPath, "tmp", "data"), make([]byte, 4<<20), 0o644)).To(Succeed())
			after, err := store.DiskUsage("c1")
			Expect(err).NotTo(HaveOccurred())
			Expect(after - before).To(BeNumerically(">=", 4<<20))
		})

		It("fails for an unknown handle", func() {
			_, err := store.DiskUsage("unknown")
			Expect(err).To(MatchError(os.ErrNotExist))
		})
	})
})
