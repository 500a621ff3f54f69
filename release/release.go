package release

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// ManifestFile is the release's manifest, at the top of the tarball.
const ManifestFile = "release.json"

// Manifest says what a release holds.
type Manifest struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Jobs    []string `json:"jobs"`
	// Files are every other file of the release by relative path.
	Files map[string]File `json:"files"`
}

// File is one file of a release.
type File struct {
	SHA256 string `json:"sha256"`
	// Static is set on binaries: true when statically linked.
	Static *bool `json:"static,omitempty"`
}

// Dir is an unpacked release (or one being staged).
type Dir string

// Spec reads the spec of job.
func (d Dir) Spec(job Job) (Spec, error) {
	return ReadSpec(filepath.Join(string(d), "jobs", job.Name, "spec"))
}

// Binary is the path of a binary of the release.
func (d Dir) Binary(name string) string { return filepath.Join(string(d), "bin", name) }

// Template reads one of job's templates.
func (d Dir) Template(job Job, name string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(string(d), "jobs", job.Name, "templates", name))
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", job.Name, err)
	}
	return data, nil
}

// Manifest reads the release's manifest.
func (d Dir) Manifest() (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(string(d), ManifestFile))
	if err != nil {
		return m, fmt.Errorf("reading the release manifest: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("release manifest: %w", err)
	}
	return m, nil
}

// Values resolves props against job's spec (Merge).
func (d Dir) Values(job Job, props map[string]any) (Values, error) {
	spec, err := d.Spec(job)
	if err != nil {
		return nil, err
	}
	return Merge(spec, props)
}

// Render resolves props against job's spec, writes the config file to path
// and has the job's daemon check it. It returns the values the config holds.
func (d Dir) Render(job Job, props map[string]any, path string) (Values, error) {
	values, err := d.Values(job, props)
	if err != nil {
		return nil, err
	}
	return values, d.WriteConfig(job, values, path)
}

// WriteConfig writes the config file of values to path and has the job's
// daemon check it.
func (d Dir) WriteConfig(job Job, values Values, path string) error {
	data, err := values.Config()
	if err != nil {
		return err
	}
	// The config may hold secrets (encryption keys, passwords).
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing the config of %s: %w", job.Name, err)
	}
	if err := Check(d.Binary(job.Binaries[0]), path); err != nil {
		return fmt.Errorf("job %s: %w", job.Name, err)
	}
	return nil
}

// Verify checks every file the manifest lists against its sha256.
func (d Dir) Verify() error {
	m, err := d.Manifest()
	if err != nil {
		return err
	}
	for path, f := range m.Files {
		sum, err := sha256File(filepath.Join(string(d), path))
		if err != nil {
			return err
		}
		if sum != f.SHA256 {
			return fmt.Errorf("release: %s does not match its sha256 in %s", path, ManifestFile)
		}
	}
	return nil
}

// writeManifest lists every file below d (but the manifest) with its sha256.
func (d Dir) writeManifest(version string) (Manifest, error) {
	m := Manifest{Name: "diego", Version: version, Files: map[string]File{}}
	for _, j := range Jobs {
		m.Jobs = append(m.Jobs, j.Name)
	}
	err := filepath.WalkDir(string(d), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(string(d), path)
		if err != nil || rel == ManifestFile {
			return err
		}
		sum, err := sha256File(path)
		if err != nil {
			return err
		}
		f := File{SHA256: sum}
		if filepath.Dir(rel) == "bin" {
			static, err := isStatic(path)
			if err != nil {
				return err
			}
			f.Static = &static
		}
		m.Files[filepath.ToSlash(rel)] = f
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("listing the release: %w", err)
	}
	sort.Strings(m.Jobs)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("encoding the manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(string(d), ManifestFile), append(data, '\n'), 0o644); err != nil {
		return m, fmt.Errorf("writing the manifest: %w", err)
	}
	return m, nil
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("release: reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isStatic reports whether the ELF binary at path needs no dynamic loader.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("release: reading %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
