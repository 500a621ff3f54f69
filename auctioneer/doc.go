// Package auctioneer places LRP indices and tasks on cells (DESIGN 7.1).
//
// The work is split into a pure core and the I/O around it:
//   - Scheduler.Schedule is a function from (batch, cell states) to (work per
//     cell, failures, deferred items). It runs the pipeline: order the batch,
//     filter cells for feasibility (recording why each was rejected), score the
//     feasible ones, choose zones before cells, and debit the winner in memory.
//   - Auctioneer.RunAuction fetches cell states over the rep API, calls the
//     scheduler, hands each cell one POST /work and reports what failed to the BBS.
//   - Runner batches start requests from the HTTP handlers and runs auctions as
//     long as there is work.
//
// New wires the whole daemon (lock first, then the server and the runner) so
// that cmd/auctioneer and in-process clusters run the same code.
package auctioneer
