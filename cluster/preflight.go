package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
)

// Preflight checks what the machine must have, each failure in one line that
// says what to do.
func Preflight(cfg Config) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("diego up runs containers and needs root: run it with sudo")
	}
	for _, tool := range []string{"runc", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed: run 'sudo scripts/setup.sh' (or 'apt-get install runc iptables')", tool)
		}
	}
	// Each container's disk limit is an ext4 file system garden formats
	// (garden's disk_quota "required", which diego up keeps).
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		return fmt.Errorf("mkfs.ext4 is not installed and garden needs it for disk limits: run 'sudo scripts/setup.sh' (or 'apt-get install e2fsprogs')")
	}
	if cfg.IsolateCells {
		for _, tool := range []string{"ip", "nsenter"} {
			if _, err := exec.LookPath(tool); err != nil {
				return fmt.Errorf("%s is not installed and --isolate-cells needs it: run 'sudo scripts/setup.sh' (or 'apt-get install iproute2 util-linux')", tool)
			}
		}
	}
	for _, binary := range []string{"bbs", "receptor", "auctioneer", "converger", "route-emitter", "router", "garden", "rep"} {
		if _, err := os.Stat(cfg.BinDir + "/" + binary); err != nil {
			return fmt.Errorf("the %s binary is missing from %s: run 'make build'", binary, cfg.BinDir)
		}
	}
	return checkPorts(cfg)
}

// checkPorts names the first port that is taken and the component that wanted it.
func checkPorts(cfg Config) error {
	type want struct {
		component string
		port      int
	}
	wants := []want{
		{"etcd", cfg.EtcdPort}, {"etcd peer", cfg.EtcdPort + 1}, {"NATS", cfg.NATSPort},
		{"image registry", cfg.RegistryPort}, {"BBS", cfg.BBSPort}, {"receptor", cfg.ReceptorPort}, {"receptor ssh", cfg.SSHPort},
		{"auctioneer", cfg.AuctioneerPort}, {"router", cfg.RouterPort},
	}
	for k := 1; k <= cfg.Standbys; k++ {
		wants = append(wants, want{"standby auctioneer", cfg.AuctioneerPort + k})
	}
	for i := 0; i < cfg.Cells; i++ {
		cell := cfg.CellLayout(i)
		wants = append(wants, want{cell.ID + " rep", cell.RepPort}, want{cell.ID + " rep admin", cell.AdminPort})
	}
	for _, w := range wants {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(w.port))
		if err != nil {
			return fmt.Errorf("port %d, wanted by the %s, is already in use (is another diego up running?)", w.port, w.component)
		}
		l.Close()
	}
	return nil
}
