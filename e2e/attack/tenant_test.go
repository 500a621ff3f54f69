//go:build e2e

package attack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/imagetest"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/testapps/attacker/wire"
)

// J is a JSON object as the API takes it.
type J = map[string]any

// Attack and Result are testapps/attacker's wire shapes.
type (
	Attack = wire.Attack
	Result = wire.Result
)

func desire(lrp J) {
	GinkgoHelper()
	resp, err := w.Request("POST", "/v1/desired_lrps", lrp)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
}

// running waits for index 0 of guid to run and returns it.
func running(guid string) *models.ActualLRP {
	GinkgoHelper()
	var lrp *models.ActualLRP
	Eventually(func(g Gomega) {
		idx, err := w.RunningIndices(guid)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(idx).To(HaveKey(0))
		lrp = idx[0]
	}, 90*time.Second).Should(Succeed())
	return lrp
}

// fromLRP has the attacker LRP try the attacks (through the router).
func fromLRP(attacks []Attack) []Result {
	GinkgoHelper()
	body, err := json.Marshal(attacks)
	Expect(err).NotTo(HaveOccurred())
	var results []Result
	Eventually(func(g Gomega) {
		req, err := http.NewRequest("POST", w.RouterURL+"/attack", bytes.NewReader(body))
		g.Expect(err).NotTo(HaveOccurred())
		req.Host = "attacker.localhost"
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
		g.Expect(json.NewDecoder(resp.Body).Decode(&results)).To(Succeed())
	}, 30*time.Second).Should(Succeed())
	Expect(results).To(HaveLen(len(attacks)))
	return results
}

var taskSeq atomic.Int32

// completed waits for a task to complete and returns it.
func completed(guid string) *models.Task {
	GinkgoHelper()
	var task *models.Task
	Eventually(func(g Gomega) {
		var err error
		task, err = w.Task(guid)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(task.State).To(Equal(models.TaskStateCompleted))
	}, 120*time.Second).Should(Succeed())
	return task
}

// fromTask has a task of the attacker image try the attacks; it answers the
// ones that got through (a task's result holds only the attacker's summary).
func fromTask(attacks []Attack) []Result {
	GinkgoHelper()
	data, err := json.Marshal(attacks)
	Expect(err).NotTo(HaveOccurred())
	guid := fmt.Sprintf("attack-task-%d", taskSeq.Add(1))
	resp, err := w.Request("POST", "/v1/tasks", J{
		"task_guid": guid, "domain": domain, "rootfs": attacker, "memory_mb": 64, "disk_mb": 64,
		"action":      J{"run": J{"path": "/app/attacker", "args": []string{"run"}}},
		"env":         []J{{"name": "ATTACKS", "value": string(data)}, {"name": "RESULT_FILE", "value": "/tmp/result.json"}},
		"result_file": "/tmp/result.json",
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
	task := completed(guid)
	Expect(task.Failed).To(BeFalse(), task.FailureReason)
	var summary wire.Summary
	Expect(json.Unmarshal([]byte(task.Result), &summary)).To(Succeed(), task.Result)
	Expect(summary.Tried).To(Equal(len(attacks)))
	Expect(summary.Outcomes).To(HaveLen(len(attacks)))
	for i, a := range attacks {
		report("task", a.Name, summary.Outcome(i))
	}
	return summary.Through
}

// expectRefused reports each result and fails for any attack that reached
// its target (or, where reaching is allowed, got what it wanted).
func expectRefused(where string, results []Result) {
	GinkgoHelper()
	for _, r := range results {
		outcome := "refused: " + r.Detail
		if r.Succeeded || r.Reached {
			outcome = "GOT THROUGH: " + r.Detail
		}
		report(where, r.Name, outcome)
	}
	for _, r := range results {
		Expect(r.Reached).To(BeFalse(), "%s (%s %s) reached its target: %s", r.Name, r.Kind, r.Target, r.Detail)
		Expect(r.Succeeded).To(BeFalse(), "%s succeeded: %s", r.Name, r.Detail)
	}
}

// hostAddresses are every address of the machine: the isolated cells' link
// to the brain, each cell's own address and its containers' gateway, and the
// host's interfaces.
func hostAddresses() []string {
	GinkgoHelper()
	addrs := []string{w.Config.HostBridgeIP()}
	for i := 0; i < w.Config.Cells; i++ {
		addrs = append(addrs, w.Config.CellNetworkOf(i).IP)
		_, subnet, err := net.ParseCIDR(w.Config.CellLayout(i).Subnet)
		Expect(err).NotTo(HaveOccurred())
		gw := append(net.IP{}, subnet.IP.To4()...)
		gw[3]++
		addrs = append(addrs, gw.String())
	}
	ifaddrs, err := net.InterfaceAddrs()
	Expect(err).NotTo(HaveOccurred())
	for _, a := range ifaddrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			addrs = append(addrs, ipn.IP.String())
		}
	}
	return unique(addrs)
}

// controlPorts are every port the cluster's daemons listen on.
func controlPorts() map[string]int {
	c := w.Config
	ports := map[string]int{
		"receptor": c.ReceptorPort, "bbs": c.BBSPort, "auctioneer": c.AuctioneerPort, "router": c.RouterPort,
		"nats": c.NATSPort, "etcd": c.EtcdPort, "etcd-peer": c.EtcdPort + 1, "registry": c.RegistryPort,
		"receptor-ssh": c.SSHPort,
	}
	for i := 1; i <= 9; i++ {
		ports["debug-"+strconv.Itoa(i)] = c.DebugBasePort + i
	}
	for i := 0; i < c.Cells; i++ {
		ports[fmt.Sprintf("cell-%d-rep", i+1)] = c.RepBasePort + 2*i
		ports[fmt.Sprintf("cell-%d-rep-admin", i+1)] = c.RepBasePort + 2*i + 1
		ports[fmt.Sprintf("cell-%d-rep-debug", i+1)] = c.DebugBasePort + 100 + 2*i
		ports[fmt.Sprintf("cell-%d-garden-debug", i+1)] = c.DebugBasePort + 101 + 2*i
	}
	return ports
}

func unique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// fakeMetadata serves a cloud metadata lookalike at 169.254.169.254:80 for
// the spec and counts its requests.
func fakeMetadata() *atomic.Int32 {
	GinkgoHelper()
	m, err := imagetest.StartFakeMetadata()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(m.Stop)
	return &m.Hits
}

var _ = Describe("A hostile tenant's code", Ordered, func() {
	var victim *models.ActualLRP
	var metadataHits *atomic.Int32

	BeforeAll(func() {
		metadataHits = fakeMetadata()
		desire(J{
			"process_guid": "victim", "domain": domain, "instances": 1, "rootfs": app,
			"action": J{"run": J{"path": "/app/httpapp"}}, "ports": []int{8080}, "memory_mb": 64, "disk_mb": 64,
			"check_definition": J{"checks": []J{{"tcp_check": J{"port": 8080}}}},
			"routes":           J{"cf-router": []J{{"hostnames": []string{"victim.localhost"}, "port": 8080}}},
		})
		desire(J{
			"process_guid": "attacker", "domain": domain, "instances": 1, "rootfs": attacker,
			"action": J{"run": J{"path": "/app/attacker", "args": []string{"serve"}}}, "ports": []int{8080}, "memory_mb": 64, "disk_mb": 64,
			"check_definition": J{"checks": []J{{"tcp_check": J{"port": 8080}}}},
			"routes":           J{"cf-router": []J{{"hostnames": []string{"attacker.localhost"}, "port": 8080}}},
		})
		victim = running("victim")
		running("attacker")
	})

	It("can act at all: the attacker reaches its own listener", func() {
		results := fromLRP([]Attack{{Name: "control: own port", Kind: "tcp", Target: "127.0.0.1:8080"}})
		Expect(results[0].Succeeded).To(BeTrue(), results[0].Detail)
	})

	attacksOnHosts := func() []Attack {
		var attacks []Attack
		for _, addr := range hostAddresses() {
			for name, port := range controlPorts() {
				attacks = append(attacks, Attack{Name: fmt.Sprintf("%s at %s", name, addr), Kind: "tcp", Target: net.JoinHostPort(addr, strconv.Itoa(port))})
			}
		}
		return attacks
	}

	It("reaches no control-plane port on any address of the host, the cells or the gateways", func() {
		expectRefused("lrp", fromLRP(attacksOnHosts()))
	})

	It("reaches none of them from a task either", func() {
		expectRefused("task", fromTask(attacksOnHosts()))
	})

	It("reaches no link-local metadata", func() {
		expectRefused("lrp", fromLRP([]Attack{
			{Name: "metadata 169.254.169.254", Kind: "http", Target: "http://169.254.169.254/latest/meta-data/"},
		}))
		Expect(metadataHits.Load()).To(BeZero())
	})

	It("reaches no other tenant's container, directly or through its cell's mapped port", func() {
		Expect(victim.InstanceAddress).NotTo(BeEmpty())
		expectRefused("lrp", fromLRP([]Attack{
			{Name: "victim's container", Kind: "http", Target: "http://" + net.JoinHostPort(victim.InstanceAddress, "8080") + "/env"},
			{Name: "victim's mapped port", Kind: "http", Target: fmt.Sprintf("http://%s:%d/env", victim.Address, victim.Ports[0].HostPort)},
		}))
	})

	It("cannot publish routes, read logs, or call the BBS and the rep", func() {
		brain := w.Config.HostBridgeIP()
		rep := w.Config.CellNetworkOf(0).IP
		expectRefused("lrp", fromLRP([]Attack{
			{Name: "nats publish router.register", Kind: "nats-pub", Target: net.JoinHostPort(brain, strconv.Itoa(w.Config.NATSPort)), Subject: "router.register",
				Body: `{"host":"10.0.0.1","port":80,"uris":["victim.localhost"]}`},
			{Name: "nats subscribe logs.>", Kind: "nats-sub", Target: net.JoinHostPort(brain, strconv.Itoa(w.Config.NATSPort)), Subject: "logs.>"},
			{Name: "bbs desire a privileged LRP", Kind: "http-post", Target: fmt.Sprintf("http://%s:%d/v1/desired_lrps/desire", brain, w.Config.BBSPort),
				Body: `{"process_guid":"pwned","domain":"attack","instances":1,"privileged":true}`},
			{Name: "rep accept work", Kind: "http-post", Target: fmt.Sprintf("http://%s:%d/work", rep, w.Config.RepBasePort), Body: `{}`},
		}))
		_, err := w.DesiredLRP("pwned")
		Expect(err).To(HaveOccurred())
	})
})

var _ = Describe("A hostile tenant's downloads", func() {
	It("cannot fetch link-local metadata or the cell's loopback services", func() {
		hits := fakeMetadata()
		for i, from := range []string{
			"http://169.254.169.254/latest/meta-data/",
			fmt.Sprintf("http://127.0.0.1:%d/v2/", w.Config.RegistryPort), // the registry's forwarder on each cell's loopback
			fmt.Sprintf("http://%s:%d/v1/cells", w.Config.HostBridgeIP(), w.Config.BBSPort),
		} {
			guid := fmt.Sprintf("attack-download-%d", i)
			resp, err := w.Request("POST", "/v1/tasks", J{
				"task_guid": guid, "domain": domain, "rootfs": attacker, "memory_mb": 64, "disk_mb": 64,
				"action": J{"download": J{"from": from, "to": "/tmp/loot"}},
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
			task := completed(guid)
			report("task", "download "+from, "refused: "+task.FailureReason)
			Expect(task.Failed).To(BeTrue(), from)
			Expect(task.FailureReason).To(ContainSubstring("not reachable from tenant work"), from)
		}
		Expect(hits.Load()).To(BeZero())
	})
})

var _ = Describe("A hostile tenant's API requests", func() {
	DescribeTable("are refused and change nothing",
		func(name string, lrp J, wantName string) {
			resp, err := w.Request("POST", "/v1/desired_lrps", lrp)
			Expect(err).NotTo(HaveOccurred())
			report("api", name, fmt.Sprintf("%d %s", resp.Status, resp.Error().Name))
			Expect(resp.Status).To(Equal(http.StatusBadRequest), string(resp.Body))
			Expect(resp.Error().Name).To(Equal(wantName))
			_, err = w.DesiredLRP(lrp["process_guid"].(string))
			Expect(err).To(HaveOccurred())
		},
		Entry(nil, "a privileged LRP", J{
			"process_guid": "root", "domain": domain, "instances": 1, "rootfs": "docker:///busybox", "privileged": true,
			"action": J{"run": J{"path": "/bin/true"}},
		}, "InvalidLRP"),
		Entry(nil, "instances: 2000000000", J{
			"process_guid": "huge", "domain": domain, "instances": 2000000000, "rootfs": "docker:///busybox",
			"action": J{"run": J{"path": "/bin/true"}},
		}, "InvalidLRP"),
	)
})

var _ = Describe("A hostile tenant's reach through the API", func() {
	It("cannot post a task from a web page (a CSRF-shaped text/plain POST)", func() {
		body := `{"task_guid":"csrf","domain":"attack","rootfs":"docker:///busybox","action":{"run":{"path":"/bin/true"}}}`
		resp, err := w.Request("POST", "/v1/tasks", body, "Content-Type", "text/plain;charset=UTF-8")
		Expect(err).NotTo(HaveOccurred())
		report("api", "text/plain POST /v1/tasks", fmt.Sprintf("%d %s", resp.Status, resp.Error().Name))
		Expect(resp.Status).To(Equal(http.StatusUnsupportedMediaType), string(resp.Body))
		_, err = w.Task("csrf")
		Expect(err).To(HaveOccurred())
	})

	It("cannot read an image password back, from a GET or the event stream", func() {
		const secret = "attack-canary-image-password"
		events, stop := readEvents()
		defer stop()
		desire(J{
			"process_guid": "private", "domain": domain, "instances": 0, "rootfs": app,
			"image_username": "robot", "image_password": secret,
			"action": J{"run": J{"path": "/app/httpapp"}}, "memory_mb": 64, "disk_mb": 64,
		})
		DeferCleanup(func() { _, _ = w.Request("DELETE", "/v1/desired_lrps/private", nil) })
		for _, path := range []string{"/v1/desired_lrps/private", "/v1/desired_lrps", "/v1/desired_lrps?domain=" + domain} {
			resp, err := w.Request("GET", path, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(resp.Body)).To(ContainSubstring("private"))
			Expect(string(resp.Body)).NotTo(ContainSubstring(secret), path)
		}
		Eventually(events, 10*time.Second).Should(ContainSubstring(`"process_guid":"private"`))
		Expect(events()).NotTo(ContainSubstring(secret))
		report("api", "read image_password back (GET, /v1/events)", "refused: never in any answer")
	})

	It("cannot have a completion callback land on link-local metadata or the control plane", func() {
		hits := fakeMetadata()
		for i, url := range []string{
			"http://169.254.169.254/latest/meta-data/",
			fmt.Sprintf("http://127.0.0.1:%d/v1/desired_lrps", w.Config.ReceptorPort),
			fmt.Sprintf("http://%s:%d/v1/cells", w.Config.HostBridgeIP(), w.Config.BBSPort),
		} {
			guid := fmt.Sprintf("attack-callback-%d", i)
			resp, err := w.Request("POST", "/v1/tasks", J{
				"task_guid": guid, "domain": domain, "rootfs": attacker, "memory_mb": 64, "disk_mb": 64,
				"action":                  J{"run": J{"path": "/bin/true"}},
				"completion_callback_url": url,
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
			task := completed(guid)
			// A refused callback leaves the task COMPLETED for its owner to read
			// and delete; it is not retried.
			Consistently(func() string { t, _ := w.Task(guid); return t.State }, 2*time.Second).Should(Equal(models.TaskStateCompleted))
			report("api", "callback to "+url, "refused: the task stays "+task.State)
		}
		Expect(hits.Load()).To(BeZero())
	})
})

// readEvents reads /v1/events in the background; the function it returns
// answers what has arrived so far.
func readEvents() (func() string, func()) {
	GinkgoHelper()
	req, err := http.NewRequest("GET", w.ReceptorURL+"/v1/events", nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	var mu sync.Mutex
	var buf bytes.Buffer
	go func() {
		chunk := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(chunk)
			mu.Lock()
			buf.Write(chunk[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	read := func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
	return read, func() { resp.Body.Close() }
}
