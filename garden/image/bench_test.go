package image_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// BenchmarkPull measures, against an in-process registry on loopback, the
// first pull of a 5-layer image (about 6 MiB compressed) into an empty store,
// then creates from the cached image: the share of a container create that
// the image layer costs once layers are cached.
func BenchmarkPull(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Fatal("the image benchmark mounts overlays: run it as root")
	}
	img, err := imagetest.FiveLayerImage()
	if err != nil {
		b.Fatal(err)
	}
	reg := imagetest.NewRegistry()
	defer reg.Close()
	if err := imagetest.Push(reg.Host, "bench/five", "latest", img); err != nil {
		b.Fatal(err)
	}
	logger := lager.NewLogger("bench")
	spec := image.Spec{URI: "docker://" + reg.Host + "/bench/five"}
	ctx := context.Background()

	var store *image.Store
	var firstPull time.Duration
	for i := 0; i < b.N; i++ {
		store, err = image.NewStore(logger, image.StoreConfig{Dir: b.TempDir(), InsecureRegistries: []string{reg.Host}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := store.Create(ctx, logger, "first", spec); err != nil {
			b.Fatal(err)
		}
		firstPull = time.Since(start)
		if err := store.Cleanup(logger); err != nil {
			b.Fatal(err)
		}
	}
	benchreport.Below("garden", "first pull of a 5-layer image", ms(firstPull), "ms", 2000)

	const creates = 50
	durations := make([]time.Duration, 0, creates)
	for i := range creates {
		handle := fmt.Sprintf("cached-%d", i)
		start := time.Now()
		if _, err := store.Create(ctx, logger, handle, spec); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
		if err := store.Destroy(logger, handle); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(durations)
	benchreport.Below("garden", "rootfs create from a cached image p50", ms(durations[creates/2]), "ms", 150)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
