// Package bench holds the whole-system benchmarks that `make bench` runs: a
// real cluster (package cluster, every daemon a child process) scaled from 1
// to 300 instances against the raw runc floor, cells killed or cut off under
// load, and control-plane faults (an etcd member, the singleton daemons, the
// BBS). Each figure goes through internal/benchreport beside its target.
package bench
