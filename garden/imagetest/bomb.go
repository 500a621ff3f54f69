package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// bombChunk is the zeros each gzip member of a bomb layer expands to.
const bombChunk = 16 << 20

// BombLayer is a decompression bomb: a gzip layer of a few MB whose tar holds
// one file of expands bytes of zeros (rounded up to 16 MiB). The gzip is a
// run of identical members, so building it costs one 16 MiB compression; its
// diff ID is the real one, so a store without a cap would unpack and accept it.
func BombLayer(expands int64) (v1.Layer, error) {
	chunks := (expands + bombChunk - 1) / bombChunk
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "bomb", Mode: 0o644, Size: chunks * bombChunk, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	trailer := make([]byte, 1024) // two zero blocks end a tar
	zeros := make([]byte, bombChunk)

	member := func(p []byte) ([]byte, error) {
		var b bytes.Buffer
		zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(p); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	head, err := member(hdr.Bytes())
	if err != nil {
		return nil, err
	}
	body, err := member(zeros)
	if err != nil {
		return nil, err
	}
	tail, err := member(trailer)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	diff := sha256.New()
	gz.Write(head)
	diff.Write(hdr.Bytes())
	for range chunks {
		gz.Write(body)
		diff.Write(zeros)
	}
	gz.Write(tail)
	diff.Write(trailer)

	digest := sha256.Sum256(gz.Bytes())
	return &bombLayer{
		gz:     gz.Bytes(),
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(digest[:])},
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))},
	}, nil
}

type bombLayer struct {
	gz             []byte
	digest, diffID v1.Hash
}

func (l *bombLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *bombLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *bombLayer) Size() (int64, error)     { return int64(len(l.gz)), nil }
func (l *bombLayer) MediaType() (types.MediaType, error) {
	return types.DockerLayer, nil
}

func (l *bombLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}

func (l *bombLayer) Uncompressed() (io.ReadCloser, error) {
	zr, err := gzip.NewReader(bytes.NewReader(l.gz))
	if err != nil {
		return nil, err
	}
	return zr, nil
}
