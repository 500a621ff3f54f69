// Package messages defines the NATS messages that feed HTTP routers: the
// router.register / router.unregister payload that Cloud Foundry's gorouter
// reads, and the router.start / router.greet handshake payload.
//
// The types carry no behaviour beyond validation and key helpers, so that a
// publisher (the route emitter) and a consumer (routing/router, or a real
// gorouter) agree on one wire shape. The package does no I/O.
package messages
