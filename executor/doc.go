// Package executor runs a cell's containers: it keeps the books of the cell's
// memory, disk and container slots, creates garden containers from LRP and task
// requests, runs their action trees with health checks, streams their logs, and
// reports each container's life as events (running, completed with a reason or a
// result) for the rep to write into the BBS.
//
// A container moves RESERVED -> INITIALIZING -> CREATED -> RUNNING -> COMPLETED.
// Resources are debited at reservation and credited back only when the container
// is deleted, so the books never promise more than the cell has.
package executor
