package receptor_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Cells", func() {
	It("answers [] when no cell is present", func() {
		resp := do("GET", "/v1/cells", "")
		Expect(resp.Status).To(Equal(http.StatusOK))
		Expect(string(resp.Body)).To(Equal("[]\n"))
	})

	It("lists present cells with their rootfs providers", func() {
		_, err := bbsClient.RegisterCell(ctx(), logger, models.CellPresence{
			CellID: "cell-1", RepAddress: "10.0.0.1:1800", Zone: "z1",
			Capacity:        models.CellCapacity{MemoryMB: 1024, DiskMB: 2048, Containers: 250},
			RootFSProviders: models.RootFSProviders{"docker": nil, "preloaded": {"cflinuxfs4"}},
		}, 30)
		Expect(err).NotTo(HaveOccurred())
		cells := decode[[]map[string]json.RawMessage](do("GET", "/v1/cells", ""))
		Expect(cells).To(HaveLen(1))
		Expect(string(cells[0]["cell_id"])).To(Equal(`"cell-1"`))
		Expect(string(cells[0]["zone"])).To(Equal(`"z1"`))
		Expect(cells[0]["rootfs_providers"]).To(MatchJSON(`{"docker":[],"preloaded":["cflinuxfs4"]}`))
		Expect(cells[0]["capacity"]).To(MatchJSON(`{"memory_mb":1024,"disk_mb":2048,"containers":250}`))
	})
})

var _ = Describe("Domains", func() {
	It("answers [] when there are none", func() {
		Expect(string(do("GET", "/v1/domains", "").Body)).To(Equal("[]\n"))
	})

	It("keeps a domain fresh for the Cache-Control max-age, or forever without one", func() {
		Expect(do("PUT", "/v1/domains/forever", "").Status).To(Equal(http.StatusNoContent))
		Expect(do("PUT", "/v1/domains/brief", "", "Cache-Control", "max-age=1").Status).To(Equal(http.StatusNoContent))
		Expect(decode[[]string](do("GET", "/v1/domains", ""))).To(ConsistOf("forever", "brief"))
		Eventually(func() []string { return decode[[]string](do("GET", "/v1/domains", "")) }, 5*time.Second).
			Should(ConsistOf("forever"))
	})

	It("answers 400 InvalidDomain for a bad max-age or name", func() {
		expectError(do("PUT", "/v1/domains/d", "", "Cache-Control", "max-age=soon"), http.StatusBadRequest, "InvalidDomain")
		expectError(do("PUT", "/v1/domains/bad%20name", ""), http.StatusBadRequest, "InvalidDomain")
		Expect(string(do("GET", "/v1/domains", "").Body)).To(Equal("[]\n"))
	})
})

var _ = Describe("Logs", func() {
	It("answers 501 NotImplemented until the logs stream is wired in", func() {
		expectError(do("GET", "/v1/logs/some-log-guid?recent=10", ""), http.StatusNotImplemented, "NotImplemented")
	})
})

var _ = Describe("Basic auth", func() {
	BeforeEach(func() {
		opts.Username = "user"
		opts.Password = "secret"
	})

	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}

	It("answers 401 Unauthorized with a typed body and a challenge without credentials", func() {
		resp := do("GET", "/v1/tasks", "")
		Expect(resp.Status).To(Equal(http.StatusUnauthorized))
		Expect(resp.Header.Get("WWW-Authenticate")).To(HavePrefix("Basic realm="))
		var body map[string]string
		Expect(json.Unmarshal(resp.Body, &body)).To(Succeed())
		Expect(body).To(HaveLen(2))
		Expect(body["name"]).To(Equal("Unauthorized"))
		Expect(body["message"]).NotTo(BeEmpty())
	})

	It("refuses wrong credentials and writes nothing", func() {
		expectError(do("POST", "/v1/tasks", taskJSON("t", "d"), "Authorization", basic("user", "wrong")), http.StatusUnauthorized, "Unauthorized")
		Expect(string(do("GET", "/v1/tasks", "", "Authorization", basic("user", "secret")).Body)).To(Equal("[]\n"))
	})

	It("serves requests with the right credentials", func() {
		Expect(do("POST", "/v1/tasks", taskJSON("t", "d"), "Authorization", basic("user", "secret")).Status).To(Equal(http.StatusCreated))
	})
})

var _ = Describe("CORS", func() {
	BeforeEach(func() {
		opts.CORSOrigins = []string{"https://console.example.com"}
		opts.Username = "user"
		opts.Password = "secret"
	})

	It("answers a preflight from an allowed origin without credentials", func() {
		resp := do("OPTIONS", "/v1/desired_lrps", "",
			"Origin", "https://console.example.com",
			"Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "Authorization, Content-Type")
		Expect(resp.Status).To(Equal(http.StatusNoContent))
		Expect(resp.Header.Get("Access-Control-Allow-Origin")).To(Equal("https://console.example.com"))
		Expect(resp.Header.Get("Access-Control-Allow-Methods")).To(ContainSubstring("POST"))
		Expect(resp.Header.Get("Access-Control-Allow-Headers")).To(ContainSubstring("Authorization"))
		Expect(resp.Header.Get("Access-Control-Allow-Credentials")).To(Equal("true"))
	})

	It("marks responses to an allowed origin and not to others", func() {
		resp := do("GET", "/v1/tasks", "", "Origin", "https://console.example.com")
		Expect(resp.Header.Get("Access-Control-Allow-Origin")).To(Equal("https://console.example.com"))
		resp = do("OPTIONS", "/v1/tasks", "", "Origin", "https://evil.example.com", "Access-Control-Request-Method", "GET")
		Expect(resp.Header.Get("Access-Control-Allow-Origin")).To(BeEmpty())
		Expect(resp.Status).To(Equal(http.StatusUnauthorized))
	})
})

var _ = Describe("Request metrics", func() {
	var registry *prometheus.Registry

	BeforeEach(func() {
		registry = prometheus.NewRegistry()
		opts.Registerer = registry
	})

	It("counts requests by route and status", func() {
		Expect(do("GET", "/v1/tasks", "").Status).To(Equal(http.StatusOK))
		expectError(do("GET", "/v1/tasks/nope", ""), http.StatusNotFound, "TaskNotFound")
		families, err := registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		counts := map[string]float64{}
		for _, f := range families {
			if f.GetName() != "diego_receptor_requests_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				counts[labels["route"]+" "+labels["status"]] = m.GetCounter().GetValue()
			}
		}
		Expect(counts).To(HaveKeyWithValue("GET /v1/tasks 200", 1.0))
		Expect(counts).To(HaveKeyWithValue("GET /v1/tasks/{guid} 404", 1.0))
	})
})

var _ = Describe("Unrouted requests", func() {
	It("answers 404 ResourceNotFound for an unknown path", func() {
		expectError(do("GET", "/v2/nothing", ""), http.StatusNotFound, "ResourceNotFound")
	})

	It("answers 405 MethodNotAllowed with the allowed methods for a known path", func() {
		resp := do("PATCH", "/v1/desired_lrps/web", "{}")
		expectError(resp, http.StatusMethodNotAllowed, "MethodNotAllowed")
		Expect(resp.Header.Get("Allow")).To(Equal("GET, PUT, DELETE"))
	})
})
