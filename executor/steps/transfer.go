package steps

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/garden"
)

// Cache keeps downloaded artifacts by cache key so that a second download of the
// same key does not reach the network. Implementations must be safe for
// concurrent use.
type Cache interface {
	// Fetch returns the artifact stored under key and its size, calling fill to
	// download it when absent; fill's error keeps it out of the cache. The
	// caller closes the reader when done with it.
	Fetch(ctx context.Context, key string, fill func(w io.Writer) error) (io.ReadCloser, int64, error)
}

// Download fetches From over HTTP, checks its checksum, and streams it into the
// container at To: a tar or tar.gz archive is extracted there, any other file is
// placed at To itself. Nothing is read whole into memory, and nothing is staged
// on the host unless it has a cache key (then it goes through Cache, which
// keeps artifacts in the cell's state directory): an uncached artifact goes
// straight from the response into the container, and its checksum is checked
// as it passes, so a mismatch fails the step after its bytes are in the
// container (whose run then fails). A plain file needs the server to say its
// length (Content-Length), since a tar entry starts with its size.
// An artifact larger than the container's disk limit fails with a reason that
// says so. With an Artifact name it says what it is doing on Streamer.
type Download struct {
	Container         Container
	HTTP              *http.Client
	Cache             Cache // may be nil: every download reaches the network
	Streamer          Streamer
	Artifact          string
	From, To          string
	CacheKey          string
	ChecksumAlgorithm string
	ChecksumValue     string
	User              string
}

// Perform implements Step.
func (d Download) Perform(ctx context.Context) error {
	if ctx.Err() != nil {
		return ErrCancelled
	}
	if d.Artifact != "" {
		fmt.Fprintf(d.Streamer.Stdout(), "Downloading %s...\n", d.Artifact)
	}
	size, err := d.perform(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ErrCancelled
		}
		if d.Artifact != "" {
			fmt.Fprintf(d.Streamer.Stderr(), "Downloading %s failed\n", d.Artifact)
		}
		return err
	}
	if d.Artifact != "" {
		fmt.Fprintf(d.Streamer.Stdout(), "Downloaded %s (%s)\n", d.Artifact, byteSize(size))
	}
	return nil
}

func (d Download) perform(ctx context.Context) (int64, error) {
	body, size, err := d.open(ctx)
	if err != nil {
		return 0, fmt.Errorf("Downloading %s failed: %w", d.From, err)
	}
	defer body.Close()

	// A cached key may have been filled by a download that named another
	// checksum, or none: check what this one names as it streams by.
	// An uncached body is checked here too: it streams straight in.
	src := io.Reader(body)
	var sum hash.Hash
	if d.ChecksumAlgorithm != "" {
		if sum, err = newChecksum(d.ChecksumAlgorithm); err != nil {
			return 0, fmt.Errorf("Downloading %s failed: %w", d.From, err)
		}
		src = io.TeeReader(body, sum)
	}
	stream, err := asTar(src, size, d.To)
	if err != nil {
		return 0, fmt.Errorf("Downloading %s failed: %w", d.From, err)
	}
	defer stream.Close()
	dst := d.To
	if !stream.archive {
		dst = path.Dir(d.To)
	}
	if err := d.Container.StreamIn(ctx, dst, d.User, stream); err != nil {
		if errors.Is(err, garden.ErrNoSpace) || errors.Is(err, syscall.ENOSPC) {
			return 0, fmt.Errorf("Copying %s into the container failed: it does not fit in the container's disk limit (disk_mb): %w", d.From, err)
		}
		return 0, fmt.Errorf("Copying %s into the container failed: %w", d.From, err)
	}
	if sum != nil {
		// An archive's reader may stop before the padding at its end.
		if _, err := io.Copy(io.Discard, src); err != nil {
			return 0, fmt.Errorf("Downloading %s failed: reading the cached artifact: %w", d.From, err)
		}
		if got := hex.EncodeToString(sum.Sum(nil)); !strings.EqualFold(got, d.ChecksumValue) {
			if d.cached() {
				return 0, fmt.Errorf("Downloading %s failed: checksum mismatch: the artifact cached under %q has %s %s, expected %s",
					d.From, d.CacheKey, d.ChecksumAlgorithm, got, d.ChecksumValue)
			}
			return 0, fmt.Errorf("Downloading %s failed: checksum mismatch: %s expected %s, got %s", d.From, d.ChecksumAlgorithm, d.ChecksumValue, got)
		}
	}
	return size, nil
}

func (d Download) cached() bool { return d.Cache != nil && d.CacheKey != "" }

// open returns the artifact from the cache (filling it on a miss) or, without
// a cache key, the response body itself, with its length (-1 if the server did
// not say).
func (d Download) open(ctx context.Context) (io.ReadCloser, int64, error) {
	if d.cached() {
		return d.Cache.Fetch(ctx, d.CacheKey, func(w io.Writer) error { return d.fetch(ctx, w) })
	}
	resp, err := d.get(ctx)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// get sends the GET and insists on 200.
func (d Download) get(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.From, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	return resp, nil
}

// fetch GETs From into w, and fails unless the body matches the checksum.
func (d Download) fetch(ctx context.Context, w io.Writer) error {
	sum, err := newChecksum(d.ChecksumAlgorithm)
	if err != nil {
		return err
	}
	resp, err := d.get(ctx)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dst := w
	if sum != nil {
		dst = io.MultiWriter(w, sum)
	}
	if _, err := io.Copy(dst, resp.Body); err != nil {
		return err
	}
	if sum != nil {
		got := hex.EncodeToString(sum.Sum(nil))
		if !strings.EqualFold(got, d.ChecksumValue) {
			return fmt.Errorf("checksum mismatch: %s expected %s, got %s", d.ChecksumAlgorithm, d.ChecksumValue, got)
		}
	}
	return nil
}

func newChecksum(algorithm string) (hash.Hash, error) {
	switch strings.ToLower(algorithm) {
	case "":
		return nil, nil
	case "md5":
		return md5.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "sha256":
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("unsupported checksum algorithm %q", algorithm)
}

// byteSize is n in the largest unit that keeps it at least 1.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	value, suffix := float64(n)/unit, "KMGTPE"
	i := 0
	for value >= unit && i < len(suffix)-1 {
		value /= unit
		i++
	}
	return fmt.Sprintf("%.1f%c", value, suffix[i])
}

// tarStream is what StreamIn gets. Close it to stop the writer of a wrapped
// file if StreamIn gave up early.
type tarStream struct {
	io.Reader
	archive bool
	close   func()
}

func (t tarStream) Close() {
	if t.close != nil {
		t.close()
	}
}

// asTar passes a tar (or gzipped tar) through, and streams anything else as a
// one-file tar named after dst, size bytes long.
func asTar(r io.Reader, size int64, dst string) (tarStream, error) {
	br := bufio.NewReaderSize(r, 1024)
	head, _ := br.Peek(512)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return tarStream{}, err
		}
		return tarStream{Reader: gz, archive: true}, nil
	}
	if len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")) {
		return tarStream{Reader: br, archive: true}, nil
	}
	if size < 0 {
		return tarStream{}, fmt.Errorf("the server did not say the file's length (Content-Length), which a plain file (not a tar) needs to be streamed into the container")
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: path.Base(dst), Mode: 0o755, Size: size, ModTime: time.Now()})
		if err == nil {
			_, err = io.CopyN(tw, br, size)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return tarStream{Reader: pr, close: func() { pr.Close() }}, nil
}

// Upload streams From out of the container (as a tar) and PUTs it to To. With
// an Artifact name it says what it is doing on Streamer.
type Upload struct {
	Container Container
	HTTP      *http.Client
	Streamer  Streamer
	Artifact  string
	From, To  string
	User      string
}

// Perform implements Step.
func (u Upload) Perform(ctx context.Context) error {
	if ctx.Err() != nil {
		return ErrCancelled
	}
	if u.Artifact != "" {
		fmt.Fprintf(u.Streamer.Stdout(), "Uploading %s...\n", u.Artifact)
	}
	size, err := u.perform(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ErrCancelled
		}
		if u.Artifact != "" {
			fmt.Fprintf(u.Streamer.Stderr(), "Uploading %s failed\n", u.Artifact)
		}
		return err
	}
	if u.Artifact != "" {
		fmt.Fprintf(u.Streamer.Stdout(), "Uploaded %s (%s)\n", u.Artifact, byteSize(size))
	}
	return nil
}

func (u Upload) perform(ctx context.Context) (int64, error) {
	out, err := u.Container.StreamOut(ctx, u.From, u.User)
	if err != nil {
		return 0, fmt.Errorf("Uploading %s failed: %w", u.From, err)
	}
	defer out.Close()
	counted := &countingReader{r: out}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.To, counted)
	if err != nil {
		return 0, fmt.Errorf("Uploading %s failed: %w", u.From, err)
	}
	resp, err := u.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("Uploading %s failed: %w", u.From, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return 0, fmt.Errorf("Uploading %s failed: server answered %s", u.From, resp.Status)
	}
	return counted.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
