package release

import (
	"embed"
	"fmt"
	"strings"
)

// Job is one daemon's job.
type Job struct {
	// Name names the job, its daemon's binary (cmd/NAME) and its unit
	// (diego-NAME.service).
	Name string
	// Summary says in one line what the job is for.
	Summary string
	// Binaries are the files of bin/ the job runs, its daemon's first.
	Binaries []string
	// TLS are the property prefixes of the job's TLS blocks
	// (ca_cert_file, cert_file, key_file), which Install fills with the
	// job's certificate where the properties leave them empty.
	TLS []string
	// Role is the certificate role (internal/certs); a rep's certificate
	// names its cell, taken from the cell_id property.
	Role string
	// Scripts are the job's lifecycle scripts, templates under
	// jobs/NAME/templates installed into the job's bin directory.
	Scripts []string
}

// Jobs is every job of the release, one per daemon.
var Jobs = []Job{
	{Name: "bbs", Summary: "the store's API over etcd; run several, all active",
		Binaries: []string{"bbs"}, TLS: []string{"tls", "etcd.tls"}, Role: "bbs"},
	{Name: "receptor", Summary: "the public JSON API; run several",
		Binaries: []string{"receptor"}, TLS: []string{"bbs_tls", "nats_tls"}, Role: "receptor"},
	{Name: "auctioneer", Summary: "places instances and tasks on cells; one active (lock)",
		Binaries: []string{"auctioneer"}, TLS: []string{"tls", "etcd.tls"}, Role: "auctioneer"},
	{Name: "converger", Summary: "puts lost work back; one active (lock)",
		Binaries: []string{"converger"}, TLS: []string{"tls", "etcd.tls"}, Role: "converger"},
	{Name: "route-emitter", Summary: "publishes routes on NATS; one active (lock)",
		Binaries: []string{"route-emitter"}, TLS: []string{"bbs_tls", "nats_tls", "etcd.tls"}, Role: "route-emitter"},
	{Name: "router", Summary: "the HTTP router fed by NATS; run several",
		Binaries: []string{"router"}, TLS: []string{"nats_tls"}, Role: "router"},
	{Name: "rep", Summary: "a cell's representative and executor; one per cell, beside its garden",
		Binaries: []string{"rep"}, TLS: []string{"tls", "nats_tls"}, Role: "rep", Scripts: []string{"drain"}},
	{Name: "garden", Summary: "a cell's container daemon (root, runc); one per cell",
		Binaries: []string{"garden", "garden-init"}, Scripts: []string{"pre-start"}},
}

// JobNamed returns the job called name.
func JobNamed(name string) (Job, error) {
	var names []string
	for _, j := range Jobs {
		if j.Name == name {
			return j, nil
		}
		names = append(names, j.Name)
	}
	return Job{}, fmt.Errorf("no job %q (jobs: %s)", name, strings.Join(names, ", "))
}

// Where a job lives on a machine, below the install root.
const (
	BinDir     = "/opt/diego/bin"
	JobsDir    = "/opt/diego/jobs"
	ConfigDir  = "/etc/diego"
	SystemdDir = "/etc/systemd/system"
)

// Unit is the file name of the job's systemd unit.
func (j Job) Unit() string { return "diego-" + j.Name + ".service" }

// ConfigPath is where the job's rendered config lives on a machine.
func (j Job) ConfigPath() string { return ConfigDir + "/" + j.Name + "/config.json" }

// CertsDir is where the job's certificates live on a machine.
func (j Job) CertsDir() string { return ConfigDir + "/" + j.Name + "/certs" }

// ScriptDir is where the job's lifecycle scripts live on a machine.
func (j Job) ScriptDir() string { return JobsDir + "/" + j.Name + "/bin" }

// templates holds every job's unit and scripts, jobs/NAME/templates/*.
//
//go:embed jobs
var templates embed.FS
