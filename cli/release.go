package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/diego-runtime/diego/release"
)

// releaseDir is the release a command works from: --release, else the
// release this diego binary was unpacked with (its bin/ directory's parent).
func releaseDir(flag string) (release.Dir, error) {
	if flag != "" {
		return release.Dir(flag), nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the release: %w (give --release)", err)
	}
	dir := filepath.Dir(filepath.Dir(self))
	if _, err := os.Stat(filepath.Join(dir, release.ManifestFile)); err != nil {
		return "", fmt.Errorf("this diego is not in an unpacked release (no %s in %s): give --release", release.ManifestFile, dir)
	}
	return release.Dir(dir), nil
}

// newReleaseCommand builds a release tarball (`make release` runs it).
func newReleaseCommand() *cobra.Command {
	var opts release.BuildOptions
	var out string
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Build the release tarball: binaries, one job per daemon (spec, unit, scripts) and a manifest",
		Long: `Build diego-VERSION.tgz from built binaries (--bin) and the source tree
(--source), whose doc comments describe each job's properties. Every job's
spec is generated from its daemon's Config (the binary's -describe); a
property without a description fails the build. make release runs this.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				out = "diego-" + opts.Version + ".tgz"
			}
			stage, err := os.MkdirTemp("", "diego-release-")
			if err != nil {
				return fmt.Errorf("staging the release: %w", err)
			}
			defer removeTemp(cmd, stage)
			m, err := release.Stage(opts, stage)
			if err != nil {
				return err
			}
			if err := release.Pack(stage, "diego-"+opts.Version, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: release %s, jobs %v, %d files\n", out, m.Version, m.Jobs, len(m.Files))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Source, "source", ".", "the source tree (the module's root)")
	f.StringVar(&opts.Bin, "bin", "bin", "directory of the built binaries")
	f.StringVar(&opts.Version, "version", "dev", "the release's version")
	f.StringVar(&out, "out", "", "the tarball to write (default diego-VERSION.tgz)")
	return cmd
}

// newRenderCommand renders one job's config for one machine.
func newRenderCommand() *cobra.Command {
	var dir, out string
	cmd := &cobra.Command{
		Use:   "render JOB PROPERTIES.json",
		Short: "Render a job's config from a machine's properties and have the daemon check it",
		Long: `Render JOB's config file: every property of the job's spec at the value
PROPERTIES.json gives it (dotted names, or objects nesting them) or else at
its default. A name the spec lacks is refused; the daemon's own binary then
loads and validates the result, as it would at start. Writes to --out, or
prints the config.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rel, err := releaseDir(dir)
			if err != nil {
				return err
			}
			job, err := release.JobNamed(args[0])
			if err != nil {
				return err
			}
			props, err := release.ReadProperties(args[1])
			if err != nil {
				return err
			}
			path := out
			if path == "" {
				tmp, err := os.MkdirTemp("", "diego-render-")
				if err != nil {
					return fmt.Errorf("rendering: %w", err)
				}
				defer removeTemp(cmd, tmp)
				path = filepath.Join(tmp, "config.json")
			}
			if _, err := rel.Render(job, props, path); err != nil {
				return err
			}
			if out != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s config, checked by %s\n", out, job.Name, job.Binaries[0])
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("reading the rendered config: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "release", "", "the unpacked release (default: the one this diego is in)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the config here instead of printing it")
	return cmd
}

// newInstallCommand puts a job on a machine.
func newInstallCommand() *cobra.Command {
	var opts release.InstallOptions
	var dir, props string
	cmd := &cobra.Command{
		Use:   "install JOB",
		Short: "Put a job on this machine (or under --root): binaries, config, certificates, systemd unit, scripts",
		Long: `Install JOB from the release: its binaries into /opt/diego/bin, its config
(rendered from --properties and checked by the daemon) and certificates
(from a 'diego certs' directory, filling every TLS block the properties
leave empty) into /etc/diego/JOB, its spec and lifecycle scripts into
/opt/diego/jobs/JOB and its unit into /etc/systemd/system/diego-JOB.service,
all below --root. It starts nothing: systemctl daemon-reload, then
systemctl enable --now diego-JOB.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rel, err := releaseDir(dir)
			if err != nil {
				return err
			}
			opts.Release, opts.Job = rel, args[0]
			if opts.Properties, err = release.ReadProperties(props); err != nil {
				return err
			}
			done, err := release.Install(opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "installed %s under %s:\n  config %s\n  unit   %s\n", opts.Job, opts.Root, done.Config, done.Unit)
			for _, s := range done.Scripts {
				fmt.Fprintf(w, "  script %s\n", s)
			}
			for _, f := range done.Files {
				fmt.Fprintf(w, "  file   %s\n", f)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "release", "", "the unpacked release (default: the one this diego is in)")
	f.StringVar(&props, "properties", "", "the machine's properties for the job (JSON)")
	f.StringVar(&opts.Root, "root", "/", "the machine's root")
	f.StringVar(&opts.Certs, "certs", "", "a directory 'diego certs' wrote; the job's certificate is installed from it")
	return cmd
}

// removeTemp removes a temporary directory, saying so if it cannot.
func removeTemp(cmd *cobra.Command, dir string) {
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "diego: leaving %s behind: %v\n", dir, err)
	}
}
