// Package bbs is the BBS's store: every LRP, task, cell and domain record lives in
// etcd under /diego/v1/ (the layout is in keys.go and docs/bbs.md), and *DB is the
// only code that reads and writes them. DB enforces the state machines of
// DESIGN 6 with compare-and-swap transactions on etcd mod revisions, asks the
// auctioneer to place new work, asks reps to stop instances and cancel tasks, and
// turns an etcd watch into the event stream. bbs/server serves DB over HTTP and
// bbs/client is its remote twin; both implement client.API.
package bbs
