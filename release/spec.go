package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/diego-runtime/diego/internal/config"
)

// Spec is a job's jobs/NAME/spec: BOSH's keys, written as JSON (which YAML
// readers read too).
type Spec struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Templates maps each template under jobs/NAME/templates to where it
	// is installed on a machine.
	Templates map[string]string `json:"templates"`
	// Properties are every property of the daemon's Config, by dotted name.
	Properties map[string]PropertySpec `json:"properties"`
}

// PropertySpec is one property of a spec.
type PropertySpec struct {
	Description string `json:"description"`
	// Type is the JSON shape (config.Property.Type).
	Type    string `json:"type"`
	Default any    `json:"default"`
}

// Names lists the spec's properties in order.
func (s Spec) Names() []string {
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe runs a daemon binary with -describe and returns the properties of
// its Config with their defaults.
func Describe(binary string) ([]config.Property, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, "-describe")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -describe: %w: %s", binary, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var props []config.Property
	if err := json.Unmarshal(stdout.Bytes(), &props); err != nil {
		return nil, fmt.Errorf("%s -describe: %w", binary, err)
	}
	return props, nil
}

// GenerateSpec writes job's spec from the properties its binary describes and
// the doc comments of the source tree at source (the module's root). Every
// property without a description is an error, all named at once.
func GenerateSpec(job Job, props []config.Property, source string) (Spec, error) {
	spec := Spec{
		Name:        job.Name,
		Description: "Diego's " + job.Name + ": " + job.Summary + ".",
		Templates:   map[string]string{job.Unit(): SystemdDir + "/" + job.Unit()},
		Properties:  map[string]PropertySpec{},
	}
	for _, s := range job.Scripts {
		spec.Templates[s] = job.ScriptDir() + "/" + s
	}
	d := newDocs(source)
	mainDir := filepath.Join(source, "cmd", job.Name)
	var errs []error
	for _, p := range props {
		desc, err := d.of(p.Declared, mainDir)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("job %s: property %s: %w", job.Name, p.Name, err))
			continue
		case desc == "":
			errs = append(errs, fmt.Errorf("job %s: property %s has no description: write a doc comment on %s.%s (%s)",
				job.Name, p.Name, p.Declared.Type, p.Declared.Field, p.Declared.Package))
			continue
		}
		if _, dup := spec.Properties[p.Name]; dup {
			errs = append(errs, fmt.Errorf("job %s: property %s is declared twice", job.Name, p.Name))
		}
		spec.Properties[p.Name] = PropertySpec{Description: desc, Type: p.Type, Default: p.Default}
	}
	return spec, errors.Join(errs...)
}

// WriteSpec writes spec to path as indented JSON.
func WriteSpec(path string, spec Spec) error {
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the spec of %s: %w", spec.Name, err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the spec of %s: %w", spec.Name, err)
	}
	return nil
}

// ReadSpec reads a spec written by WriteSpec.
func ReadSpec(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("reading spec: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return Spec{}, fmt.Errorf("spec %s: %w", path, err)
	}
	return spec, nil
}
