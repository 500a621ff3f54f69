package models_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/diego-runtime/diego/models"
)

// The fuzzers share one property: decoding and validating never panic, a
// refusal is a typed 400, and whatever is accepted re-encodes into something
// that is accepted again and encodes to the same bytes. `go test` runs the
// seeds; `make fuzz` explores.

func mustJSON(f *testing.F, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// checkRefusal fails unless err is one of the wire errors allowed.
func checkRefusal(t *testing.T, err error, allowed ...*models.Error) {
	t.Helper()
	for _, a := range allowed {
		if errors.Is(err, a) {
			if models.AsError(err).Status != 400 {
				t.Fatalf("refusal %v is not a 400", err)
			}
			return
		}
	}
	t.Fatalf("unexpected refusal %T %v", err, err)
}

var garbageSeeds = []string{
	``, `null`, `{}`, `[]`, `"x"`, `7`, `{"`, `{"action":{}}`, `{"action":{"run":{"path":"/a"},"try":{}}}`,
	`{"action":{"serial":{"actions":[null]}}}`, `{"action":{"timeout":{"timeout":-1,"action":null}}}`,
	`{"instances":-1}`, `{"instances":1e99}`, `{"routes":{"cf-router":"x"}}`, `{"rootfs":"docker:///"}`,
	"{\"annotation\":\"\xff\xfe\"}", `{"ports":[0,65536]}`, `{"egress_rules":[{"protocol":"all"}]}`,
}

func FuzzDecodeDesiredLRP(f *testing.F) {
	f.Add(mustJSON(f, validDesiredLRP()))
	smallest := &models.DesiredLRP{ProcessGuid: "p", Domain: "d", RootFS: "preloaded:x", Action: models.Run(models.RunAction{Path: "/a"})}
	f.Add(mustJSON(f, smallest))
	bad := validDesiredLRP()
	bad.Action.Codependent.Actions[1] = &models.Action{}
	f.Add(mustJSON(f, bad))
	for _, s := range garbageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := models.DecodeDesiredLRP(data)
		if err != nil {
			checkRefusal(t, err, models.ErrInvalidJSON, models.ErrInvalidLRP)
			return
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("a valid desired LRP does not encode: %v", err)
		}
		again, err := models.DecodeDesiredLRP(b)
		if err != nil {
			t.Fatalf("a valid desired LRP re-encoded as %s is refused: %v", b, err)
		}
		if b2, _ := json.Marshal(again); !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", b, b2)
		}
	})
}

func FuzzDecodeTask(f *testing.F) {
	f.Add(mustJSON(f, validTask()))
	bad := validTask()
	bad.CompletionCallbackURL = "::"
	f.Add(mustJSON(f, bad))
	f.Add([]byte(`{"task_guid":"t","domain":"d","rootfs":"oci:///x#y","action":{"upload":{"from":"/a","to":"http://h"}},"result_file":"rel"}`))
	for _, s := range garbageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := models.DecodeTask(data)
		if err != nil {
			checkRefusal(t, err, models.ErrInvalidJSON, models.ErrInvalidTask)
			return
		}
		if err := task.Validate(); err != nil {
			t.Fatalf("DecodeTask accepted a task that Validate refuses: %v", err)
		}
		b, err := json.Marshal(task)
		if err != nil {
			t.Fatalf("a valid task does not encode: %v", err)
		}
		again, err := models.DecodeTask(b)
		if err != nil {
			t.Fatalf("a valid task re-encoded as %s is refused: %v", b, err)
		}
		if b2, _ := json.Marshal(again); !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", b, b2)
		}
	})
}

func FuzzDecodeAction(f *testing.F) {
	f.Add(mustJSON(f, validDesiredLRP().Action))
	f.Add(mustJSON(f, validDesiredLRP().Setup))
	f.Add(mustJSON(f, validTask().Action))
	f.Add(mustJSON(f, validDesiredLRP().Monitor))
	for _, s := range []string{
		`{"run":{"path":"/a"},"try":{"action":{"run":{"path":"/b"}}}}`, `{"exec":{}}`, `{"run":null}`,
		`{"parallel":{"actions":[]}}`, `{"emit_progress":{"action":{"download":{"from":"http://h","to":"/x","checksum_algorithm":"md5"}}}}`,
		`{"try":{"action":{"try":{"action":{"try":{"action":{}}}}}}}`, `{"run":{"path":"/a","resource_limits":{"nofile":-1}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a models.Action
		if err := models.DecodeJSON(data, &a); err != nil {
			checkRefusal(t, err, models.ErrInvalidJSON)
			return
		}
		if a.Validate() != nil {
			return
		}
		if a.Kind() == "" {
			t.Fatalf("validation passed an action without exactly one kind from %q", data)
		}
		b, err := json.Marshal(&a)
		if err != nil {
			t.Fatalf("a valid action does not encode: %v", err)
		}
		var again models.Action
		if err := models.DecodeJSON(b, &again); err != nil {
			t.Fatalf("a valid action re-encoded as %s does not decode: %v", b, err)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("a valid action re-encoded as %s is refused: %v", b, err)
		}
	})
}

func FuzzDecodeDesiredLRPUpdate(f *testing.F) {
	for _, s := range []string{
		`{"instances":3}`, `{"instances":3,"routes":{"cf-router":[{"hostnames":["a"],"port":80}]},"annotation":"x"}`,
		`{"instances":-1}`, `{"rootfs":"docker:///x"}`, `{"routes":{"cf-router":{}}}`, `{"annotation":7}`, `{}`, `[]`, `null`,
		`{"instances":1,"instances":2}`, `{"Instances":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := models.DecodeDesiredLRPUpdate(data)
		if err != nil {
			checkRefusal(t, err, models.ErrInvalidJSON, models.ErrInvalidRequest, models.ErrInvalidLRP)
			return
		}
		b, err := json.Marshal(u)
		if err != nil {
			t.Fatalf("a valid update does not encode: %v", err)
		}
		if _, err := models.DecodeDesiredLRPUpdate(b); err != nil {
			t.Fatalf("a valid update re-encoded as %s is refused: %v", b, err)
		}
		// Applying a valid update to a valid LRP keeps it valid.
		d := u.Apply(*validDesiredLRP())
		if err := d.Validate(); err != nil {
			t.Fatalf("applying %s made a valid LRP invalid: %v", b, err)
		}
	})
}

func FuzzParseRootFS(f *testing.F) {
	for _, s := range []string{
		"docker:///library/nginx#1.27", "docker://registry:5000/a/b#c", "oci:///x/y#z", "docker-archive:///x.tar",
		"preloaded:cflinuxfs4", "http://x", "", "docker://", "docker:///A", "oci:x", "preloaded:///x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		r, err := models.ParseRootFS(uri)
		if err != nil {
			return
		}
		if r.Path == "" {
			t.Fatalf("%q parsed without a path: %+v", uri, r)
		}
		if !(models.RootFSProviders{"docker": nil, "preloaded": {r.Path}}).Supports(uri) {
			t.Fatalf("%q parsed but no cell supports it", uri)
		}
	})
}
