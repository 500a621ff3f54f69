// Package router is an HTTP reverse proxy fed only by the NATS messages of
// routing/messages, so that it can stand in for Cloud Foundry's gorouter (and
// a real gorouter can stand in for it).
//
// It owns: the route table (hostname -> endpoints, pruned when not refreshed),
// endpoint selection (round robin, skipping endpoints that recently failed),
// a retrying transport (another endpoint when a connection could not be made,
// or when it broke before the response was handed on; a retry goes to the
// endpoint that answered last rather than the next in turn), request hygiene (X-Forwarded-*,
// X-Request-Id, refusing ambiguous framing), an access log and metrics.
//
// Lock order: Table.mu before Pool.mu; nothing holds a Pool's lock while
// taking the Table's.
package router
