package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the modification time of every fixture entry, so digests are stable.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Entry is one file system entry of a fixture layer.
type Entry struct {
	Path     string // relative to the root, e.g. "bin/sh"
	Type     byte   // tar.TypeReg, TypeDir, TypeSymlink, TypeLink, TypeChar, ...
	Mode     int64  // permission bits, e.g. 0o755
	UID, GID int
	Body     []byte // regular files
	Link     string // symlink target or hard link source
}

// Dir is a directory owned by root.
func Dir(p string, mode int64) Entry { return Entry{Path: p, Type: tar.TypeDir, Mode: mode} }

// File is a regular file owned by root.
func File(p string, mode int64, body []byte) Entry {
	return Entry{Path: p, Type: tar.TypeReg, Mode: mode, Body: body}
}

// Symlink is a symbolic link p -> target.
func Symlink(p, target string) Entry {
	return Entry{Path: p, Type: tar.TypeSymlink, Mode: 0o777, Link: target}
}

// Hardlink is a hard link p to the earlier entry source.
func Hardlink(p, source string) Entry {
	return Entry{Path: p, Type: tar.TypeLink, Mode: 0o644, Link: source}
}

// Whiteout deletes p from the layers below (the ".wh." marker).
func Whiteout(p string) Entry {
	return File(path.Join(path.Dir(p), ".wh."+path.Base(p)), 0o644, nil)
}

// Opaque hides everything the layers below have in dir (".wh..wh..opq").
func Opaque(dir string) Entry { return File(path.Join(dir, ".wh..wh..opq"), 0o644, nil) }

// Owned returns e owned by uid:gid.
func (e Entry) Owned(uid, gid int) Entry {
	e.UID, e.GID = uid, gid
	return e
}

// Tar writes entries as an uncompressed layer tarball.
func Tar(entries ...Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:     e.Path,
			Typeflag: e.Type,
			Mode:     e.Mode,
			Uid:      e.UID,
			Gid:      e.GID,
			Linkname: e.Link,
			ModTime:  epoch,
			Format:   tar.FormatPAX,
		}
		if e.Type == tar.TypeDir {
			hdr.Name += "/"
		}
		if e.Type == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", e.Path, err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write(e.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Layer builds a gzip-compressed layer from entries.
func Layer(entries ...Entry) (v1.Layer, error) {
	data, err := Tar(entries...)
	if err != nil {
		return nil, err
	}
	return LayerFromTar(data)
}

// LayerFromTar wraps an uncompressed tarball as a layer. Compression is fast
// and cached: fixtures are pushed and written many times per suite.
func LayerFromTar(data []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithCompressedCaching)
}
