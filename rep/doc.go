// Package rep is a cell's representative: it keeps the cell's presence alive in
// the BBS, answers the auctioneer's GET /state and POST /work, turns the
// executor's container events into BBS transitions, harmonises containers with
// BBS records, and drains the cell on POST /evacuate.
//
// The wire API lives in rep/repapi so the auctioneer and the BBS need none of
// the rep's internals.
package rep
