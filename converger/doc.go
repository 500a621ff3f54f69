// Package converger reconciles desired against actual state (DESIGN 7.2): it
// creates missing LRP indices, re-auctions stale UNCLAIMED ones, restarts crashed
// ones past their backoff, marks instances on vanished cells SUSPECT (and settles
// those suspects later), retires extras of fresh domains, and fails, re-auctions,
// reverts or deletes tasks that are stuck.
//
// The package is split the way STYLE practice 5 asks: Compute is a pure function
// from a Snapshot of the BBS to a Result (what to do); Converger is the ifrit
// runner that fetches the snapshot through the BBS, calls Compute, applies the
// Result through the BBS with a bounded worker pool, and reports each pass as
// Prometheus metrics and one log line. It runs every interval and at once when a
// cell's presence key disappears from etcd (a read-only watch: see CellWatch).
//
// Only one converger should be active; cmd/converger puts a lock.Runner in front.
package converger
