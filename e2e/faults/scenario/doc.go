// Package scenario holds the fault-injection scenarios of issue 19: each
// starts a whole cluster (e2e/world, real etcd, NATS, runc containers,
// router), breaks one part of the control plane the way an outage would,
// and measures what users and their instances saw. The specs in e2e/faults
// assert on the outcomes; the benchmark in bench/faults_test.go records
// them through internal/benchreport. Neither repeats a scenario's steps.
//
// A scenario returns an error only when it could not be carried out (the
// cluster did not start, the fault did not take hold); what the fault did
// to the system is in its result, for the caller to judge.
package scenario
