package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/receptor/dashboard"
)

// drawing is what the page shows, read from its data- attributes.
type drawing struct {
	Status  string         `json:"status"`
	Loaded  bool           `json:"loaded"`
	Zones   []zone         `json:"zones"`
	Squares []square       `json:"squares"`
	Counts  map[string]int `json:"counts"`
	Apps    []app          `json:"apps"`
	Options []string       `json:"options"`
}

type zone struct {
	Zone  string `json:"zone"`
	Cells []cell `json:"cells"`
}

type cell struct {
	ID    string `json:"id"`
	Count int    `json:"count"`
}

type square struct {
	Guid    string `json:"guid"`
	Index   int    `json:"index"`
	State   string `json:"state"`
	Cell    string `json:"cell"`
	Pending bool   `json:"pending"`
	Crashes int    `json:"crashes"`
	Color   string `json:"color"`
}

type app struct {
	Guid    string `json:"guid"`
	Running int    `json:"running"`
	Desired int    `json:"desired"`
}

const readDrawing = `(() => {
  const q = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  return {
    status: document.body.dataset.status || '',
    loaded: document.body.dataset.loaded === 'true',
    zones: q('#zones .zone').map(z => ({zone: z.dataset.zone,
      cells: q('.cell', z).map(c => ({id: c.dataset.cellId, count: +c.dataset.instanceCount}))})),
    squares: q('.lrp[data-process-guid]').map(s => ({
      guid: s.dataset.processGuid, index: +s.dataset.index, state: s.dataset.state,
      cell: s.closest('.cell') ? s.closest('.cell').dataset.cellId : '',
      pending: !!s.closest('[data-area="pending"]'), crashes: +s.dataset.crashCount,
      color: getComputedStyle(s).backgroundColor})),
    counts: Object.fromEntries(q('#totals [data-count]').map(n => [n.dataset.count, +n.textContent])),
    apps: q('#apps tbody tr[data-process-guid]').map(r => ({guid: r.dataset.processGuid,
      running: +r.dataset.running, desired: +r.dataset.desired})),
    options: q('#app-filter option').map(o => o.value),
  };
})()`

const (
	green = "rgb(45, 164, 78)"
	red   = "rgb(207, 34, 46)"
)

var (
	ctx context.Context
	tab context.Context
)

// read returns the drawing of the tab as it is now.
func read() drawing {
	c, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	d, err := chromedp.Run(c, chromedp.Evaluate[drawing](readDrawing))
	Expect(err).NotTo(HaveOccurred())
	return d
}

func run(js string) {
	GinkgoHelper()
	c, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	_, err := chromedp.Run(c, chromedp.Evaluate[any](js))
	Expect(err).NotTo(HaveOccurred())
}

// of selects the squares of one app.
func of(guid string, squares []square) []square {
	var out []square
	for _, s := range squares {
		if s.Guid == guid {
			out = append(out, s)
		}
	}
	return out
}

func registerCell(id, zoneName string, ttl int) int64 {
	GinkgoHelper()
	lease, err := db.RegisterCell(ctx, logger, models.CellPresence{
		CellID: id, Zone: zoneName, RepAddress: "127.0.0.1:1",
		Capacity: models.CellCapacity{MemoryMB: 4096, DiskMB: 8192, Containers: 8},
	}, ttl)
	Expect(err).NotTo(HaveOccurred())
	return lease
}

func desire(guid string, instances int) {
	GinkgoHelper()
	Expect(db.DesireLRP(ctx, logger, &models.DesiredLRP{
		ProcessGuid: guid, Domain: "dashboard", Instances: instances,
		RootFS:   "docker:///library/nginx#1.27",
		Action:   &models.Action{Run: &models.RunAction{Path: "/usr/sbin/nginx"}},
		MemoryMB: 256, DiskMB: 512, Ports: []uint32{8080}, MetricsGuid: "m-" + guid,
	})).To(Succeed())
}

func key(guid string, index int) models.ActualLRPKey {
	return models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "dashboard"}
}

func instance(guid string, index int, cellID string) models.ActualLRPInstanceKey {
	return models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%d-%s", guid, index, cellID), CellID: cellID}
}

// place acts as the cell: it claims the index and, unless claimOnly, starts it.
func place(guid string, index int, cellID string, claimOnly bool) {
	GinkgoHelper()
	Expect(db.ClaimActualLRP(ctx, logger, key(guid, index), instance(guid, index, cellID))).To(Succeed())
	if claimOnly {
		return
	}
	net := models.ActualLRPNetInfo{Address: "10.0.0.1", InstanceAddress: "10.255.0.1",
		Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: uint32(61000 + index)}}}
	Expect(db.StartActualLRP(ctx, logger, key(guid, index), instance(guid, index, cellID), net, true)).To(Succeed())
}

// screenshot saves the tab as $DASHBOARD_SCREENSHOTS/name.png, for a person to
// look at the drawing; without the variable it does nothing.
func screenshot(name string) {
	GinkgoHelper()
	dir := os.Getenv("DASHBOARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)).To(Succeed())
}

// within is how fast the drawing must follow a change.
const within = 2 * time.Second

var _ = Describe("Dashboard", func() {
	var leases map[string]int64

	BeforeEach(func() {
		ctx = context.Background()
		_, err := etcdClient.Delete(ctx, "/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())

		leases = map[string]int64{}
		for _, c := range [][2]string{{"cell-a1", "z1"}, {"cell-a2", "z1"}, {"cell-b1", "z2"}} {
			leases[c[0]] = registerCell(c[0], c[1], 60)
		}
		desire("web", 2)
		place("web", 0, "cell-a1", false)
		place("web", 1, "cell-b1", false)
		desire("worker", 1)
		place("worker", 0, "cell-a2", false)

		var cancel context.CancelFunc
		tab, cancel = chromedp.NewContext(browser) // a new tab
		DeferCleanup(cancel)
		// The first run opens the tab, which lives as long as the context of that run.
		Expect(chromedp.Do(tab)).To(Succeed())
		nav, cancelNav := context.WithTimeout(tab, 20*time.Second)
		defer cancelNav()
		Expect(chromedp.Do(nav, chromedp.Navigate(serverURL+"/"))).To(Succeed())
		Eventually(read, 10*time.Second).Should(And(
			HaveField("Loaded", BeTrue()), HaveField("Status", "live")))
	})

	Context("when the page has loaded", func() {
		It("draws the cells grouped by zone, the instances on their cells and the totals", func() {
			d := read()
			Expect(d.Zones).To(Equal([]zone{
				{Zone: "z1", Cells: []cell{{"cell-a1", 1}, {"cell-a2", 1}}},
				{Zone: "z2", Cells: []cell{{"cell-b1", 1}}},
			}))
			Expect(of("web", d.Squares)).To(ConsistOf(
				square{Guid: "web", Index: 0, State: "RUNNING", Cell: "cell-a1", Color: green},
				square{Guid: "web", Index: 1, State: "RUNNING", Cell: "cell-b1", Color: green},
			))
			Expect(d.Counts).To(Equal(map[string]int{"cells": 3, "instances": 3, "RUNNING": 3,
				"CLAIMED": 0, "UNCLAIMED": 0, "CRASHED": 0, "EVACUATING": 0, "SUSPECT": 0}))
			Expect(d.Apps).To(Equal([]app{{"web", 2, 2}, {"worker", 1, 1}}))
			Expect(d.Options).To(Equal([]string{"", "web", "worker"}))
		})
	})

	Context("when an app is scaled up and the cells place the new instances", func() {
		It("draws them, pending first, then claimed, then running on their cells", func() {
			n := 5
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &n})).To(Succeed())
			Eventually(func() []square { return of("web", read().Squares) }, within).Should(ContainElements(
				square{Guid: "web", Index: 2, State: "UNCLAIMED", Pending: true, Color: "rgb(160, 168, 178)"},
				square{Guid: "web", Index: 3, State: "UNCLAIMED", Pending: true, Color: "rgb(160, 168, 178)"},
				square{Guid: "web", Index: 4, State: "UNCLAIMED", Pending: true, Color: "rgb(160, 168, 178)"},
			))
			Eventually(func() []app { return read().Apps }, within).Should(ContainElement(app{"web", 2, 5}))

			place("web", 2, "cell-a2", true)
			Eventually(func() []square { return of("web", read().Squares) }, within).Should(ContainElement(
				square{Guid: "web", Index: 2, State: "CLAIMED", Cell: "cell-a2", Color: "rgb(212, 167, 44)"}))

			place("web", 2, "cell-a2", false)
			place("web", 3, "cell-a1", false)
			place("web", 4, "cell-b1", false)
			Eventually(func() []square { return of("web", read().Squares) }, within).Should(ConsistOf(
				square{Guid: "web", Index: 0, State: "RUNNING", Cell: "cell-a1", Color: green},
				square{Guid: "web", Index: 1, State: "RUNNING", Cell: "cell-b1", Color: green},
				square{Guid: "web", Index: 2, State: "RUNNING", Cell: "cell-a2", Color: green},
				square{Guid: "web", Index: 3, State: "RUNNING", Cell: "cell-a1", Color: green},
				square{Guid: "web", Index: 4, State: "RUNNING", Cell: "cell-b1", Color: green},
			))
			d := read()
			Expect(d.Zones).To(Equal([]zone{
				{Zone: "z1", Cells: []cell{{"cell-a1", 2}, {"cell-a2", 2}}},
				{Zone: "z2", Cells: []cell{{"cell-b1", 2}}},
			}))
			Expect(d.Counts).To(HaveKeyWithValue("RUNNING", 6))
			Expect(d.Apps).To(ContainElement(app{"web", 5, 5}))

			screenshot("scaled")
		})
	})

	Context("when an instance crashes", func() {
		It("moves it off its cell, restarting it at once and then, from the third crash, as CRASHED in red", func() {
			Expect(db.CrashActualLRP(ctx, logger, key("web", 1), instance("web", 1, "cell-b1"), "Exited with status 1")).To(Succeed())
			Eventually(func() []square { return of("web", read().Squares) }, within).Should(ContainElement(
				square{Guid: "web", Index: 1, State: "UNCLAIMED", Pending: true, Crashes: 1, Color: "rgb(160, 168, 178)"}))

			for crash := 2; crash <= 3; crash++ {
				place("web", 1, "cell-b1", true)
				Expect(db.CrashActualLRP(ctx, logger, key("web", 1), instance("web", 1, "cell-b1"), "Exited with status 1")).To(Succeed())
			}
			Eventually(func() []square { return of("web", read().Squares) }, within).Should(ContainElement(
				square{Guid: "web", Index: 1, State: "CRASHED", Pending: true, Crashes: 3, Color: red}))
			d := read()
			Expect(d.Counts).To(And(HaveKeyWithValue("CRASHED", 1), HaveKeyWithValue("RUNNING", 2)))
			Expect(d.Zones).To(ContainElement(zone{Zone: "z2", Cells: []cell{{"cell-b1", 0}}}))
			Expect(d.Apps).To(ContainElement(app{"web", 1, 2}))
			screenshot("crashed")
		})
	})

	Context("when an app is chosen in the filter", func() {
		It("draws only that app's instances and counts, and follows its changes", func() {
			run(`(() => { const s = document.getElementById('app-filter'); s.value = 'worker'; s.dispatchEvent(new Event('change')); })()`)
			Eventually(read, within).Should(And(
				HaveField("Squares", ConsistOf(square{Guid: "worker", Index: 0, State: "RUNNING", Cell: "cell-a2", Color: green})),
				HaveField("Counts", And(HaveKeyWithValue("instances", 1), HaveKeyWithValue("RUNNING", 1), HaveKeyWithValue("cells", 3))),
			))
			Expect(read().Zones).To(Equal([]zone{
				{Zone: "z1", Cells: []cell{{"cell-a1", 0}, {"cell-a2", 1}}},
				{Zone: "z2", Cells: []cell{{"cell-b1", 0}}},
			}))

			n := 2
			Expect(db.UpdateDesiredLRP(ctx, logger, "worker", models.DesiredLRPUpdate{Instances: &n})).To(Succeed())
			place("worker", 1, "cell-b1", false)
			Eventually(func() []square { return read().Squares }, within).Should(ConsistOf(
				square{Guid: "worker", Index: 0, State: "RUNNING", Cell: "cell-a2", Color: green},
				square{Guid: "worker", Index: 1, State: "RUNNING", Cell: "cell-b1", Color: green},
			))

			run(`(() => { const s = document.getElementById('app-filter'); s.value = ''; s.dispatchEvent(new Event('change')); })()`)
			Eventually(func() []square { return read().Squares }, within).Should(HaveLen(4))
		})
	})

	Context("when an app is chosen and its instances report usage", func() {
		It("shows each instance's CPU and memory", func() {
			now := time.Now().UnixNano()
			for i, cellID := range []string{"cell-a1", "cell-b1"} {
				guid := instance("web", i, cellID).InstanceGuid
				usage.Observe(models.ContainerMetrics{MetricsGuid: "m-web", InstanceIndex: i, InstanceGuid: guid, CPUNanos: 0, MemoryBytes: 10 << 20, Timestamp: now - 2e9})
				usage.Observe(models.ContainerMetrics{MetricsGuid: "m-web", InstanceIndex: i, InstanceGuid: guid, CPUNanos: uint64(i+1) * 5e8,
					MemoryBytes: uint64(i+1) * 100 << 20, MemoryLimit: 256 << 20, Timestamp: now - 1e9})
			}
			run(`(() => { const s = document.getElementById('app-filter'); s.value = 'web'; s.dispatchEvent(new Event('change')); })()`)
			rows := func() []map[string]string {
				c, cancel := context.WithTimeout(tab, 5*time.Second)
				defer cancel()
				out, err := chromedp.Run(c, chromedp.Evaluate[[]map[string]string](`Array.from(document.querySelectorAll('#usage tbody tr[data-index]')).map(r =>
					({index: r.dataset.index, cpu: r.dataset.cpuPercent, mem: r.dataset.memoryBytes, text: r.textContent}))`))
				Expect(err).NotTo(HaveOccurred())
				return out
			}
			Eventually(rows, 3*within).Should(ConsistOf(
				And(HaveKeyWithValue("index", "0"), HaveKeyWithValue("cpu", "50.0"), HaveKeyWithValue("mem", fmt.Sprint(100<<20)), HaveKeyWithValue("text", ContainSubstring("100.0M of 256.0M"))),
				And(HaveKeyWithValue("index", "1"), HaveKeyWithValue("cpu", "100.0"), HaveKeyWithValue("mem", fmt.Sprint(200<<20))),
			))
			title := func() string {
				c, cancel := context.WithTimeout(tab, 5*time.Second)
				defer cancel()
				out, err := chromedp.Run(c, chromedp.Evaluate[string](`document.querySelector('.lrp[data-process-guid="web"][data-index="1"]').title`))
				Expect(err).NotTo(HaveOccurred())
				return out
			}
			Expect(title()).To(ContainSubstring("cpu 100.0% · mem 200.0M of 256.0M"))
			screenshot("usage")
		})
	})

	Context("when the event stream drops", func() {
		It("subscribes again, reloads everything and follows changes again", func() {
			server.CloseClientConnections()
			Eventually(func() string { return read().Status }, within).Should(Equal("reconnecting"))
			// Made before the new subscription: only the reload can show these.
			n := 3
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &n})).To(Succeed())
			place("web", 2, "cell-a2", false)
			Eventually(read, 5*time.Second).Should(And(
				HaveField("Status", "live"),
				HaveField("Squares", ContainElement(square{Guid: "web", Index: 2, State: "RUNNING", Cell: "cell-a2", Color: green})),
				HaveField("Apps", ContainElement(app{"web", 3, 3})),
			))

			Expect(db.CrashActualLRP(ctx, logger, key("web", 2), instance("web", 2, "cell-a2"), "Exited with status 1")).To(Succeed())
			Eventually(func() []square { return of("web", read().Squares) }, within).Should(ContainElement(
				square{Guid: "web", Index: 2, State: "UNCLAIMED", Pending: true, Crashes: 1, Color: "rgb(160, 168, 178)"}))
		})
	})

	Context("when a cell's presence goes away", func() {
		It("drops the cell at the next refresh and shows its instances under gone cells", func() {
			_, err := etcdClient.Revoke(ctx, clientv3.LeaseID(leases["cell-b1"]))
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() []zone { return read().Zones }, 3*time.Second).Should(Equal([]zone{
				{Zone: "z1", Cells: []cell{{"cell-a1", 1}, {"cell-a2", 1}}},
				{Zone: "", Cells: []cell{{"cell-b1", 1}}},
			}))
			Expect(read().Counts).To(HaveKeyWithValue("cells", 2))
			screenshot("cell-gone")
		})
	})
})

var _ = Describe("Handler", func() {
	DescribeTable("serving the page's files",
		func(path string, status int, contentType string) {
			resp, err := http.Get(serverURL + path)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(status))
			Expect(resp.Header.Get("Content-Type")).To(HavePrefix(contentType))
			if status == http.StatusOK {
				Expect(body).NotTo(BeEmpty())
				Expect(resp.Header.Get("Cache-Control")).To(Equal("no-cache"))
			}
		},
		Entry("the page", "/", http.StatusOK, "text/html"),
		Entry("its script", "/dashboard.js", http.StatusOK, "text/javascript"),
		Entry("its style sheet", "/dashboard.css", http.StatusOK, "text/css"),
		Entry("anything else is left to the mux", "/index.html", http.StatusNotFound, "text/plain"),
	)

	It("answers 404 for paths that are not the page's when used on its own", func() {
		rec := httptest.NewRecorder()
		dashboard.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/nope", nil))
		Expect(rec.Code).To(Equal(http.StatusNotFound))
	})
})
