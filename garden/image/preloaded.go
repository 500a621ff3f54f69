package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"code.cloudfoundry.org/lager/v3"
)

// preloadedLowers returns the lower dir for a preloaded rootfs. Without id
// mappings the configured directory itself is the only lower layer. With
// mappings its files must be owned by the shifted ids, so it is copied once
// per mapping into the layer cache (Cleanup drops these copies, so a changed
// preloaded rootfs is picked up when garden restarts).
func (s *Store) preloadedLowers(logger lager.Logger, held *hold, uri, name string, ids idShifter) ([]string, error) {
	dir, ok := s.preloaded[name]
	if !ok {
		return nil, &FetchError{URI: uri, Reason: fmt.Sprintf("no preloaded rootfs named %q", name)}
	}
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return nil, &FetchError{URI: uri, Reason: fmt.Sprintf("preloaded rootfs %q is not a directory", dir), Err: err}
	}
	if !ids.enabled() {
		return []string{dir}, nil
	}
	copyDir := filepath.Join(s.layersDir, preloadedPrefix+cacheName("preloaded:"+dir, ids))
	err = s.ensureLayer(context.Background(), logger, held, copyDir, func(tmp string) error {
		return copyShifted(dir, tmp, ids)
	})
	if err != nil {
		return nil, fmt.Errorf("copying preloaded rootfs %s: %w", dir, err)
	}
	return []string{copyDir}, nil
}

// copyShifted copies the tree at src into dst through the layer extractor, so
// ownership is shifted exactly as for image layers. Hard links become copies.
func copyShifted(src, dst string, ids idShifter) error {
	rootFD, err := syscall.Open(dst, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	e := &extractor{rootFD: rootFD, ids: ids, lastParentFD: -1}
	defer e.close()

	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		if info.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		}
		if hdr.Typeflag != tar.TypeReg {
			return e.entry(hdr, nil)
		}
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		return e.entry(hdr, f)
	})
	if err != nil {
		return err
	}
	return e.applyDirTimes()
}
