package messages_test

import (
	"encoding/json"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/routing/messages"
)

var _ = Describe("RegistryMessage", func() {
	Context("decoding the JSON gorouter reads", func() {
		It("fills every field", func() {
			raw := `{"host":"10.0.0.5","port":61001,"tls_port":61443,"uris":["a.example.com","b.example.com"],
				"app":"app-guid","private_instance_id":"inst-guid","private_instance_index":"3",
				"tags":{"component":"route-emitter"},"stale_threshold_in_seconds":30,
				"server_cert_domain_san":"inst-guid","route_service_url":"https://rs.example.com",
				"endpoint_updated_at_ns":1700000000000000000,"protocol":"http1",
				"isolation_segment":"iso","availability_zone":"z1"}`
			var m messages.RegistryMessage
			Expect(json.Unmarshal([]byte(raw), &m)).To(Succeed())
			Expect(m).To(Equal(messages.RegistryMessage{
				Host: "10.0.0.5", Port: 61001, TLSPort: 61443,
				URIs: []string{"a.example.com", "b.example.com"},
				App:  "app-guid", PrivateInstanceID: "inst-guid", PrivateInstanceIndex: "3",
				Tags:                    map[string]string{"component": "route-emitter"},
				StaleThresholdInSeconds: 30, ServerCertDomainSAN: "inst-guid",
				RouteServiceURL: "https://rs.example.com", EndpointUpdatedAtNs: 1700000000000000000,
				Protocol: "http1", IsolationSegment: "iso", AvailabilityZone: "z1",
			}))
			Expect(m.Address()).To(Equal("10.0.0.5:61001"))
		})

		It("leaves optional fields out when encoding", func() {
			b, err := json.Marshal(messages.RegistryMessage{Host: "h", Port: 1, URIs: []string{"u"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(MatchJSON(`{"host":"h","port":1,"uris":["u"]}`))
		})
	})

	DescribeTable("Validate",
		func(m messages.RegistryMessage, field string) {
			err := m.Validate()
			if field == "" {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(errors.Is(err, messages.ErrInvalidRegistryMessage)).To(BeTrue())
			var invalid *messages.InvalidRegistryMessageError
			Expect(errors.As(err, &invalid)).To(BeTrue())
			Expect(invalid.Field).To(Equal(field))
		},
		Entry("a complete message", messages.RegistryMessage{Host: "10.0.0.1", Port: 8080, URIs: []string{"a"}}, ""),
		Entry("a missing host", messages.RegistryMessage{Port: 8080, URIs: []string{"a"}}, "host"),
		Entry("a blank host", messages.RegistryMessage{Host: " ", Port: 8080, URIs: []string{"a"}}, "host"),
		Entry("port 0", messages.RegistryMessage{Host: "10.0.0.1", URIs: []string{"a"}}, "port"),
		Entry("no uris", messages.RegistryMessage{Host: "10.0.0.1", Port: 8080}, "uris"),
	)

	It("brackets IPv6 hosts in Address", func() {
		Expect(messages.RegistryMessage{Host: "::1", Port: 80}.Address()).To(Equal("[::1]:80"))
	})
})

var _ = DescribeTable("NormalizeHost",
	func(in, host, path string) {
		h, p := messages.NormalizeHost(in)
		Expect(h).To(Equal(host))
		Expect(p).To(Equal(path))
	},
	Entry("plain", "app.example.com", "app.example.com", ""),
	Entry("upper case", "App.Example.COM", "app.example.com", ""),
	Entry("with port", "app.example.com:8080", "app.example.com", ""),
	Entry("trailing dot", "app.example.com.", "app.example.com", ""),
	Entry("with path", "app.example.com/api/v1", "app.example.com", "/api/v1"),
	Entry("IPv6 with port", "[::1]:8080", "::1", ""),
	Entry("IPv6 bare brackets", "[::1]", "::1", ""),
)

var _ = Describe("RouterStart", func() {
	It("uses the camel-case keys gorouter publishes", func() {
		b, err := json.Marshal(messages.RouterStart{ID: "r1", Hosts: []string{"10.0.0.9"},
			MinimumRegisterIntervalInSeconds: 20, PruneThresholdInSeconds: 120})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(MatchJSON(`{"id":"r1","hosts":["10.0.0.9"],"minimumRegisterIntervalInSeconds":20,"pruneThresholdInSeconds":120}`))
	})
})
