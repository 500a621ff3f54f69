// Package natsrunner runs an embedded NATS server with JetStream as an ifrit
// runner. Tests and the all-in-one `diego up` use it; production points the
// daemons at a NATS cluster instead.
//
// On start it makes sure the LOGS stream exists (subjects "logs.>", a bounded
// number of messages kept per subject, oldest discarded first), so that log
// publishers and readers never have to create it.
//
// For Ginkgo suites:
//
//	var natsURL string
//	BeforeEach(func() {
//		runner, process, err := natsrunner.StartForTest(GinkgoT().TempDir())
//		Expect(err).NotTo(HaveOccurred())
//		DeferCleanup(func() { ginkgomon.Interrupt(process) })
//		natsURL = runner.ClientURL()
//	})
package natsrunner
