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
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

// Cache keeps downloaded artifacts by cache key so that a second download of the
// same key does not reach the network. Implementations must be safe for
// concurrent use.
type Cache interface {
	// Fetch returns the artifact stored under key, calling fill to download it
	// when absent. The returned file is removed by the caller's Close.
	Fetch(ctx context.Context, key string, fill func(w io.Writer) error) (io.ReadCloser, error)
}

// Download fetches From over HTTP, checks its checksum, and streams it into the
// container at To: a tar or tar.gz archive is extracted there, any other file is
// placed at To itself.
type Download struct {
	Container         Container
	HTTP              *http.Client
	Cache             Cache // may be nil
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
	var body io.ReadCloser
	var err error
	if d.Cache != nil && d.CacheKey != "" {
		body, err = d.Cache.Fetch(ctx, d.CacheKey, func(w io.Writer) error { return d.fetch(ctx, w) })
	} else {
		var f *os.File
		f, err = os.CreateTemp("", "diego-download-")
		if err == nil {
			os.Remove(f.Name())
			if err = d.fetch(ctx, f); err == nil {
				_, err = f.Seek(0, io.SeekStart)
			}
			body = f
		}
	}
	if err != nil {
		if body != nil {
			body.Close()
		}
		if ctx.Err() != nil {
			return ErrCancelled
		}
		return fmt.Errorf("Downloading %s failed: %w", d.From, err)
	}
	defer body.Close()

	stream, err := asTar(body, d.To)
	if err != nil {
		return fmt.Errorf("Downloading %s failed: %w", d.From, err)
	}
	dst := d.To
	if !stream.archive {
		dst = path.Dir(d.To)
	}
	if err := d.Container.StreamIn(ctx, dst, d.User, stream); err != nil {
		return fmt.Errorf("Copying %s into the container failed: %w", d.From, err)
	}
	return nil
}

func (d Download) fetch(ctx context.Context, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.From, nil)
	if err != nil {
		return err
	}
	resp, err := d.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s", resp.Status)
	}
	var sum hash.Hash
	switch strings.ToLower(d.ChecksumAlgorithm) {
	case "":
	case "md5":
		sum = md5.New()
	case "sha1":
		sum = sha1.New()
	case "sha256":
		sum = sha256.New()
	default:
		return fmt.Errorf("unsupported checksum algorithm %q", d.ChecksumAlgorithm)
	}
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

type tarStream struct {
	io.Reader
	archive bool
}

// asTar passes a tar (or gzipped tar) through, and wraps anything else into a
// one-file tar named after dst.
func asTar(r io.Reader, dst string) (tarStream, error) {
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
	data, err := io.ReadAll(br)
	if err != nil {
		return tarStream{}, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: path.Base(dst), Mode: 0o755, Size: int64(len(data)), ModTime: time.Now()}
	if err := tw.WriteHeader(hdr); err != nil {
		return tarStream{}, err
	}
	if _, err := tw.Write(data); err != nil {
		return tarStream{}, err
	}
	if err := tw.Close(); err != nil {
		return tarStream{}, err
	}
	return tarStream{Reader: &buf}, nil
}

// Upload streams From out of the container (as a tar) and PUTs it to To.
type Upload struct {
	Container Container
	HTTP      *http.Client
	From, To  string
	User      string
}

// Perform implements Step.
func (u Upload) Perform(ctx context.Context) error {
	if ctx.Err() != nil {
		return ErrCancelled
	}
	out, err := u.Container.StreamOut(ctx, u.From, u.User)
	if err != nil {
		return fmt.Errorf("Uploading %s failed: %w", u.From, err)
	}
	defer out.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.To, out)
	if err != nil {
		return fmt.Errorf("Uploading %s failed: %w", u.From, err)
	}
	resp, err := u.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ErrCancelled
		}
		return fmt.Errorf("Uploading %s failed: %w", u.From, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("Uploading %s failed: server answered %s", u.From, resp.Status)
	}
	return nil
}
