// Package maintain keeps the BBS's etcd within its space quota: it compacts
// history to a bounded number of revisions, defragments members whose
// database is mostly free pages, and recovers from the NOSPACE alarm
// (compact everything, defragment, disarm) without a human.
//
// One BBS at a time maintains (the holder of the lock "bbs-maintenance",
// run through lock.Standby with Tenure as its active runner); every BBS
// observes the alarms and sizes for its /metrics. When etcd is already out of
// space nobody can take the lock (a lease grant is a write), so a BBS that
// sees NOSPACE while nobody holds the lock recovers on its own: compaction,
// defragmentation and disarming are all safe to repeat.
package maintain
