package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
)

// applySettings writes each "DAEMON.FIELD=JSON" of settings into the
// daemon's config, creating the nested objects a dotted FIELD goes through.
func applySettings(docs map[string]doc, settings []string) error {
	for _, s := range settings {
		path, raw, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("setting %q: want DAEMON.FIELD=JSON", s)
		}
		name, field, ok := cutDaemon(docs, path)
		if !ok {
			return fmt.Errorf("setting %q: no daemon config named by its start", s)
		}
		var value any
		if err := json.Unmarshal([]byte(raw), &value); err != nil {
			return fmt.Errorf("setting %q: the value is not JSON: %w", s, err)
		}
		d := docs[name]
		keys := strings.Split(field, ".")
		for _, k := range keys[:len(keys)-1] {
			next, ok := d[k].(doc)
			if !ok {
				if d[k] != nil {
					return fmt.Errorf("setting %q: %s is not an object", s, k)
				}
				next = doc{}
				d[k] = next
			}
			d = next
		}
		d[keys[len(keys)-1]] = value
	}
	return nil
}

// cutDaemon splits "DAEMON.FIELD" at the dot that ends a daemon's name
// (names hold no dots, so the first dot).
func cutDaemon(docs map[string]doc, path string) (name, field string, ok bool) {
	name, field, ok = strings.Cut(path, ".")
	if !ok || field == "" {
		return "", "", false
	}
	_, ok = docs[name]
	return name, field, ok
}
