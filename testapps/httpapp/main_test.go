package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("httpapp", func() {
	var (
		session *gexec.Session
		base    string
	)

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		return resp.StatusCode, string(body)
	}

	BeforeEach(func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		port := l.Addr().(*net.TCPAddr).Port
		Expect(l.Close()).To(Succeed())

		cmd := exec.Command(binary)
		cmd.Env = []string{fmt.Sprintf("PORT=%d", port), "INSTANCE_INDEX=3", "INSTANCE_GUID=guid-1"}
		session, err = gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { session.Kill().Wait() })
		base = fmt.Sprintf("http://127.0.0.1:%d", port)
		Eventually(func() error { _, err := http.Get(base + "/health"); return err }).Should(Succeed())
	})

	It("answers / with its instance identity", func() {
		status, body := get("/")
		Expect(status).To(Equal(http.StatusOK))
		var id struct {
			Index    int    `json:"instance_index"`
			GUID     string `json:"instance_guid"`
			Hostname string `json:"hostname"`
		}
		Expect(json.Unmarshal([]byte(body), &id)).To(Succeed())
		Expect(id.Index).To(Equal(3))
		Expect(id.GUID).To(Equal("guid-1"))
		Expect(id.Hostname).NotTo(BeEmpty())
	})

	It("answers /env with its environment and logs each request on stdout", func() {
		_, body := get("/env")
		Expect(body).To(ContainSubstring(`"INSTANCE_GUID":"guid-1"`))
		Eventually(session.Out).Should(gbytes.Say(`GET /env`))
	})

	It("writes /stderr?msg= to stderr", func() {
		get("/stderr?msg=hello-stderr")
		Eventually(session.Err).Should(gbytes.Say("hello-stderr"))
	})

	It("exits with the code /exit asks for", func() {
		status, _ := get("/exit?code=7")
		Expect(status).To(Equal(http.StatusOK))
		Eventually(session).Should(gexec.Exit(7))
	})

	It("refuses a non-numeric exit code", func() {
		status, _ := get("/exit?code=x")
		Expect(status).To(Equal(http.StatusBadRequest))
		Consistently(session, "200ms").ShouldNot(gexec.Exit())
	})
	It("holds memory it is asked to allocate, and refuses a bad size", func() {
		status, body := get("/alloc?mb=8")
		Expect(status).To(Equal(http.StatusOK))
		Expect(body).To(Equal("holding 8 MiB\n"))
		_, body = get("/alloc?mb=4")
		Expect(body).To(Equal("holding 12 MiB\n"))
		status, _ = get("/alloc?mb=zero")
		Expect(status).To(Equal(http.StatusBadRequest))
	})

	It("spins in the background, and refuses a bad duration", func() {
		status, body := get("/spin?seconds=1")
		Expect(status).To(Equal(http.StatusOK))
		Expect(body).To(Equal("spinning for 1 s\n"))
		status, _ = get("/spin?seconds=-1")
		Expect(status).To(Equal(http.StatusBadRequest))
	})
})
