package release_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/release"
)

// required are the properties each job has no working default for: what an
// operator must give at least. A job added without an entry here fails the
// "renders with its defaults" row until it gets one.
var required = map[string]map[string]any{
	"bbs": {
		"etcd.endpoints":   []any{"https://10.0.0.1:2379"},
		"encryption_keys":  map[string]any{"k1": "sixteen or more characters"},
		"active_key_label": "k1",
	},
	"receptor":      {"username": "operator", "password": "secret"},
	"auctioneer":    {},
	"converger":     {"bbs_urls": []any{"https://10.0.0.2:8889"}, "etcd.endpoints": []any{"https://10.0.0.1:2379"}},
	"route-emitter": {},
	"router":        {},
	"rep":           {"cell_id": "cell-1"},
	"garden":        {"state_dir": "/var/lib/diego/garden"},
}

// jobEntries is one table row per job of the release.
func jobEntries() []TableEntry {
	var entries []TableEntry
	for _, j := range release.Jobs {
		entries = append(entries, Entry(j.Name, j.Name))
	}
	return entries
}

// equalValue matches a JSON value; null is matched by BeNil.
func equalValue(v any) types.GomegaMatcher {
	if v == nil {
		return BeNil()
	}
	return Equal(v)
}

func job(name string) release.Job {
	j, err := release.JobNamed(name)
	Expect(err).NotTo(HaveOccurred())
	return j
}

// flatten turns a rendered config back into dotted property names.
func flatten(prefix string, doc map[string]any, spec release.Spec, out map[string]any) {
	for k, v := range doc {
		name := prefix + k
		if inner, ok := v.(map[string]any); ok {
			if _, leaf := spec.Properties[name]; !leaf {
				flatten(name+".", inner, spec, out)
				continue
			}
		}
		out[name] = v
	}
}

// rendered renders props for the job into a temporary file and returns the
// config it wrote, by dotted name.
func rendered(j release.Job, props map[string]any) (map[string]any, error) {
	path := filepath.Join(GinkgoT().TempDir(), j.Name+".json")
	if _, err := staged.Render(j, props, path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var doc map[string]any
	Expect(json.Unmarshal(data, &doc)).To(Succeed())
	spec, err := staged.Spec(j)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]any{}
	flatten("", doc, spec, out)
	return out, nil
}

var _ = Describe("the jobs", func() {
	It("are one per daemon under cmd/ (every command but the CLI, the bench reporter and garden's init)", func() {
		entries, err := os.ReadDir(filepath.Join(source, "cmd"))
		Expect(err).NotTo(HaveOccurred())
		var daemons, jobs []string
		for _, e := range entries {
			switch e.Name() {
			case "diego", "benchreport", "garden-init":
			default:
				daemons = append(daemons, e.Name())
			}
		}
		for _, j := range release.Jobs {
			jobs = append(jobs, j.Name)
		}
		Expect(jobs).To(ConsistOf(daemons))
	})
})

var _ = Describe("every job's spec", func() {
	DescribeTable("lists every property of the daemon's Config with a description and the daemon's own default",
		func(name string) {
			j := job(name)
			props, err := release.Describe(staged.Binary(j.Binaries[0]))
			Expect(err).NotTo(HaveOccurred())
			spec, err := staged.Spec(j)
			Expect(err).NotTo(HaveOccurred())
			var names []string
			for _, p := range props {
				names = append(names, p.Name)
				Expect(spec.Properties).To(HaveKey(p.Name), "the spec of %s lacks %s", name, p.Name)
				Expect(spec.Properties[p.Name].Description).NotTo(BeEmpty(), p.Name)
				Expect(spec.Properties[p.Name].Default).To(equalValue(p.Default), p.Name)
				Expect(spec.Properties[p.Name].Type).To(Equal(p.Type), p.Name)
			}
			Expect(spec.Names()).To(ConsistOf(names), "the spec of %s has a property its Config lacks", name)
			Expect(spec.Templates).To(HaveKeyWithValue(j.Unit(), "/etc/systemd/system/"+j.Unit()))
		},
		jobEntries())

	DescribeTable("renders with its defaults (and only what has none), and the daemon accepts the config",
		func(name string) {
			j := job(name)
			Expect(required).To(HaveKey(name), "say what %s requires", name)
			config, err := rendered(j, required[name])
			Expect(err).NotTo(HaveOccurred())
			spec, err := staged.Spec(j)
			Expect(err).NotTo(HaveOccurred())
			Expect(config).To(HaveLen(len(spec.Properties)), "the config holds every property")
			for n, p := range spec.Properties {
				if v, ok := required[name][n]; ok {
					Expect(config[n]).To(Equal(v), n)
				} else {
					Expect(config[n]).To(equalValue(p.Default), n)
				}
			}
		},
		jobEntries())

	DescribeTable("renders a full properties file (every property set, nested), and the daemon accepts the config",
		func(name string) {
			j := job(name)
			spec, err := staged.Spec(j)
			Expect(err).NotTo(HaveOccurred())
			full := fullProperties(j, spec)
			nested := map[string]any{}
			for n, v := range full {
				setNested(nested, n, v)
			}
			config, err := rendered(j, nested)
			Expect(err).NotTo(HaveOccurred())
			Expect(config).To(Equal(full))
			Expect(config["debug_address"]).To(Equal("127.0.0.1:17999"))
		},
		jobEntries())

	DescribeTable("refuses a bad property with an error naming it",
		func(name string, props map[string]any, says string) {
			j := job(name)
			all := map[string]any{}
			for k, v := range required[name] {
				all[k] = v
			}
			for k, v := range props {
				all[k] = v
			}
			_, err := rendered(j, all)
			Expect(err).To(MatchError(ContainSubstring(says)))
		},
		Entry("a name the spec lacks", "bbs", map[string]any{"etcd": map[string]any{"endpionts": []any{"x"}}, "listen_adress": ":1"},
			`job bbs has no property "etcd.endpionts", "listen_adress"`),
		Entry("a value of the wrong type", "rep", map[string]any{"zone": 3}, "zone"),
		Entry("a duration that is not one", "rep", map[string]any{"presence_ttl": "soon"}, "presence_ttl"),
		Entry("a value the daemon refuses", "bbs", map[string]any{"max_instances": -1}, "max_instances must be positive"),
		Entry("a lock TTL below a second", "converger", map[string]any{"lock_ttl": "10ms"}, "lock_ttl must be at least 1s"),
		Entry("a bridge name garden cannot use", "garden", map[string]any{"bridge_name": "Bad_Bridge"}, `bridge_name "Bad_Bridge"`),
		Entry("a route emitter without etcd", "route-emitter", map[string]any{"etcd.endpoints": []any{}}, "etcd.endpoints is required"),
		Entry("an unknown log level", "router", map[string]any{"log_level": "loud"}, "log_level"),
		Entry("a duration written as a number", "auctioneer", map[string]any{"lock_ttl": 15000}, `lock_ttl: a duration is a string`),
		Entry("several mistakes, each named", "bbs", map[string]any{"max_instances": -1, "call_timeout": "0s"},
			"call_timeout must be positive"),
	)
})

// fullProperties gives every property of spec a value: the required ones
// theirs, TLS files real certificates of the job's role, the debug address
// a non-default one, and the rest their defaults, written out.
func fullProperties(j release.Job, spec release.Spec) map[string]any {
	dir := filepath.Join(GinkgoT().TempDir(), "certs")
	id := certs.Of("bbs")
	if j.Role == certs.RoleRep {
		id = certs.Rep("cell-1")
	} else if j.Role != "" {
		id = certs.Of(j.Role)
	}
	_, err := certs.WriteSet(dir, certs.SetOptions{Identities: []certs.Identity{id}})
	Expect(err).NotTo(HaveOccurred())
	files := certs.FilesIn(dir, id)
	full := map[string]any{}
	for n, p := range spec.Properties {
		full[n] = p.Default
		if v, ok := required[j.Name][n]; ok {
			full[n] = v
		}
		switch {
		case strings.HasSuffix(n, "ca_cert_file"):
			full[n] = files.CACert
		case strings.HasSuffix(n, "cert_file"):
			full[n] = files.Cert
		case strings.HasSuffix(n, "key_file"):
			full[n] = files.Key
		}
	}
	Expect(full).To(HaveKey("debug_address"))
	full["debug_address"] = "127.0.0.1:17999"
	return full
}

func setNested(doc map[string]any, name string, v any) {
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		inner, ok := doc[p].(map[string]any)
		if !ok {
			inner = map[string]any{}
			doc[p] = inner
		}
		doc = inner
	}
	doc[parts[len(parts)-1]] = v
}

var _ = Describe("generating a spec", func() {
	// A command's source with a Config, as cmd/NAME/main.go holds it.
	const fakeMain = `package main

// Config is the fake daemon's config.
type Config struct {
	// Listen is where it listens. Default ":1".
	Listen string ` + "`json:\"listen\"`" + `
	// Low and High bound it; defaults 1 and 2.
	Low  int ` + "`json:\"low\"`" + `
	High int ` + "`json:\"high\"`" + `
	Sneaky int ` + "`json:\"sneaky\"`" + `

	Forgotten int ` + "`json:\"forgotten\"`" + `
}
`
	var src string
	fake := release.Job{Name: "fake", Summary: "a test", Binaries: []string{"fake"}}
	prop := func(name, field string) config.Property {
		return config.Property{Name: name, Type: "integer", Default: 1,
			Declared: config.Declaration{Package: "main", Type: "Config", Field: field}}
	}

	BeforeEach(func() {
		src = GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(src, "cmd", "fake"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(src, "cmd", "fake", "main.go"), []byte(fakeMain), 0o644)).To(Succeed())
	})

	It("takes each description from the field's doc comment, a group's from the comment heading it", func() {
		spec, err := release.GenerateSpec(fake, []config.Property{prop("listen", "Listen"), prop("low", "Low"), prop("high", "High")}, src)
		Expect(err).NotTo(HaveOccurred())
		Expect(spec.Properties["listen"].Description).To(Equal(`Listen is where it listens. Default ":1".`))
		Expect(spec.Properties["high"].Description).To(Equal("Low and High bound it; defaults 1 and 2."))
	})

	It("fails when a Config field has no description, naming the property and the field", func() {
		_, err := release.GenerateSpec(fake, []config.Property{prop("listen", "Listen"), prop("forgotten", "Forgotten")}, src)
		Expect(err).To(MatchError(ContainSubstring("job fake: property forgotten has no description: write a doc comment on Config.Forgotten")))
	})

	It("does not lend a group's comment to a field it does not name", func() {
		_, err := release.GenerateSpec(fake, []config.Property{prop("high", "High"), prop("sneaky", "Sneaky")}, src)
		Expect(err).To(MatchError(ContainSubstring("property sneaky has no description")))
	})

	It("fails when the binary describes a field the source does not declare", func() {
		_, err := release.GenerateSpec(fake, []config.Property{prop("renamed", "Renamed")}, src)
		Expect(err).To(MatchError(ContainSubstring("field Config.Renamed not found")))
	})
})
