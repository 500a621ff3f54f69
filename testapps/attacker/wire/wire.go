// Package wire holds the attacker's request and answer shapes, shared by
// the attacker (testapps/attacker) and the suite that drives it (e2e/attack).
package wire

import (
	"fmt"
	"strings"
)

// Attack is one attempt.
type Attack struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Target  string `json:"target"`
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body,omitempty"`
}

// Result is what one attempt achieved: whether the connection was made and
// whether the attack got what it wanted.
type Result struct {
	Attack
	Reached   bool   `json:"reached"`
	Succeeded bool   `json:"succeeded"`
	Detail    string `json:"detail"`
}

// Summary is what a task's result file holds: small enough for a task's
// 10 KB result however many attacks ran, yet with an outcome per attack.
type Summary struct {
	Tried   int      `json:"tried"`
	Through []Result `json:"through"` // the results that reached their target
	// Reasons are the distinct reasons attempts failed, each cut to its last
	// clause (a dial error without its addresses, which would make every
	// reason distinct). Outcomes has one byte per attack, in order: the
	// code of its reason (reasonCodes[i] for Reasons[i]) or throughCode.
	Reasons  []string `json:"reasons"`
	Outcomes string   `json:"outcomes"`
}

const (
	reasonCodes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	throughCode = '!'
	// otherCode stands for every reason past the last of reasonCodes.
	otherCode = '?'
	maxReason = 80
)

// Summarize shortens results to a Summary.
func Summarize(results []Result) Summary {
	s := Summary{Tried: len(results), Through: []Result{}, Reasons: []string{}}
	codes := map[string]byte{}
	out := make([]byte, 0, len(results))
	for _, r := range results {
		if r.Reached || r.Succeeded {
			s.Through = append(s.Through, r)
			out = append(out, throughCode)
			continue
		}
		reason := shortReason(r.Detail)
		code, ok := codes[reason]
		switch {
		case ok:
		case len(s.Reasons) < len(reasonCodes):
			code = reasonCodes[len(s.Reasons)]
			codes[reason] = code
			s.Reasons = append(s.Reasons, reason)
		default:
			code = otherCode
		}
		out = append(out, code)
	}
	s.Outcomes = string(out)
	return s
}

// Outcome says what attack i of a summary achieved, in words.
func (s Summary) Outcome(i int) string {
	if i >= len(s.Outcomes) {
		return "no outcome in the summary"
	}
	switch s.Outcomes[i] {
	case throughCode:
		return "GOT THROUGH (see the summary's through list)"
	case otherCode:
		return "refused: (one of more reasons than a summary names)"
	}
	if k := strings.IndexByte(reasonCodes, s.Outcomes[i]); k >= 0 && k < len(s.Reasons) {
		return "refused: " + s.Reasons[k]
	}
	return fmt.Sprintf("unknown outcome code %q", s.Outcomes[i])
}

// shortReason keeps an error's last clause ("dial tcp 10.0.0.1:80: connect:
// connection refused" is "connection refused"), at most maxReason bytes.
func shortReason(detail string) string {
	if i := strings.LastIndex(detail, ": "); i >= 0 {
		detail = detail[i+2:]
	}
	if len(detail) > maxReason {
		detail = detail[:maxReason]
	}
	return detail
}
