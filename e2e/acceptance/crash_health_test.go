//go:build e2e

package acceptance_test

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

// instance0 is the ORDINARY record of index 0 of guid.
func instance0(guid string) func() (*models.ActualLRP, error) {
	return func() (*models.ActualLRP, error) {
		list, err := w.ActualLRPs(guid)
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			if a.Index == 0 && (a.Presence == "" || a.Presence == models.PresenceOrdinary) {
				return a, nil
			}
		}
		return nil, fmt.Errorf("no index 0 of %s", guid)
	}
}

var _ = Describe("Crash restart policy", func() {
	It("restarts a crashed instance at once twice, then waits out a backoff", func() {
		g := guid("crashy")
		post("/v1/desired_lrps", appJSON(g, 1, J{"action": sh("sleep 1; exit 17"), "check_definition": nil, "routes": nil}), http.StatusCreated)
		Eventually(func(g2 Gomega) {
			a, err := instance0(g)()
			g2.Expect(err).NotTo(HaveOccurred())
			g2.Expect(a.CrashCount).To(Equal(3))
			g2.Expect(a.State).To(Equal(models.ActualLRPStateCrashed))
			g2.Expect(a.CrashReason).To(Equal("Exited with status 17"))
			g2.Expect(a.CellID).To(BeEmpty())
		}, 60*time.Second).Should(Succeed())
		// The backoff after the third crash is 30 s: nothing restarts before.
		Consistently(func() (int, error) {
			a, err := instance0(g)()
			if err != nil {
				return 0, err
			}
			return a.CrashCount, nil
		}, 10*time.Second, time.Second).Should(Equal(3))
	})

	It("follows an LRP's own restart policy", func() {
		g := guid("policy")
		post("/v1/desired_lrps", appJSON(g, 1, J{
			"action": sh("sleep 1; exit 3"), "check_definition": nil, "routes": nil,
			"restart_policy": J{"immediate_restarts": 1, "base_backoff_ms": 2000, "max_backoff_ms": 2000, "max_restarts": 4, "reset_after_ms": 300000},
		}), http.StatusCreated)
		Eventually(func(g2 Gomega) {
			a, err := instance0(g)()
			g2.Expect(err).NotTo(HaveOccurred())
			g2.Expect(a.CrashCount).To(Equal(4))
			g2.Expect(a.State).To(Equal(models.ActualLRPStateCrashed))
		}, 60*time.Second).Should(Succeed())
		Consistently(func() (int, error) {
			a, err := instance0(g)()
			if err != nil {
				return 0, err
			}
			return a.CrashCount, nil
		}, 6*time.Second, time.Second).Should(Equal(4), "max restarts reached: it stays crashed")
	})

	It("restarts an instance that exits, keeping the crash reason after it runs again", func() {
		g := guid("exit")
		desire(appJSON(g, 1))
		a, err := instance0(g)()
		Expect(err).NotTo(HaveOccurred())
		resp, err := w.Get(g+".test", "/exit?code=5")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(Equal(http.StatusOK))
		Eventually(func(g2 Gomega) {
			b, err := instance0(g)()
			g2.Expect(err).NotTo(HaveOccurred())
			g2.Expect(b.State).To(Equal(models.ActualLRPStateRunning))
			g2.Expect(b.CrashCount).To(Equal(1))
			g2.Expect(b.CrashReason).To(Equal("Exited with status 5"))
			g2.Expect(b.InstanceGuid).NotTo(Equal(a.InstanceGuid))
		}, 30*time.Second).Should(Succeed())
	})

	It("does not count a process that daemonised while its check passes as a crash", func() {
		g := guid("daemon")
		desire(appJSON(g, 1, J{"action": sh("/app/httpapp > /dev/null 2>&1 & exit 0")}))
		Consistently(func() (int, error) {
			a, err := instance0(g)()
			if err != nil {
				return -1, err
			}
			if a.State != models.ActualLRPStateRunning {
				return -2, nil
			}
			return a.CrashCount, nil
		}, 6*time.Second, 500*time.Millisecond).Should(BeZero())
		Eventually(func() (int, error) {
			resp, err := w.Get(g+".test", "/health")
			return resp.Status, err
		}, 10*time.Second).Should(Equal(http.StatusOK))
	})

	It("says an instance that ran out of memory crashed for that reason", func() {
		g := guid("oom")
		post("/v1/desired_lrps", appJSON(g, 1, J{
			"action":    sh("/app/httpapp & sleep 2; x=$(yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 200000000); sleep 1000"),
			"memory_mb": 32,
		}), http.StatusCreated)
		Eventually(func() (string, error) {
			a, err := instance0(g)()
			if err != nil {
				return "", err
			}
			return a.CrashReason, nil
		}, 60*time.Second).Should(Equal("out of memory"))
	})

	It("keeps a daemonised process running while its legacy monitor action passes", func() {
		g := guid("monitor")
		desire(appJSON(g, 1, J{
			"action":           sh("/app/httpapp > /dev/null 2>&1 & exit 0"),
			"check_definition": nil,
			"monitor":          sh("wget -q -O /dev/null http://127.0.0.1:8080/health"),
		}))
		Consistently(func() (string, error) {
			a, err := instance0(g)()
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s/%d", a.State, a.CrashCount), nil
		}, 6*time.Second, 500*time.Millisecond).Should(Equal(models.ActualLRPStateRunning + "/0"))
	})

	It("crashes an instance never healthy within its start timeout", func() {
		g := guid("slow")
		post("/v1/desired_lrps", appJSON(g, 1, J{
			"check_definition": J{"checks": []J{{"tcp_check": J{"port": 9999}}}},
			"start_timeout":    3, "ports": []int{8080, 9999},
		}), http.StatusCreated)
		Eventually(func() (string, error) {
			a, err := instance0(g)()
			if err != nil {
				return "", err
			}
			return a.CrashReason, nil
		}, 30*time.Second).Should(HavePrefix("Instance never healthy after 3s"))
	})
})

var _ = Describe("Health checks", func() {
	It("run an instance once its HTTP check answers 200", func() {
		g := guid("http")
		desire(appJSON(g, 1, J{"check_definition": J{"checks": []J{{"http_check": J{"port": 8080, "path": "/health"}}}}}))
	})

	It("never pass an HTTP check that answers 404", func() {
		g := guid("http404")
		post("/v1/desired_lrps", appJSON(g, 1, J{
			"check_definition": J{"checks": []J{{"http_check": J{"port": 8080, "path": "/no-such-page"}}}},
			"start_timeout":    3,
		}), http.StatusCreated)
		Eventually(func() (string, error) {
			a, err := instance0(g)()
			if err != nil {
				return "", err
			}
			return a.CrashReason, nil
		}, 30*time.Second).Should(HavePrefix("Instance never healthy after 3s"))
		running, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())
		Expect(running).To(BeEmpty())
	})

	It("crash an instance whose TCP check stops passing", func() {
		g := guid("liveness")
		desire(appJSON(g, 1, J{
			// The app runs beside a shell that outlives it: only the check sees it go.
			"action":           sh("/app/httpapp & sleep 100000"),
			"check_definition": J{"checks": []J{{"tcp_check": J{"port": 8080, "interval_ms": 500}}}},
		}))
		resp, err := w.Get(g+".test", "/exit?code=0")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(Equal(http.StatusOK))
		Eventually(func() (string, error) {
			a, err := instance0(g)()
			if err != nil {
				return "", err
			}
			return a.CrashReason, nil
		}, 20*time.Second).Should(HavePrefix("Instance became unhealthy"))
	})

	It("route only instances whose readiness checks pass, without crashing the others", func() {
		ready, unready := guid("ready"), guid("unready")
		desire(appJSON(ready, 1, J{"check_definition": J{
			"checks":           []J{{"tcp_check": J{"port": 8080}}},
			"readiness_checks": []J{{"http_check": J{"port": 8080, "path": "/health", "interval_ms": 500}}},
		}}))
		desire(appJSON(unready, 1, J{"check_definition": J{
			"checks":           []J{{"tcp_check": J{"port": 8080}}},
			"readiness_checks": []J{{"http_check": J{"port": 8080, "path": "/nope", "interval_ms": 500}}},
		}}))
		Eventually(func() (bool, error) {
			a, err := instance0(ready)()
			return a != nil && a.Routable, err
		}, 10*time.Second).Should(BeTrue())
		Eventually(func() (int, error) {
			resp, err := w.Get(ready+".test", "/")
			return resp.Status, err
		}, 10*time.Second).Should(Equal(http.StatusOK))

		Consistently(func() (bool, error) {
			a, err := instance0(unready)()
			return a != nil && !a.Routable && a.State == models.ActualLRPStateRunning && a.CrashCount == 0, err
		}, 4*time.Second, 500*time.Millisecond).Should(BeTrue())
		resp, err := w.Get(unready+".test", "/")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(Equal(http.StatusNotFound))
	})
})
