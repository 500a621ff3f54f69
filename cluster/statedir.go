package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/diego-runtime/diego/garden/reach"
)

// prepareStateDir lays out the state dir so that every cell's containers can
// reach their garden's directories: runc mounts a container's rootfs as the
// container's root, an unprivileged host uid (in the cell's container ranges), so
// every directory from / down to a cell's garden must let that uid search it.
//
// What diego up creates (the state dir if it is missing, cells/, each
// cells/cell-N) it makes 0755. What was there before (the state dir's
// parents, a state dir the user made) it does not change: if one of those
// keeps the containers out, it refuses to start, naming the directory and
// the chmod that fixes it. Garden checks again at its own start.
func prepareStateDir(cfg Config) error {
	ids := make([]reach.Identity, cfg.Cells)
	for i := range ids {
		// The root of the cell's first container range: the base range
		// (UIDMapStart) owns only image layers; no range owns anything on
		// the way, so what one may search all may.
		start := cfg.CellLayout(i).UIDMapStart + 65536
		ids[i] = reach.Identity{UID: start, GID: start}
	}
	// check refuses a blocked directory; below the state dir only if
	// !ownsBelow (those are ours, and opened further down).
	check := func(ownsBelow bool) error {
		for i := 0; i < cfg.Cells; i++ {
			err := reach.Check(filepath.Join(cfg.CellLayout(i).StateDir, "garden"), ids[i])
			var blocked *reach.BlockedError
			if ownsBelow && errors.As(err, &blocked) && strings.HasPrefix(blocked.Dir, filepath.Clean(cfg.StateDir)+"/") {
				continue
			}
			if err != nil {
				return fmt.Errorf("%w, or choose a --state-dir under directories others may search (such as /var/lib/diego)", err)
			}
		}
		return nil
	}
	// Before creating anything (only what already exists is walked), so
	// that a refusal leaves nothing behind.
	if err := check(true); err != nil {
		return err
	}
	if err := reach.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return err
	}
	ours := []string{filepath.Join(cfg.StateDir, "cells")}
	for i := 0; i < cfg.Cells; i++ {
		ours = append(ours, cfg.CellLayout(i).StateDir)
	}
	for _, dir := range ours {
		if err := reach.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		// A run under another umask (or an older diego) may have made it
		// closed; it is ours, so open it rather than refuse.
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("opening %s to the containers: %w", dir, err)
		}
	}
	return check(false)
}
