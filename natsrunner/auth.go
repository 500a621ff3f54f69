package natsrunner

import (
	"github.com/nats-io/nats-server/v2/server"

	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/natsclient"
	"github.com/diego-runtime/diego/internal/transport"
)

// ServerTLS is the server's certificate and the CA whose client certificates
// it accepts.
type ServerTLS = transport.TLS

// User is one client the server lets in: the client whose verified
// certificate names Identity (its diego:// URI SAN; see internal/certs), with
// what it may publish and subscribe to. A subject list that is empty allows
// nothing.
type User struct {
	// Identity is the certificate's URI SAN, e.g. "diego://role/rep/cell-1".
	Identity string `json:"identity"`
	// Publish and Subscribe are the subjects (wildcards allowed) it may use.
	Publish   []string `json:"publish"`
	Subscribe []string `json:"subscribe"`
	// AllowResponses lets it answer one reply per request it received, on
	// the requester's reply subject. Default false.
	AllowResponses bool `json:"allow_responses"`
}

// The subjects of Diego's NATS traffic.
const (
	routerSubjects = "router.*"
	inboxes        = "_INBOX.>" // replies to requests and JetStream API calls
)

// RoleUsers are the users of a Diego deployment: each role with only the
// subjects it needs, and one user per cell's rep.
//
//	route-emitter  publishes router.register/unregister/greet, hears router.start and replies
//	router         hears router.*, publishes router.start, answers router.greet
//	rep            publishes logs.> and metrics.>, reads (or creates) the LOGS stream's config
//	receptor       hears logs.> and metrics.>, reads the LOGS stream through JetStream, creates it if missing
//	nats           (the server's own certificate) manages JetStream: used by this runner
func RoleUsers(cells []string) []User {
	users := []User{
		{Identity: certs.Of(certs.RoleRouteEmitter).URI().String(),
			Publish:   []string{"router.register", "router.unregister", "router.greet"},
			Subscribe: []string{"router.start", inboxes}},
		{Identity: certs.Of(certs.RoleRouter).URI().String(),
			Publish:        []string{"router.start"},
			Subscribe:      []string{routerSubjects},
			AllowResponses: true},
		{Identity: certs.Of(certs.RoleReceptor).URI().String(),
			Publish: []string{
				"$JS.API.INFO",
				"$JS.API.STREAM.INFO." + LogsStream,
				"$JS.API.STREAM.CREATE." + LogsStream, // where it is missing (natsclient.EnsureLogStream)
				"$JS.API.CONSUMER.CREATE." + LogsStream + ".>",
				"$JS.API.CONSUMER.INFO." + LogsStream + ".>",
				"$JS.API.CONSUMER.DELETE." + LogsStream + ".>",
				"$JS.API.CONSUMER.MSG.NEXT." + LogsStream + ".>",
			},
			Subscribe: []string{"logs.>", "metrics.>", inboxes}},
		{Identity: certs.Of(certs.RoleNATS).URI().String(),
			Publish:   []string{"$JS.API.>"},
			Subscribe: []string{inboxes}},
	}
	for _, cell := range cells {
		users = append(users, User{Identity: certs.Rep(cell).URI().String(),
			// The LOGS stream's info and, where it is missing, its creation
			// (natsclient.EnsureLogStream), answered in the rep's own inboxes.
			Publish: []string{"logs.>", "metrics.>",
				"$JS.API.STREAM.INFO." + LogsStream, "$JS.API.STREAM.CREATE." + LogsStream},
			Subscribe: []string{natsclient.RepInboxPrefix(cell) + ".>"}})
	}
	return users
}

// serverUsers turns users into nats-server's own users and permissions.
func serverUsers(users []User) []*server.User {
	out := make([]*server.User, 0, len(users))
	for _, u := range users {
		perms := &server.Permissions{Publish: subjects(u.Publish), Subscribe: subjects(u.Subscribe)}
		if u.AllowResponses {
			perms.Response = &server.ResponsePermission{MaxMsgs: 1}
		}
		out = append(out, &server.User{Username: u.Identity, Permissions: perms})
	}
	return out
}

// subjects allows exactly list. nats-server reads an empty allow list as no
// list at all (everything allowed), so nothing allowed is written as a deny
// of every subject.
func subjects(list []string) *server.SubjectPermission {
	if len(list) == 0 {
		return &server.SubjectPermission{Deny: []string{">"}}
	}
	return &server.SubjectPermission{Allow: list}
}
