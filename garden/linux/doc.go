// Package linux is garden's backend on Linux: each container is a runc
// container with its own mount, pid, uts, ipc and network namespaces (and a user
// namespace unless privileged), a cgroup under a garden-specific parent (v1 or
// v2, whichever the host runs: cgroups.go), a
// veth into the garden's bridge, and iptables chains named after the garden.
// Everything it creates is named from Config, so two gardens on one machine do
// not collide, and everything it creates it removes on Destroy or, after a
// crash, at the next start.
package linux
