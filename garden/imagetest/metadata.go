package imagetest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
)

// MetadataIP is where clouds serve instance metadata (and credentials).
const MetadataIP = "169.254.169.254"

// FakeMetadata is a cloud metadata lookalike on MetadataIP:80, bound to the
// host's loopback device (this kernel has no dummy interfaces), for attack
// specs: it answers a canary secret and counts the requests that reached it.
type FakeMetadata struct {
	Hits   atomic.Int32
	server *http.Server
}

// StartFakeMetadata adds MetadataIP to lo and serves on it.
func StartFakeMetadata() (*FakeMetadata, error) {
	out, err := exec.Command("ip", "addr", "add", MetadataIP+"/32", "dev", "lo").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "File exists") {
		return nil, fmt.Errorf("adding %s to lo: %v: %s", MetadataIP, err, out)
	}
	l, err := net.Listen("tcp", MetadataIP+":80")
	if err != nil {
		_ = exec.Command("ip", "addr", "del", MetadataIP+"/32", "dev", "lo").Run()
		return nil, err
	}
	m := &FakeMetadata{}
	m.server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.Hits.Add(1)
		io.WriteString(w, "AWS_SECRET_ACCESS_KEY=canary\n")
	})}
	go m.server.Serve(l)
	return m, nil
}

// Stop closes the server and takes the address off lo.
func (m *FakeMetadata) Stop() {
	m.server.Close()
	_ = exec.Command("ip", "addr", "del", MetadataIP+"/32", "dev", "lo").Run()
}
