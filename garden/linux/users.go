package linux

import (
	"bufio"
	"bytes"

	"strconv"
	"strings"

	"github.com/diego-runtime/diego/garden"
)

// user is a resolved process identity.
type user struct {
	uid, gid uint32
	home     string
}

// resolveUser turns "name", "uid" or "uid:gid" into ids, reading the image's
// /etc/passwd (passwd is its contents, possibly nil) for names and homes.
func resolveUser(spec string, passwd []byte) (user, error) {
	if spec == "" {
		spec = "root"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	entries := parsePasswd(passwd)
	var u user
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		u = user{uid: uint32(id), gid: uint32(id), home: "/"}
		for _, e := range entries {
			if e.uid == u.uid {
				u.gid, u.home = e.gid, e.home
				break
			}
		}
	} else {
		found := false
		for _, e := range entries {
			if e.name == name {
				u, found = user{uid: e.uid, gid: e.gid, home: e.home}, true
				break
			}
		}
		if !found {
			if name != "root" {
				return user{}, garden.NewInvalidSpecError("user %q is not in the image's /etc/passwd", name)
			}
			u = user{home: "/root"}
		}
	}
	if hasGroup {
		gid, err := strconv.ParseUint(group, 10, 32)
		if err != nil {
			return user{}, garden.NewInvalidSpecError("group %q must be numeric", group)
		}
		u.gid = uint32(gid)
	}
	if u.home == "" {
		u.home = "/"
	}
	return u, nil
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

func parsePasswd(b []byte) []passwdEntry {
	var out []passwdEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 6 {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5]})
	}
	return out
}

// mergeEnv appends layers of KEY=VALUE, later layers overriding earlier ones
// while keeping first-seen order.
func mergeEnv(layers ...[]string) []string {
	idx := map[string]int{}
	var out []string
	for _, layer := range layers {
		for _, kv := range layer {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}
