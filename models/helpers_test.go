package models_test

import (
	"encoding/json"
	"errors"
	"time"

	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

// validDesiredLRP returns a desired LRP that passes validation and uses most
// optional fields, so each rule's row can break exactly one thing.
func validDesiredLRP() *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: "web-app_1",
		Domain:      "cf-apps",
		Instances:   2,
		RootFS:      "docker:///library/nginx#1.27",
		Env:         []models.EnvVar{{Name: "PORT", Value: "8080"}},
		Setup: models.Download(models.DownloadAction{
			From: "https://blobs.example.com/droplet.tgz", To: "/app",
			ChecksumAlgorithm: "sha256", ChecksumValue: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		}),
		Action: models.Codependent(
			models.Run(models.RunAction{Path: "/app/server", Args: []string{"-port", "8080"}}),
			models.Try(models.Run(models.RunAction{Path: "/bin/sidecar"})),
		),
		Monitor: models.Timeout(models.Run(models.RunAction{Path: "/bin/check"}), time.Second),
		CheckDefinition: &models.CheckDefinition{
			Checks:          []models.Check{{TCPCheck: &models.TCPCheck{Port: 8080, ConnectTimeoutMs: 1000}}},
			ReadinessChecks: []models.Check{{HTTPCheck: &models.HTTPCheck{Port: 8080, Path: "/ready"}}},
		},
		StartTimeout: 60,
		MemoryMB:     128,
		DiskMB:       256,
		MaxPids:      1024,
		CPUWeight:    50,
		Ports:        []uint32{8080},
		Routes: models.Routes{
			models.CFRouterKey: json.RawMessage(`[{"hostnames":["web.example.com"],"port":8080}]`),
			"tcp-router":       json.RawMessage(`{"external_port":61000}`),
		},
		LogGuid:       "web-logs",
		Annotation:    "made by a test",
		PlacementTags: []string{"fast-disk"},
		EgressRules: []models.SecurityGroupRule{
			{Protocol: "tcp", Destinations: []string{"10.0.0.0/8"}, Ports: []uint16{443}},
			{Protocol: "all", Destinations: []string{"192.168.1.1-192.168.1.9"}},
		},
		RestartPolicy: &models.RestartPolicy{ImmediateRestarts: 1, BaseBackoffMs: 1000, MaxBackoffMs: 60000, MaxRestarts: 10, ResetAfterMs: 60000},
	}
}

func validTask() *models.Task {
	return &models.Task{
		TaskGuid: "task-1",
		Domain:   "cf-tasks",
		TaskDefinition: models.TaskDefinition{
			RootFS: "preloaded:cflinuxfs4",
			Action: models.Serial(
				models.Download(models.DownloadAction{From: "http://blobs.example.com/app.tgz", To: "/tmp/app"}),
				models.EmitProgress(models.Run(models.RunAction{Path: "/tmp/app/run"}), "starting", "done", "failed"),
				models.Upload(models.UploadAction{From: "/tmp/out", To: "https://blobs.example.com/out"}),
			),
			MemoryMB:              64,
			ResultFile:            "/tmp/result",
			CompletionCallbackURL: "http://callback.example.com:8080/done",
		},
	}
}

// fieldsOf returns the fields a validation error names.
func fieldsOf(err error) []string {
	var v models.ValidationError
	ExpectWithOffset(1, errors.As(err, &v)).To(BeTrue(), "want a ValidationError, got %v", err)
	return v.Fields()
}

// nestedTries builds a run inside try actions, depth actions in all.
func nestedTries(depth int) *models.Action {
	a := models.Run(models.RunAction{Path: "/a"})
	for i := 1; i < depth; i++ {
		a = models.Try(a)
	}
	return a
}
