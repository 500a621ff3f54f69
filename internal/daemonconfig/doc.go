// Package daemonconfig holds the config file of every daemon as a typed Go
// struct: its fields (JSON names, doc comments with defaults), DefaultX()
// and Validate(), which reports every problem at once. cmd/NAME loads its
// file into one of these through internal/config; `diego up` (cluster)
// builds them to write its daemons' files; the release describes them into
// its jobs' specs. The rep's is rep.Config.
package daemonconfig
