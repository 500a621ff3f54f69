package sshd_test

import (
	"time"

	"code.cloudfoundry.org/clock/fakeclock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/receptor/sshd"
)

var _ = Describe("One-time SSH codes", func() {
	var (
		clk   *fakeclock.FakeClock
		codes *sshd.Codes
	)
	BeforeEach(func() {
		clk = fakeclock.NewFakeClock(time.Unix(1_800_000_000, 0))
		key, err := sshd.NewKey()
		Expect(err).NotTo(HaveOccurred())
		codes = &sshd.Codes{Key: key, TTL: time.Minute, Clock: clk}
	})

	It("opens one connection to the instance it was issued for", func() {
		code := codes.Issue("web/0")
		Expect(codes.Redeem("web/0", code)).To(Succeed())
		Expect(codes.Redeem("web/0", code)).To(MatchError(sshd.ErrBadCode), "a second use")
	})

	DescribeTable("refuses",
		func(redeem func(code string) error) {
			Expect(redeem(codes.Issue("web/0"))).To(MatchError(sshd.ErrBadCode))
		},
		Entry("another index of the app", func(c string) error { return codes.Redeem("web/1", c) }),
		Entry("another app", func(c string) error { return codes.Redeem("other/0", c) }),
		Entry("an expired code", func(c string) error { clk.Increment(61 * time.Second); return codes.Redeem("web/0", c) }),
		Entry("no code", func(string) error { return codes.Redeem("web/0", "") }),
		Entry("a code altered by one character", func(c string) error {
			b := []byte(c)
			b[len(b)-1] ^= 1
			return codes.Redeem("web/0", string(b))
		}),
		Entry("a code from a receptor with another key", func(c string) error {
			key, _ := sshd.NewKey()
			other := &sshd.Codes{Key: key, TTL: time.Minute, Clock: clk}
			return other.Redeem("web/0", c)
		}),
	)

	It("differs for each login to the same instance, so each opens its own connection", func() {
		first, second := codes.Issue("web/0"), codes.Issue("web/0")
		Expect(first).NotTo(Equal(second))
		Expect(codes.Redeem("web/0", first)).To(Succeed())
		Expect(codes.Redeem("web/0", second)).To(Succeed())
	})

	It("is accepted by a receptor sharing the key", func() {
		other := &sshd.Codes{Key: codes.Key, TTL: time.Minute, Clock: clk}
		Expect(other.Redeem("web/0", codes.Issue("web/0"))).To(Succeed())
	})

	DescribeTable("names an instance as PROCESS_GUID/INDEX",
		func(user string, ok bool) {
			_, _, err := sshd.ParseUser(user)
			Expect(err == nil).To(Equal(ok))
		},
		Entry("web/0", "web/0", true), Entry("no index", "web", false), Entry("a negative index", "web/-1", false),
		Entry("no app", "/0", false),
	)
})
