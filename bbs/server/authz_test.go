package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("The BBS under mutual TLS: what each role may do", func() {
	var (
		certDir string
		tlsURL  string
	)
	receptor, converger, auctioneerID, emitter, router := certs.Of(certs.RoleReceptor), certs.Of(certs.RoleConverger),
		certs.Of(certs.RoleAuctioneer), certs.Of(certs.RoleRouteEmitter), certs.Of(certs.RoleRouter)
	cell1, cell2 := certs.Rep("cell-1"), certs.Rep("cell-2")

	tlsOf := func(id certs.Identity) transport.TLS {
		f := certs.FilesIn(certDir, id)
		return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
	}
	as := func(id certs.Identity) *client.Client {
		hc, err := transport.NewClient(tlsOf(id), 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		return client.NewClient(hc, tlsURL)
	}
	// call POSTs body to path as id and returns the status and the error's name.
	call := func(id certs.Identity, path string, body client.Request) (int, string) {
		hc, err := transport.NewClient(tlsOf(id), 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		data, err := json.Marshal(body)
		Expect(err).NotTo(HaveOccurred())
		resp, err := hc.Post(tlsURL+path, "application/json", bytes.NewReader(data))
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		var e models.Error
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Name
	}

	BeforeEach(func() {
		certDir = filepath.Join(GinkgoT().TempDir(), "certs")
		_, err := certs.WriteSet(certDir, certs.SetOptions{Identities: []certs.Identity{
			certs.Of(certs.RoleBBS), receptor, converger, auctioneerID, emitter, router, cell1, cell2,
		}})
		Expect(err).NotTo(HaveOccurred())
		tlsURL = startTLSBBS(tlsOf(certs.Of(certs.RoleBBS)))

		// One LRP with its index 0 claimed by cell-1, one task running on cell-1.
		Expect(as(receptor).DesireLRP(bg, logger, lrp("web", 1))).To(Succeed())
		Expect(as(cell1).ClaimActualLRP(bg, logger, models.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: "d"},
			models.ActualLRPInstanceKey{InstanceGuid: "i-1", CellID: "cell-1"})).To(Succeed())
		Expect(as(receptor).DesireTask(bg, logger, "t-1", "d", taskDef())).To(Succeed())
		started, err := as(cell1).StartTask(bg, logger, "t-1", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(started).To(BeTrue())
	})

	key := &models.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: "d"}
	onCell1 := &models.ActualLRPInstanceKey{InstanceGuid: "i-1", CellID: "cell-1"}
	onCell2 := &models.ActualLRPInstanceKey{InstanceGuid: "i-2", CellID: "cell-2"}
	desired := lrp("evil", 1)
	desired.Privileged = true

	DescribeTable("refuses, with 403 Forbidden and nothing changed",
		func(id certs.Identity, path string, body client.Request) {
			status, name := call(id, path, body)
			Expect(status).To(Equal(http.StatusForbidden))
			Expect(name).To(Equal("Forbidden"))

			// Nothing changed: the LRP, its claim and the task are as they were.
			lrps, err := as(receptor).DesiredLRPs(bg, logger, models.DesiredLRPFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(HaveLen(1))
			Expect(lrps[0].ProcessGuid).To(Equal("web"))
			actuals, err := as(receptor).ActualLRPs(bg, logger, models.ActualLRPFilter{ProcessGuid: "web"})
			Expect(err).NotTo(HaveOccurred())
			Expect(actuals).To(HaveLen(1))
			Expect(actuals[0].State).To(Equal(models.ActualLRPStateClaimed))
			Expect(actuals[0].CellID).To(Equal("cell-1"))
			task, err := as(receptor).TaskByGuid(bg, logger, "t-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(task.State).To(Equal(models.TaskStateRunning))
			Expect(task.CellID).To(Equal("cell-1"))
		},
		// A rep cannot make or unmake work.
		Entry("a rep desiring a privileged LRP", cell1, client.DesireLRPPath, client.Request{DesiredLRP: desired}),
		Entry("a rep scaling an LRP", cell1, client.UpdateDesiredLRPPath, client.Request{ProcessGuid: "web", Update: &models.DesiredLRPUpdate{Instances: ptr(5)}}),
		Entry("a rep removing an LRP", cell1, client.RemoveDesiredLRPPath, client.Request{ProcessGuid: "web"}),
		Entry("a rep desiring a task", cell1, client.DesireTaskPath, client.Request{TaskGuid: "t-2", Domain: "d", TaskDefinition: taskDef()}),
		Entry("a rep cancelling a task", cell1, client.CancelTaskPath, client.Request{TaskGuid: "t-1"}),
		Entry("a rep deleting a task", cell1, client.DeleteTaskPath, client.Request{TaskGuid: "t-1"}),
		Entry("a rep killing an instance", cell1, client.KillActualLRPPath, client.Request{ActualLRPKey: key}),
		Entry("a rep retiring an instance", cell1, client.RetireActualLRPPath, client.Request{ActualLRPKey: key}),
		Entry("a rep failing placements", cell1, client.FailActualLRPsPath, client.Request{PlacementFailures: []models.PlacementFailure{{Key: *key, PlacementError: "x"}}}),
		Entry("a rep marking an instance suspect", cell1, client.MarkActualLRPSuspectPath, client.Request{ActualLRPKey: key}),
		Entry("a rep failing a task", cell1, client.FailTaskPath, client.Request{TaskGuid: "t-1", Reason: "x"}),
		Entry("a rep renewing a callback lease", cell1, client.RenewResolvingTaskPath, client.Request{TaskGuid: "t-1"}),
		Entry("a rep upserting a domain", cell1, client.UpsertDomainPath, client.Request{Domain: "d", TTLSeconds: 1}),
		// A rep cannot touch another cell's records.
		Entry("a rep crashing another cell's instance", cell2, client.CrashActualLRPPath, client.Request{ActualLRPKey: key, InstanceKey: onCell1, Reason: "x"}),
		Entry("a rep removing another cell's instance", cell2, client.RemoveActualLRPPath, client.Request{ActualLRPKey: key, InstanceKey: onCell1}),
		Entry("a rep starting another cell's instance", cell2, client.StartActualLRPPath, client.Request{ActualLRPKey: key, InstanceKey: onCell1}),
		Entry("a rep evacuating another cell's instance", cell2, client.EvacuateRunningActualLRPPath, client.Request{ActualLRPKey: key, InstanceKey: onCell1}),
		Entry("a rep claiming for another cell", cell1, client.ClaimActualLRPPath, client.Request{ActualLRPKey: key, InstanceKey: onCell2}),
		Entry("a rep completing another cell's task", cell2, client.CompleteTaskPath, client.Request{TaskGuid: "t-1", CellID: "cell-1", Failed: true}),
		Entry("a rep starting a task as another cell", cell2, client.StartTaskPath, client.Request{TaskGuid: "t-1", CellID: "cell-1"}),
		Entry("a rep rejecting another cell's task", cell2, client.RejectTaskPath, client.Request{TaskGuid: "t-1", CellID: "cell-1", Reason: "x"}),
		Entry("a rep rejecting a task as the auctioneer (no cell)", cell2, client.RejectTaskPath, client.Request{TaskGuid: "t-1", Reason: "x"}),
		Entry("the auctioneer rejecting a task as a cell", auctioneerID, client.RejectTaskPath, client.Request{TaskGuid: "t-1", CellID: "cell-1", Reason: "x"}),
		Entry("a rep registering another cell", cell2, client.RegisterCellPath, client.Request{CellPresence: &models.CellPresence{CellID: "cell-1", RepAddress: "10.0.0.1:1800", Zone: "z"}, TTLSeconds: 10}),
		Entry("a rep heartbeating another cell", cell2, client.HeartbeatCellPath, client.Request{CellID: "cell-1", LeaseID: 1}),
		// A rep sees only what it runs.
		Entry("a rep listing every cell's instances", cell1, client.ActualLRPsPath, client.Request{}),
		Entry("a rep listing another cell's instances", cell2, client.ActualLRPsPath, client.Request{ActualLRPFilter: models.ActualLRPFilter{CellID: "cell-1"}}),
		Entry("a rep listing every task", cell1, client.TasksPath, client.Request{}),
		Entry("a rep listing every desired LRP", cell1, client.DesiredLRPsPath, client.Request{}),
		Entry("a rep listing the cells", cell1, client.CellsPath, client.Request{}),
		// Other roles get only what they need.
		Entry("the route emitter desiring an LRP", emitter, client.DesireLRPPath, client.Request{DesiredLRP: desired}),
		Entry("the route emitter crashing an instance", emitter, client.CrashActualLRPPath, client.Request{ActualLRPKey: key, InstanceKey: onCell1, Reason: "x"}),
		Entry("the auctioneer desiring an LRP", auctioneerID, client.DesireLRPPath, client.Request{DesiredLRP: desired}),
		Entry("the auctioneer deleting a task", auctioneerID, client.DeleteTaskPath, client.Request{TaskGuid: "t-1"}),
		Entry("the converger desiring an LRP", converger, client.DesireLRPPath, client.Request{DesiredLRP: desired}),
		Entry("the converger completing a task", converger, client.CompleteTaskPath, client.Request{TaskGuid: "t-1", CellID: "cell-1"}),
		Entry("the receptor claiming an instance", receptor, client.ClaimActualLRPPath, client.Request{ActualLRPKey: key, InstanceKey: onCell2}),
		Entry("the receptor crashing an instance", receptor, client.CrashActualLRPPath, client.Request{ActualLRPKey: key, InstanceKey: onCell1, Reason: "x"}),
		Entry("the router reading the LRPs", router, client.DesiredLRPsPath, client.Request{}),
		Entry("the router desiring an LRP", router, client.DesireLRPPath, client.Request{DesiredLRP: desired}),
		Entry("a rep reading the store's health", cell1, client.StoreHealthPath, client.Request{}),
	)

	It("lets the receptor read the store's health over mutual TLS", func() {
		health, err := as(receptor).StoreHealth(bg)
		Expect(err).NotTo(HaveOccurred())
		Expect(health.Writable).To(BeTrue())
		Expect(health.Alarms).To(BeEmpty())
		Expect(health.QuotaBytes).To(BeNumerically(">", 0))
	})

	It("lets a rep list its own cell's instances and tasks and read what it runs", func() {
		actuals, err := as(cell1).ActualLRPs(bg, logger, models.ActualLRPFilter{CellID: "cell-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(actuals).To(HaveLen(1))
		tasks, err := as(cell1).Tasks(bg, logger, models.TaskFilter{CellID: "cell-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(tasks).To(HaveLen(1))
		_, err = as(cell1).DesiredLRPByProcessGuid(bg, logger, "web")
		Expect(err).NotTo(HaveOccurred())
		_, err = as(cell1).TaskByGuid(bg, logger, "t-1")
		Expect(err).NotTo(HaveOccurred())
	})

	It("lets a rep change its own cell's instance and task", func() {
		Expect(as(cell1).StartActualLRP(bg, logger, *key, *onCell1, models.ActualLRPNetInfo{Address: "10.0.0.1"}, true)).To(Succeed())
		Expect(as(cell1).CompleteTask(bg, logger, "t-1", "cell-1", false, "", "ok")).To(Succeed())
		task, err := as(receptor).TaskByGuid(bg, logger, "t-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(task.State).To(Equal(models.TaskStateCompleted))
		actuals, err := as(receptor).ActualLRPs(bg, logger, models.ActualLRPFilter{ProcessGuid: "web"})
		Expect(err).NotTo(HaveOccurred())
		Expect(actuals[0].State).To(Equal(models.ActualLRPStateRunning))
	})

	It("lets only the roles that follow it read the event stream", func() {
		for id, want := range map[certs.Identity]int{emitter: http.StatusOK, receptor: http.StatusOK, cell1: http.StatusForbidden, router: http.StatusForbidden} {
			hc, err := transport.NewClient(tlsOf(id), 0)
			Expect(err).NotTo(HaveOccurred())
			ctx, cancel := context.WithTimeout(bg, 5*time.Second)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, tlsURL+client.EventsPath, nil)
			Expect(err).NotTo(HaveOccurred())
			resp, err := hc.Do(req)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(want), id.String())
			resp.Body.Close()
			cancel()
		}
	})
})

func ptr[T any](v T) *T { return &v }

var _ = It("places every BBS method in the access policy", func() {
	Expect(server.UnplacedPaths()).To(BeEmpty())
})
