package models_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("An egress rule's icmp_info", func() {
	icmp := func(info *models.ICMPInfo) models.SecurityGroupRule {
		return models.SecurityGroupRule{Protocol: models.ProtocolICMP, Destinations: []string{"10.0.0.0/8"}, IcmpInfo: info}
	}

	DescribeTable("is checked on desired LRPs and tasks alike",
		func(rule models.SecurityGroupRule, field string) {
			d := validDesiredLRP()
			d.EgressRules = []models.SecurityGroupRule{rule}
			t := validTask()
			t.EgressRules = []models.SecurityGroupRule{rule}
			if field == "" {
				Expect(d.Validate()).To(Succeed())
				Expect(t.Validate()).To(Succeed())
				return
			}
			Expect(fieldsOf(d.Validate())).To(ConsistOf(field))
			Expect(fieldsOf(t.Validate())).To(ConsistOf(field))
		},
		Entry("echo request, type 8 code 0", icmp(&models.ICMPInfo{Type: 8, Code: 0}), ""),
		Entry("type and code at their largest", icmp(&models.ICMPInfo{Type: 255, Code: 255}), ""),
		Entry("no icmp_info: every message", icmp(nil), ""),
		Entry("type negative", icmp(&models.ICMPInfo{Type: -1}), "egress_rules[0].icmp_info.type"),
		Entry("type past one byte", icmp(&models.ICMPInfo{Type: 256}), "egress_rules[0].icmp_info.type"),
		Entry("code negative", icmp(&models.ICMPInfo{Type: 3, Code: -1}), "egress_rules[0].icmp_info.code"),
		Entry("code past one byte", icmp(&models.ICMPInfo{Type: 3, Code: 256}), "egress_rules[0].icmp_info.code"),
		Entry("on a tcp rule", models.SecurityGroupRule{Protocol: models.ProtocolTCP, Destinations: []string{"10.0.0.1"},
			Ports: []uint16{80}, IcmpInfo: &models.ICMPInfo{Type: 8}}, "egress_rules[0].icmp_info"),
		Entry("on an all rule", models.SecurityGroupRule{Protocol: models.ProtocolAll, Destinations: []string{"10.0.0.1"},
			IcmpInfo: &models.ICMPInfo{Type: 8}}, "egress_rules[0].icmp_info"),
	)
})
