package imagetest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// LoopsBackedUnder lists the loop devices whose backing file is below dir (a
// container's disk file has no name: "<dir>/#<inode> (deleted)"), for specs
// that prove a store leaves none behind.
func LoopsBackedUnder(dir string) ([]string, error) {
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var found []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // detached meanwhile
		}
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(string(data), dir+"/") {
			found = append(found, strings.TrimSpace(string(data)))
		}
	}
	return found, nil
}
