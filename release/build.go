package release

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// BuildOptions say where a release's parts come from.
type BuildOptions struct {
	// Source is the module's root, whose doc comments describe the
	// properties.
	Source string
	// Bin holds the built binaries: every job's and diego itself.
	Bin string
	// Version names the release.
	Version string
}

// Stage lays a release out in dir (made if missing): the binaries, every
// job's generated spec and its templates, and the manifest. Every property
// missing a description is an error, every one of them named.
func Stage(opts BuildOptions, dir string) (Manifest, error) {
	d := Dir(dir)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return Manifest{}, fmt.Errorf("release: %w", err)
	}
	bins := []string{"diego"}
	for _, j := range Jobs {
		bins = append(bins, j.Binaries...)
	}
	for _, b := range bins {
		if err := copyFile(filepath.Join(opts.Bin, b), d.Binary(b), 0o755); err != nil {
			return Manifest{}, err
		}
	}
	var specErrs []error
	for _, j := range Jobs {
		props, err := Describe(d.Binary(j.Binaries[0]))
		if err != nil {
			return Manifest{}, err
		}
		spec, err := GenerateSpec(j, props, opts.Source)
		if err != nil {
			specErrs = append(specErrs, err)
			continue
		}
		jobDir := filepath.Join(dir, "jobs", j.Name)
		if err := os.MkdirAll(filepath.Join(jobDir, "templates"), 0o755); err != nil {
			return Manifest{}, fmt.Errorf("release: %w", err)
		}
		if err := WriteSpec(filepath.Join(jobDir, "spec"), spec); err != nil {
			return Manifest{}, err
		}
		for name := range spec.Templates {
			src := path.Join("jobs", j.Name, "templates", name)
			data, err := templates.ReadFile(src)
			if err != nil {
				return Manifest{}, fmt.Errorf("release: job %s lacks template %s: %w", j.Name, name, err)
			}
			if err := os.WriteFile(filepath.Join(jobDir, "templates", name), data, 0o644); err != nil {
				return Manifest{}, fmt.Errorf("release: %w", err)
			}
		}
	}
	if len(specErrs) > 0 {
		return Manifest{}, fmt.Errorf("release: %w", errors.Join(specErrs...))
	}
	return d.writeManifest(opts.Version)
}

// Pack writes the staged release in dir as a gzipped tarball whose entries
// sit below top (diego-VERSION/).
func Pack(dir, top, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = path.Join(top, filepath.ToSlash(rel))
		if rel == "." {
			hdr.Mode = 0o755 // the stage may be a private temporary directory
		}
		if e.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname, hdr.Uid, hdr.Gid = "root", "root", 0, 0
		if err := tw.WriteHeader(hdr); err != nil || e.IsDir() {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	for _, c := range []io.Closer{tw, gz, f} {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("release: packing %s: %w", out, err)
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	// A binary being replaced may be running: write a new file, then rename.
	tmp := dst + ".new"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("release: copying %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("release: writing %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}
