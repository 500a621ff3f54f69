package models

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Action kinds: the one key of an action's JSON object.
const (
	ActionKindRun          = "run"
	ActionKindDownload     = "download"
	ActionKindUpload       = "upload"
	ActionKindEmitProgress = "emit_progress"
	ActionKindTimeout      = "timeout"
	ActionKindTry          = "try"
	ActionKindParallel     = "parallel"
	ActionKindSerial       = "serial"
	ActionKindCodependent  = "codependent"
)

// MaxActionDepth is how deeply actions may nest (a run inside a try inside a
// serial is depth 3); deeper trees are refused rather than walked.
const MaxActionDepth = 32

// Checksum algorithms a download may name.
const (
	ChecksumMD5    = "md5"
	ChecksumSHA1   = "sha1"
	ChecksumSHA256 = "sha256"
)

// checksumHexLen is how many hex digits a checksum of alg has.
func checksumHexLen(alg string) (int, bool) {
	switch alg {
	case ChecksumMD5:
		return 32, true
	case ChecksumSHA1:
		return 40, true
	case ChecksumSHA256:
		return 64, true
	}
	return 0, false
}

// kinds lists the kinds that are set, in wire-name order of the struct.
func (a *Action) kinds() []string {
	var out []string
	if a.Run != nil {
		out = append(out, ActionKindRun)
	}
	if a.Download != nil {
		out = append(out, ActionKindDownload)
	}
	if a.Upload != nil {
		out = append(out, ActionKindUpload)
	}
	if a.EmitProgress != nil {
		out = append(out, ActionKindEmitProgress)
	}
	if a.Timeout != nil {
		out = append(out, ActionKindTimeout)
	}
	if a.Try != nil {
		out = append(out, ActionKindTry)
	}
	if a.Parallel != nil {
		out = append(out, ActionKindParallel)
	}
	if a.Serial != nil {
		out = append(out, ActionKindSerial)
	}
	if a.Codependent != nil {
		out = append(out, ActionKindCodependent)
	}
	return out
}

// Kind names the one kind that is set ("run", "serial", ...), or "" when the
// action is nil or does not have exactly one kind.
func (a *Action) Kind() string {
	if a == nil {
		return ""
	}
	if k := a.kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

// Inner returns the one value that is set (*RunAction, *SerialAction, ...), or
// nil when the action is nil or does not have exactly one kind.
func (a *Action) Inner() any {
	switch a.Kind() {
	case ActionKindRun:
		return a.Run
	case ActionKindDownload:
		return a.Download
	case ActionKindUpload:
		return a.Upload
	case ActionKindEmitProgress:
		return a.EmitProgress
	case ActionKindTimeout:
		return a.Timeout
	case ActionKindTry:
		return a.Try
	case ActionKindParallel:
		return a.Parallel
	case ActionKindSerial:
		return a.Serial
	case ActionKindCodependent:
		return a.Codependent
	}
	return nil
}

// Children returns the actions directly inside this one (none for run,
// download and upload).
func (a *Action) Children() []*Action {
	switch a.Kind() {
	case ActionKindEmitProgress:
		return []*Action{a.EmitProgress.Action}
	case ActionKindTimeout:
		return []*Action{a.Timeout.Action}
	case ActionKindTry:
		return []*Action{a.Try.Action}
	case ActionKindParallel:
		return a.Parallel.Actions
	case ActionKindSerial:
		return a.Serial.Actions
	case ActionKindCodependent:
		return a.Codependent.Actions
	}
	return nil
}

// Run wraps a run action.
func Run(r RunAction) *Action { return &Action{Run: &r} }

// Download wraps a download action.
func Download(d DownloadAction) *Action { return &Action{Download: &d} }

// Upload wraps an upload action.
func Upload(u UploadAction) *Action { return &Action{Upload: &u} }

// Serial runs actions in order, stopping at the first failure.
func Serial(actions ...*Action) *Action {
	return &Action{Serial: &SerialAction{Actions: actions}}
}

// Parallel runs actions at once and fails if any failed.
func Parallel(actions ...*Action) *Action {
	return &Action{Parallel: &ParallelAction{Actions: actions}}
}

// Codependent runs actions at once; when any exits the rest are cancelled.
func Codependent(actions ...*Action) *Action {
	return &Action{Codependent: &CodependentAction{Actions: actions}}
}

// Try runs a and swallows its failure.
func Try(a *Action) *Action { return &Action{Try: &TryAction{Action: a}} }

// Timeout fails a if it has not finished after d.
func Timeout(a *Action, d time.Duration) *Action {
	return &Action{Timeout: &TimeoutAction{Action: a, Timeout: int64(d)}}
}

// EmitProgress logs the messages around a; empty messages are not logged.
func EmitProgress(a *Action, start, success, failurePrefix string) *Action {
	return &Action{EmitProgress: &EmitProgressAction{
		Action: a, StartMessage: start, SuccessMessage: success, FailureMessagePrefix: failurePrefix,
	}}
}

// UnmarshalJSON decodes an action node. A node that is not an object, or a
// kind whose body has a wrong-typed or unknown field, is a decoding error
// (InvalidJSON). A node of the right type but the wrong shape (no key, several
// keys, an unknown kind, a null body) decodes into an action that remembers
// why, so that validation names it by its path in the record (InvalidLRP,
// InvalidTask), as the 2015 receptor answered.
func (a *Action) UnmarshalJSON(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	if fields == nil {
		*a = Action{malformed: "must be an object, not null"}
		return nil
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 1 {
		*a = Action{malformed: fmt.Sprintf("must have exactly one key naming the action kind, got %d (%s)", len(keys), strings.Join(keys, ", "))}
		return nil
	}
	kind, raw := keys[0], fields[keys[0]]
	var out Action
	target := out.newKind(kind)
	if target == nil {
		*a = Action{malformed: fmt.Sprintf("unknown action kind %q", kind)}
		return nil
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		*a = Action{malformed: fmt.Sprintf("%s must be an object, not null", kind)}
		return nil
	}
	// A custom unmarshaller does not inherit the outer decoder's
	// DisallowUnknownFields, so an action refuses unknown fields itself.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		// Worded here: encoding/json would name the field relative to this
		// node only, and the outer decoder passes the error on as it is.
		return fmt.Errorf("%s action: %s", kind, describeJSONError(err))
	}
	*a = out
	return nil
}

// newKind sets the field of kind to a fresh value and returns it, or returns
// nil for an unknown kind.
func (a *Action) newKind(kind string) any {
	switch kind {
	case ActionKindRun:
		a.Run = &RunAction{}
		return a.Run
	case ActionKindDownload:
		a.Download = &DownloadAction{}
		return a.Download
	case ActionKindUpload:
		a.Upload = &UploadAction{}
		return a.Upload
	case ActionKindEmitProgress:
		a.EmitProgress = &EmitProgressAction{}
		return a.EmitProgress
	case ActionKindTimeout:
		a.Timeout = &TimeoutAction{}
		return a.Timeout
	case ActionKindTry:
		a.Try = &TryAction{}
		return a.Try
	case ActionKindParallel:
		a.Parallel = &ParallelAction{}
		return a.Parallel
	case ActionKindSerial:
		a.Serial = &SerialAction{}
		return a.Serial
	case ActionKindCodependent:
		a.Codependent = &CodependentAction{}
		return a.Codependent
	}
	return nil
}

// Validate checks an action tree on its own; fields are named relative to it
// ("serial.actions[1].run.path"). A nil action is reported as "action".
func (a *Action) Validate() error {
	var v validator
	if a == nil {
		v.add("action", "is required")
	} else {
		v.action("", a, 1)
	}
	return v.result()
}

// requiredAction checks a field that must hold an action at depth.
func (v *validator) requiredAction(field string, a *Action, depth int) {
	if a == nil {
		v.add(field, "is required")
		return
	}
	v.action(field, a, depth)
}

// action checks a non-nil action whose path is prefix and which sits depth
// actions deep (1 for a top-level action).
func (v *validator) action(prefix string, a *Action, depth int) {
	if depth > MaxActionDepth {
		v.add(prefix, "nests actions deeper than %d", MaxActionDepth)
		return
	}
	field := prefix
	if field == "" {
		field = "action"
	}
	if a.malformed != "" {
		v.add(field, "%s", a.malformed)
		return
	}
	kinds := a.kinds()
	if len(kinds) != 1 {
		if len(kinds) == 0 {
			v.add(field, "must have exactly one action kind, got none")
		} else {
			v.add(field, "must have exactly one action kind, got %s", strings.Join(kinds, ", "))
		}
		return
	}
	p := join(prefix, kinds[0])
	switch kinds[0] {
	case ActionKindRun:
		v.runAction(p, a.Run)
	case ActionKindDownload:
		v.downloadAction(p, a.Download)
	case ActionKindUpload:
		if a.Upload.From == "" {
			v.add(join(p, "from"), "is required")
		}
		if a.Upload.To == "" {
			v.add(join(p, "to"), "is required")
		} else {
			v.httpURL(join(p, "to"), a.Upload.To)
		}
	case ActionKindEmitProgress:
		v.requiredAction(join(p, "action"), a.EmitProgress.Action, depth+1)
	case ActionKindTimeout:
		if a.Timeout.Timeout <= 0 {
			v.add(join(p, "timeout"), "must be positive (nanoseconds)")
		}
		v.requiredAction(join(p, "action"), a.Timeout.Action, depth+1)
	case ActionKindTry:
		v.requiredAction(join(p, "action"), a.Try.Action, depth+1)
	case ActionKindParallel:
		v.actionList(join(p, "actions"), a.Parallel.Actions, depth+1)
	case ActionKindSerial:
		v.actionList(join(p, "actions"), a.Serial.Actions, depth+1)
	case ActionKindCodependent:
		v.actionList(join(p, "actions"), a.Codependent.Actions, depth+1)
	}
}

func (v *validator) actionList(field string, actions []*Action, depth int) {
	if len(actions) == 0 {
		v.add(field, "must not be empty")
	}
	for i, a := range actions {
		v.requiredAction(at(field, i), a, depth)
	}
}

func (v *validator) runAction(p string, r *RunAction) {
	if r.Path == "" {
		v.add(join(p, "path"), "is required")
	}
	v.env(join(p, "env"), r.Env)
}

func (v *validator) downloadAction(p string, d *DownloadAction) {
	if d.From == "" {
		v.add(join(p, "from"), "is required")
	} else {
		v.httpURL(join(p, "from"), d.From)
	}
	if d.To == "" {
		v.add(join(p, "to"), "is required")
	}
	alg, value := d.ChecksumAlgorithm, d.ChecksumValue
	n, known := checksumHexLen(alg)
	if alg != "" && !known {
		v.add(join(p, "checksum_algorithm"), "must be one of md5, sha1, sha256")
	}
	if alg != "" && value == "" {
		v.add(join(p, "checksum_value"), "is required with checksum_algorithm")
	}
	if alg == "" && value != "" {
		v.add(join(p, "checksum_algorithm"), "is required with checksum_value")
	}
	if known && value != "" {
		if _, err := hex.DecodeString(value); err != nil || len(value) != n {
			v.add(join(p, "checksum_value"), "must be %d hex digits for %s", n, alg)
		}
	}
}
