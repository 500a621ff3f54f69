// Package garden is the per-cell container daemon's API: the wire types, the
// typed errors, an HTTP server that serves a Backend over a unix socket, and a Go
// client for it. The linux backend that actually runs containers lives in
// garden/linux; image handling lives in garden/image.
//
// The wire protocol is documented in docs/garden.md.
package garden
