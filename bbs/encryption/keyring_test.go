package encryption_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/bbs/encryption"
)

func TestEncryption(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Encryption Suite")
}

var _ = Describe("Keyring", func() {
	var ring *encryption.Keyring
	aad := []byte("/diego/v1/desired/run/web")

	BeforeEach(func() {
		var err error
		ring, err = encryption.New(map[string]string{"old": "an old passphrase here", "new": "a new passphrase here"}, "new")
		Expect(err).NotTo(HaveOccurred())
	})

	DescribeTable("refuses a bad key set",
		func(keys map[string]string, active, want string) {
			_, err := encryption.New(keys, active)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("no keys", map[string]string{}, "a", "at least one key"),
		Entry("active not among them", map[string]string{"a": "0123456789abcdef"}, "b", `"b" is not among the keys`),
		Entry("a short passphrase", map[string]string{"a": "short"}, "a", "at least 16 characters"),
		Entry("a label with a colon", map[string]string{"a:b": "0123456789abcdef"}, "a:b", "must match"),
	)

	It("seals under the active label and opens what it sealed", func() {
		plain := []byte(`{"env":[{"name":"SECRET","value":"hunter2"}]}`)
		sealed := ring.Seal(aad, plain)
		Expect(encryption.IsSealed(sealed)).To(BeTrue())
		Expect(encryption.Label(sealed)).To(Equal("new"))
		Expect(bytes.Contains(sealed, []byte("hunter2"))).To(BeFalse())
		Expect(ring.Open(aad, sealed)).To(Equal(plain))
		Expect(ring.Seal(aad, plain)).NotTo(Equal(sealed), "a fresh nonce each time")
	})

	It("opens a value sealed under a label that is no longer active", func() {
		oldOnly, err := encryption.New(map[string]string{"old": "an old passphrase here"}, "old")
		Expect(err).NotTo(HaveOccurred())
		sealed := oldOnly.Seal(aad, []byte("{}"))
		Expect(ring.Open(aad, sealed)).To(Equal([]byte("{}")))
	})

	DescribeTable("refuses what it must not open",
		func(mangle func(sealed []byte) ([]byte, []byte), want string) {
			data, at := mangle(ring.Seal(aad, []byte(`{"a":1}`)))
			_, err := ring.Open(at, data)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("moved to another key", func(s []byte) ([]byte, []byte) { return s, []byte("/diego/v1/desired/run/other") }, "authentication failed"),
		Entry("a flipped bit", func(s []byte) ([]byte, []byte) { s[len(s)-3] ^= 0x40; return s, aad }, "authentication failed"),
		Entry("truncated", func(s []byte) ([]byte, []byte) { return s[:len("dgo-enc1:new:")+4], aad }, "truncated"),
		Entry("an unknown label", func(s []byte) ([]byte, []byte) {
			return []byte(strings.Replace(string(s), "dgo-enc1:new:", "dgo-enc1:gone:", 1)), aad
		}, "does not have"),
		Entry("plain JSON", func([]byte) ([]byte, []byte) { return []byte(`{"a":1}`), aad }, "not a sealed value"),
	)
})
