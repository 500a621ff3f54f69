// Package models holds Diego's records (desired and actual LRPs, tasks, cells,
// domains, actions, events), the rules that make them valid, and the state
// machines they move through. It does no I/O: every other component shares these
// types, and the BBS is the only one that stores them.
package models
