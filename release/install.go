package release

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/diego-runtime/diego/internal/certs"
)

// InstallOptions say which job to put where.
type InstallOptions struct {
	// Release is the unpacked release the job comes from.
	Release Dir
	// Job names the job.
	Job string
	// Properties are the machine's properties for the job.
	Properties map[string]any
	// Root is the machine's root: "/" on the machine itself, a directory
	// to lay the job out below anywhere else.
	Root string
	// Certs is a directory `diego certs` wrote; when set, the job's
	// certificate (and the CA's) are installed with the job and fill every
	// TLS block its properties leave empty. Empty: no certificates.
	Certs string
}

// Installed lists what Install wrote, as paths on the machine.
type Installed struct {
	Config  string
	Unit    string
	Files   []string
	Scripts []string
}

// Install puts a job on a machine: its binaries in BinDir, its certificates
// and rendered config (checked by the daemon) in ConfigDir/NAME, its spec and
// scripts in JobsDir/NAME and its systemd unit in SystemdDir. It enables
// nothing: systemctl does that.
func Install(opts InstallOptions) (Installed, error) {
	var done Installed
	job, err := JobNamed(opts.Job)
	if err != nil {
		return done, err
	}
	if opts.Root == "" {
		return done, fmt.Errorf("install: no root given (\"/\" on the machine itself)")
	}
	at := func(p string) string { return filepath.Join(opts.Root, p) }
	values, err := opts.Release.Values(job, opts.Properties)
	if err != nil {
		return done, err
	}
	if opts.Certs != "" {
		files, err := installCerts(job, values, opts.Certs, at)
		if err != nil {
			return done, err
		}
		done.Files = append(done.Files, files...)
		fillTLS(job, values, files)
	}

	for _, b := range job.Binaries {
		dst := BinDir + "/" + b
		if err := copyFile(opts.Release.Binary(b), at(dst), 0o755); err != nil {
			return done, err
		}
		done.Files = append(done.Files, dst)
	}
	if err := os.MkdirAll(filepath.Dir(at(job.ConfigPath())), 0o755); err != nil {
		return done, fmt.Errorf("install: %w", err)
	}
	if err := opts.Release.WriteConfig(job, values, at(job.ConfigPath())); err != nil {
		return done, err
	}
	done.Config = job.ConfigPath()

	spec, err := opts.Release.Spec(job)
	if err != nil {
		return done, err
	}
	specPath := JobsDir + "/" + job.Name + "/spec"
	if err := os.MkdirAll(filepath.Dir(at(specPath)), 0o755); err != nil {
		return done, fmt.Errorf("install: %w", err)
	}
	if err := WriteSpec(at(specPath), spec); err != nil {
		return done, err
	}
	done.Files = append(done.Files, specPath)
	for name, dst := range spec.Templates {
		text, err := opts.Release.Template(job, name)
		if err != nil {
			return done, err
		}
		out, err := RenderTemplate(job, name, text, values)
		if err != nil {
			return done, err
		}
		mode := os.FileMode(0o755)
		if dst == SystemdDir+"/"+job.Unit() {
			mode = 0o644
			done.Unit = dst
		} else {
			done.Scripts = append(done.Scripts, dst)
		}
		if err := os.MkdirAll(filepath.Dir(at(dst)), 0o755); err != nil {
			return done, fmt.Errorf("install: %w", err)
		}
		if err := os.WriteFile(at(dst), out, mode); err != nil {
			return done, fmt.Errorf("install: %w", err)
		}
	}
	return done, nil
}

// installCerts copies the CA's certificate and the job's certificate and key
// into the job's certs directory; it returns their machine paths: CA, cert,
// key.
func installCerts(job Job, values Values, dir string, at func(string) string) ([]string, error) {
	if job.Role == "" {
		return nil, nil
	}
	id := certs.Of(job.Role)
	if job.Role == certs.RoleRep {
		cell, _ := values["cell_id"].(string)
		if cell == "" {
			return nil, fmt.Errorf("install: the rep's certificate names its cell: set cell_id")
		}
		id = certs.Rep(cell)
	}
	src := certs.FilesIn(dir, id)
	dst := certs.FilesIn(job.CertsDir(), id)
	pairs := []struct {
		from, to string
		mode     os.FileMode
	}{{src.CACert, dst.CACert, 0o644}, {src.Cert, dst.Cert, 0o644}, {src.Key, dst.Key, 0o600}}
	var out []string
	for _, p := range pairs {
		if _, err := os.Stat(p.from); err != nil {
			return nil, fmt.Errorf("install: %s's certificate: %w (diego certs writes it)", id, err)
		}
		if err := copyFile(p.from, at(p.to), p.mode); err != nil {
			return nil, err
		}
		out = append(out, p.to)
	}
	return out, nil
}

// fillTLS points every TLS block of the job that the properties leave empty
// at the installed certificate files (CA, cert, key).
func fillTLS(job Job, values Values, files []string) {
	if len(files) != 3 {
		return
	}
	for _, prefix := range job.TLS {
		keys := []string{prefix + ".ca_cert_file", prefix + ".cert_file", prefix + ".key_file"}
		set := false
		for _, k := range keys {
			if v, ok := values[k]; ok && v != "" {
				set = true
			}
		}
		if set {
			continue
		}
		for i, k := range keys {
			values[k] = files[i]
		}
	}
}
