package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"text/template"
	"time"
)

// Values are a job's properties by dotted name, each at the value a
// properties file gave it or else at its spec's default.
type Values map[string]any

// Merge resolves props (a properties file: dotted names, or objects nesting
// them, e.g. {"etcd": {"endpoints": [...]}}) against spec. Every name that is
// not a property of the job is refused, all of them named at once.
func Merge(spec Spec, props map[string]any) (Values, error) {
	values := Values{}
	for name, p := range spec.Properties {
		values[name] = p.Default
	}
	var unknown []string
	var walk func(prefix string, obj map[string]any)
	walk = func(prefix string, obj map[string]any) {
		for k, v := range obj {
			name := prefix + k
			if _, ok := spec.Properties[name]; ok {
				values[name] = v
				continue
			}
			if inner, ok := v.(map[string]any); ok && spec.hasPrefix(name+".") {
				walk(name+".", inner)
				continue
			}
			unknown = append(unknown, name)
		}
	}
	walk("", props)
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("job %s has no property %s (see its spec)", spec.Name, strings.Join(quote(unknown), ", "))
	}
	return values, nil
}

func (s Spec) hasPrefix(prefix string) bool {
	for name := range s.Properties {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

func quote(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// Config is the job's config file: every property, nested by its dotted
// name, as indented JSON.
func (v Values) Config() ([]byte, error) {
	doc := map[string]any{}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		parts := strings.Split(name, ".")
		obj := doc
		for _, p := range parts[:len(parts)-1] {
			inner, ok := obj[p].(map[string]any)
			if !ok {
				inner = map[string]any{}
				obj[p] = inner
			}
			obj = inner
		}
		obj[parts[len(parts)-1]] = v[name]
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the config: %w", err)
	}
	return append(data, '\n'), nil
}

// Check has the daemon's own binary load and validate the config file at
// path (-check): nil when the daemon would start with it, else the daemon's
// reasons.
func Check(binary, path string) error {
	var out bytes.Buffer
	cmd := exec.Command(binary, "-check", "-config", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the daemon refuses the config: %s", strings.TrimSpace(out.String()))
	}
	return nil
}

// Paths are where a job's parts live on its machine, for its templates.
type Paths struct {
	Bin     string // the binaries
	Config  string // the rendered config file
	Scripts string // the job's lifecycle scripts
}

// RenderTemplate renders one of job's templates (its unit or a script) with
// values. Templates read properties with {{prop "name"}} and may use sh
// (quote for a shell), seconds (a duration property in whole seconds), add,
// host and port (of a host:port).
func RenderTemplate(job Job, name string, text []byte, values Values) ([]byte, error) {
	funcs := template.FuncMap{
		"prop": func(n string) (any, error) {
			v, ok := values[n]
			if !ok {
				return nil, fmt.Errorf("no property %q", n)
			}
			return v, nil
		},
		"sh": func(v any) string { return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", `'\''`) + "'" },
		"seconds": func(v any) (int, error) {
			d, err := time.ParseDuration(fmt.Sprint(v))
			if err != nil {
				return 0, fmt.Errorf("seconds: %w", err)
			}
			return int(d.Seconds()), nil
		},
		"add": func(a, b int) int { return a + b },
		"host": func(v any) (string, error) {
			h, _, err := net.SplitHostPort(fmt.Sprint(v))
			if h == "" || h == "0.0.0.0" || h == "::" {
				h = "127.0.0.1"
			}
			return h, err
		},
		"port": func(v any) (string, error) {
			_, p, err := net.SplitHostPort(fmt.Sprint(v))
			return p, err
		},
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("job %s: template %s: %w", job.Name, name, err)
	}
	var out bytes.Buffer
	data := struct {
		Job Job
		Paths
	}{job, Paths{Bin: BinDir, Config: job.ConfigPath(), Scripts: job.ScriptDir()}}
	if err := t.Execute(&out, data); err != nil {
		return nil, fmt.Errorf("job %s: rendering %s: %w", job.Name, name, err)
	}
	return out.Bytes(), nil
}

// ReadProperties reads a properties file: a JSON object.
func ReadProperties(path string) (map[string]any, error) {
	if path == "" {
		return map[string]any{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading properties: %w", err)
	}
	props := map[string]any{}
	if err := json.Unmarshal(data, &props); err != nil {
		return nil, fmt.Errorf("properties %s: %w", path, err)
	}
	return props, nil
}
