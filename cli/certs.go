package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/diego-runtime/diego/internal/certs"
)

// newCertsCommand writes a deployment's CA and one certificate per daemon
// role, the same set `diego up` keeps under its state dir.
func newCertsCommand() *cobra.Command {
	var dir string
	var roles, cells, hosts, hostsOf []string
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Write a CA and a certificate per daemon role (and per cell's rep) for mutual TLS",
		Long: `Write a CA and a certificate per daemon role into a directory: ca.crt and
ca.key, and ROLE.crt and ROLE.key for each role (rep-CELL.crt and rep-CELL.key
for the rep of each cell). Each certificate names its role in a URI SAN
(diego://role/ROLE, diego://role/rep/CELL) and is valid for the given hosts.
--host NAME=HOST adds the addresses of the machines one certificate's daemon
runs on (--host bbs=10.0.1.10,10.0.1.11 --host rep-cell-1=10.0.2.10). Keys
are written 0600. Run it again to add roles, cells or hosts: the CA and the
certificates that still fit are kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ids []certs.Identity
			for _, r := range roles {
				if r == certs.RoleRep {
					return fmt.Errorf("--roles: a rep's certificate names its cell: use --cells")
				}
				if !slices.Contains(certs.Roles, r) {
					return fmt.Errorf("--roles: unknown role %q (roles: %v)", r, certs.Roles)
				}
				ids = append(ids, certs.Of(r))
			}
			for _, c := range cells {
				ids = append(ids, certs.Rep(c))
			}
			if len(ids) == 0 {
				return fmt.Errorf("nothing to write: give --roles or --cells")
			}
			of, err := parseHostsOf(hostsOf, ids)
			if err != nil {
				return err
			}
			if _, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids, Hosts: hosts, HostsOf: of}); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "CA: %s\n", certs.FilesIn(dir, ids[0]).CACert)
			for _, id := range ids {
				f := certs.FilesIn(dir, id)
				fmt.Fprintf(out, "%-16s %s  %s\n", id.String()+":", f.Cert, f.Key)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "diego-certs", "directory to write into (made 0700)")
	f.StringSliceVar(&roles, "roles", certs.Roles, "roles to write a certificate for")
	f.StringSliceVar(&cells, "cells", nil, "cell ids to write a rep certificate for")
	f.StringSliceVar(&hosts, "hosts", certs.DefaultHosts, "IP addresses and DNS names every certificate is valid for")
	f.StringArrayVar(&hostsOf, "host", nil, "NAME=HOST[,HOST]: more addresses for one certificate (bbs, rep-CELL, ...), the machines it runs on; repeatable")
	return cmd
}

// parseHostsOf reads --host NAME=HOST[,HOST] flags; NAME must be one of ids.
func parseHostsOf(flags []string, ids []certs.Identity) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range flags {
		name, list, ok := strings.Cut(f, "=")
		if !ok || name == "" || list == "" {
			return nil, fmt.Errorf("--host %q: want NAME=HOST[,HOST]", f)
		}
		if !slices.ContainsFunc(ids, func(id certs.Identity) bool { return id.Name() == name }) {
			return nil, fmt.Errorf("--host %q: no certificate %q is being written (see --roles and --cells)", f, name)
		}
		out[name] = append(out[name], strings.Split(list, ",")...)
	}
	return out, nil
}
