// Package certs makes and reads the certificates of a Diego deployment: one
// certificate authority and, per daemon role, a certificate that names the role
// it was issued to. `diego up` keeps a set under its state dir and `diego certs`
// writes the same set for a real deployment; internal/transport reads a
// caller's role back from its verified client certificate.
//
// # How a certificate names its role
//
// Every leaf certificate carries exactly one URI SAN of the form
//
//	diego://role/<role>            bbs, auctioneer, converger, route-emitter,
//	                               receptor, router, etcd, nats
//	diego://role/rep/<cell-id>     the rep of one cell
//
// and, for people reading it with openssl, the same role in the Subject's
// OrganizationalUnit (the cell id in its CommonName for a rep). Only the URI
// SAN counts: a server decides what a caller may do from Identity, which is
// parsed from the URI of a chain it has verified against its CA.
//
// Leaf certificates are good for both server and client authentication (one
// daemon both serves and calls), carry the hosts they were made for as IP and
// DNS SANs, and use ECDSA P-256 keys. Keys are written 0600.
package certs
