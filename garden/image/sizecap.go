package image

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// DefaultMaxImageBytes is the most an image's layers may decompress to
// unless StoreConfig.MaxImageBytes says otherwise: 10 GiB.
const DefaultMaxImageBytes = 10 << 30

// ErrImageTooLarge is wrapped by the error of a create whose image
// decompresses past the store's cap (a decompression bomb, or just too big).
var ErrImageTooLarge = errors.New("image too large")

// sizeBudget is what the layers one create unpacks may decompress to, all
// together. Layers unpack in parallel, so the count is shared.
type sizeBudget struct {
	max  int64
	used atomic.Int64
}

func newSizeBudget(max int64) *sizeBudget { return &sizeBudget{max: max} }

// reader counts r's bytes against the budget and fails with ErrImageTooLarge
// once they pass it: the layer is abandoned after at most one read past the
// cap, whatever its headers claim.
func (b *sizeBudget) reader(r io.Reader) io.Reader { return &cappedReader{r: r, b: b} }

type cappedReader struct {
	r io.Reader
	b *sizeBudget
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.b.used.Add(int64(n)) > c.b.max {
		return 0, fmt.Errorf("%w: it decompresses to more than the cap of %d MiB", ErrImageTooLarge, c.b.max>>20)
	}
	return n, err
}
