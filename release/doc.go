// Package release makes and uses Diego's release: a tarball of the daemons'
// binaries and one job per daemon, in the shape BOSH gave releases.
//
//	diego-VERSION/
//	  release.json                 name, version, jobs, sha256 of every file
//	  bin/                         every binary (static; release.json says)
//	  jobs/NAME/spec               every property: description, type, default
//	  jobs/NAME/templates/         the systemd unit and lifecycle scripts
//
// A job's spec is generated, never written by hand: the daemon binary lists
// its Config's properties and defaults (-describe, by reflection over the
// Config type), and each property's description is the doc comment of the Go
// field behind it. A field without a comment fails the build (and the
// suite), so the spec cannot fall behind the Config.
//
// The config file is the job's one config template: Render writes every
// property of the spec, nested by its dotted name, at the value a
// properties file gives it or else at its default, and Check has the
// daemon's own binary load and validate the result (-check). Install lays a
// job out on a machine (or under any root): binaries, config, certificates,
// unit and scripts.
package release
