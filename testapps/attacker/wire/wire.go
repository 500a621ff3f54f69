// Package wire holds the attacker's request and answer shapes, shared by
// the attacker (testapps/attacker) and the suite that drives it (e2e/attack).
package wire

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
// 10 KB result however many attacks ran.
type Summary struct {
	Tried   int      `json:"tried"`
	Through []Result `json:"through"` // the results that reached their target
}
