// Package natsclient is how a daemon reaches NATS: Connect gives a connection
// to a list of servers (a cluster's members) that rides the loss of any of
// them, reconnecting for ever and logging each disconnect and reconnect; and
// LogStream makes sure the JetStream stream that keeps log lines exists with
// a config the daemon can use, creating it where it is missing, so that a
// real NATS cluster needs nothing done by hand.
package natsclient
