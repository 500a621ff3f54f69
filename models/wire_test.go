package models_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Wire shapes", func() {
	It("writes a cell's empty lists as [] and its providers as DESIGN 9 shows", func() {
		c := models.CellPresence{CellID: "c", RepAddress: "127.0.0.1:1800",
			RootFSProviders: models.RootFSProviders{"docker": nil, "preloaded": {"cflinuxfs4"}}}
		b, err := json.Marshal(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(`{"cell_id":"c","rep_address":"127.0.0.1:1800","zone":"",
			"capacity":{"memory_mb":0,"disk_mb":0,"containers":0},
			"rootfs_providers":{"docker":[],"preloaded":["cflinuxfs4"]},
			"placement_tags":[],"optional_placement_tags":[]}`))
		var back models.CellPresence
		Expect(json.Unmarshal(b, &back)).To(Succeed())
		Expect(back.RootFSProviders).To(HaveKey("docker"))
		Expect(back.RootFSProviders.Supports("docker:///x")).To(BeTrue())
	})

	It("writes no providers as {}", func() {
		b, err := json.Marshal(&models.CellPresence{})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring(`"rootfs_providers":{}`))
	})

	It("writes a desired LRP's fields as the 2015 receptor did: always, or left out when empty", func() {
		b, err := json.Marshal(&models.DesiredLRP{ProcessGuid: "p", Action: models.Run(models.RunAction{Path: "/a"})})
		Expect(err).NotTo(HaveOccurred())
		var m map[string]any
		Expect(json.Unmarshal(b, &m)).To(Succeed())
		for _, always := range []string{"instances", "setup", "action", "monitor", "start_timeout", "disk_mb", "memory_mb",
			"cpu_weight", "privileged", "ports", "log_guid", "log_source", "metrics_guid", "modification_tag"} {
			Expect(m).To(HaveKey(always))
		}
		for _, omitted := range []string{"env", "routes", "annotation", "egress_rules"} {
			Expect(m).NotTo(HaveKey(omitted))
		}
	})

	It("writes a task flat, its definition beside its status", func() {
		b, err := json.Marshal(validTask())
		Expect(err).NotTo(HaveOccurred())
		var m map[string]any
		Expect(json.Unmarshal(b, &m)).To(Succeed())
		Expect(m).To(HaveKeyWithValue("task_guid", "task-1"))
		Expect(m).To(HaveKeyWithValue("rootfs", "preloaded:cflinuxfs4"))
		Expect(m).To(HaveKeyWithValue("failed", false))
		Expect(m).To(HaveKey("action"))
		for _, always := range []string{"completion_callback_url", "result_file", "log_guid", "log_source", "metrics_guid",
			"cell_id", "created_at", "failure_reason", "result", "state", "cpu_weight", "privileged"} {
			Expect(m).To(HaveKey(always))
		}
	})

	It("decodes CF routes", func() {
		cf, err := validDesiredLRP().Routes.CFRoutes()
		Expect(err).NotTo(HaveOccurred())
		Expect(cf).To(Equal([]models.CFRoute{{Hostnames: []string{"web.example.com"}, Port: 8080}}))
		none, err := models.Routes{}.CFRoutes()
		Expect(err).NotTo(HaveOccurred())
		Expect(none).To(BeEmpty())
		_, err = models.Routes{models.CFRouterKey: json.RawMessage(`{}`)}.CFRoutes()
		Expect(err).To(HaveOccurred())
	})
})

var _ = Describe("Round trips", func() {
	It("reads an actual LRP without ports back equal (nil ports)", func() {
		a := &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "p", Domain: "d"}, State: models.ActualLRPStateUnclaimed}
		b, err := json.Marshal(a)
		Expect(err).NotTo(HaveOccurred())
		var back models.ActualLRP
		Expect(json.Unmarshal(b, &back)).To(Succeed())
		Expect(&back).To(Equal(a))
	})

	It("reads a cell presence without tags back equal (nil tags)", func() {
		c := &models.CellPresence{CellID: "c", RepAddress: "a:1", RootFSProviders: models.RootFSProviders{"docker": {}}}
		b, err := json.Marshal(c)
		Expect(err).NotTo(HaveOccurred())
		var back models.CellPresence
		Expect(json.Unmarshal(b, &back)).To(Succeed())
		Expect(&back).To(Equal(c))
	})
})
