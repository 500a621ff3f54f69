//go:build e2e

package acceptance_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Instance metrics", func() {
	usage := func(app string) func(Gomega) models.InstanceMetrics {
		return func(g Gomega) models.InstanceMetrics {
			resp, err := w.Request(http.MethodGet, "/v1/actual_lrps/"+app+"/metrics", nil)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(resp.Status).To(Equal(http.StatusOK), string(resp.Body))
			var list []models.InstanceMetrics
			g.Expect(json.Unmarshal(resp.Body, &list)).To(Succeed())
			g.Expect(list).To(HaveLen(1))
			g.Expect(list[0].Timestamp).NotTo(BeZero(), "no sample yet")
			return list[0]
		}
	}
	// statusColumn reads one column of the instance's row in `diego status`.
	statusColumn := func(app, column string) func(Gomega) string {
		return func(g Gomega) string {
			out, errOut, code := w.CLI("status", app)
			g.Expect(code).To(Equal(0), errOut)
			lines := regexp.MustCompile(`\n`).Split(out, -1)
			g.Expect(len(lines)).To(BeNumerically(">=", 3), out)
			header := regexp.MustCompile(`\s{2,}`).Split(lines[1], -1)
			row := regexp.MustCompile(`\s{2,}`).Split(lines[2], -1)
			for i, h := range header {
				if h == column && i < len(row) {
					return row[i]
				}
			}
			g.Expect(header).To(ContainElement(column), out)
			return ""
		}
	}
	number := func(s string) float64 {
		m := regexp.MustCompile(`^[0-9.]+`).FindString(s)
		n, err := strconv.ParseFloat(m, 64)
		Expect(err).NotTo(HaveOccurred(), "%q is not a figure", s)
		return n
	}

	It("shows an app's memory rising through the API and diego status, and a busy loop near one core", func() {
		app := guid("usage")
		desire(appJSON(app, 1, J{"memory_mb": 256}))
		host := app + ".test"
		Eventually(func() (int, error) { r, err := w.Get(host, "/health"); return r.Status, err }, 30*time.Second).Should(Equal(http.StatusOK))

		before := usage(app)
		Eventually(before, 30*time.Second).Should(HaveField("MemoryLimitBytes", uint64(256<<20)))
		base := before(Default).MemoryBytes

		resp, err := w.Get(host, "/alloc?mb=100")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(Equal(http.StatusOK), string(resp.Body))
		Eventually(usage(app), 30*time.Second).Should(HaveField("MemoryBytes", BeNumerically(">=", base+90<<20)))
		Eventually(func(g Gomega) float64 { return number(statusColumn(app, "MEM")(g)) }, 30*time.Second).Should(BeNumerically(">=", 90))
		Expect(statusColumn(app, "MEM")(Default)).To(HaveSuffix("of 256.0M"))

		resp, err = w.Get(host, "/spin?seconds=40")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(Equal(http.StatusOK), string(resp.Body))
		// Two samples 5 s apart, both inside the busy loop.
		Eventually(usage(app), 30*time.Second).Should(HaveField("CPUPercent", BeNumerically("~", 100, 30)))
		Eventually(func(g Gomega) float64 { return number(statusColumn(app, "CPU")(g)) }, 20*time.Second).Should(BeNumerically("~", 100, 30))
	})
})
