//go:build e2e

package acceptance_test

import (
	"encoding/json"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("The receptor's perimeter", func() {
	It("refuses a CSRF-shaped text/plain POST, and nothing is stored", func() {
		g := guid("csrf")
		body, err := json.Marshal(taskJSON(g, sh("true")))
		Expect(err).NotTo(HaveOccurred())
		resp, err := w.Request(http.MethodPost, "/v1/tasks", body, "Content-Type", "text/plain;charset=UTF-8")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(Equal(http.StatusUnsupportedMediaType), string(resp.Body))
		Expect(resp.Error().Name).To(Equal("UnsupportedMediaType"))
		Expect(status("/v1/tasks/" + g)).To(Equal(http.StatusNotFound))
	})

	It("never reads image_password back", func() {
		const secret = "e2e-canary-image-password"
		g := guid("private")
		post("/v1/desired_lrps", appJSON(g, 0, J{"image_username": "robot", "image_password": secret}), http.StatusCreated)
		DeferCleanup(func() { del("/v1/desired_lrps/"+g, http.StatusNoContent) })
		for _, path := range []string{"/v1/desired_lrps/" + g, "/v1/desired_lrps", "/v1/desired_lrps?domain=" + domain} {
			resp, err := w.Request(http.MethodGet, path, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Status).To(Equal(http.StatusOK))
			Expect(string(resp.Body)).To(ContainSubstring(g))
			Expect(string(resp.Body)).NotTo(ContainSubstring(secret), path)
		}
	})
})
