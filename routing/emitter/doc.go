// Package emitter keeps a routing table from the BBS (a full sync every minute
// plus the event stream) and publishes its differences on NATS in the form
// Cloud Foundry's gorouter reads: one router.register or router.unregister per
// hostname and endpoint. It re-publishes every registration on the routers'
// interval, answers router.start, and greets on start.
//
// The table is pure: its mutators return the messages to publish, so the rules
// (modification tags, evacuating and suspect copies, shared endpoints) are
// tested without NATS.
package emitter
