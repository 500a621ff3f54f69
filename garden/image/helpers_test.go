package image_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	. "github.com/onsi/gomega"
)

// mountsUnder lists mount points at or below dir, from /proc/self/mountinfo.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var found []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			found = append(found, fields[4])
		}
	}
	return found
}

// overlayOptions returns the super options of the overlay mounted at target.
func overlayOptions(target string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && fields[4] == target {
			return fields[len(fields)-1]
		}
	}
	return ""
}

// layerDirs lists the cached image layers (not temporary or special entries).
func layerDirs(storeDir string) []string {
	entries, err := os.ReadDir(filepath.Join(storeDir, "layers"))
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, e := range entries {
		if e.Name() != "empty" {
			names = append(names, e.Name())
		}
	}
	return names
}

func owner(path string) (uint32, uint32) {
	var st syscall.Stat_t
	ExpectWithOffset(1, syscall.Lstat(path, &st)).To(Succeed())
	return st.Uid, st.Gid
}

func readFile(path string) string {
	data, err := os.ReadFile(path)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return string(data)
}

func syscallMountTmpfs(target string) error {
	return syscall.Mount("tmpfs", target, "tmpfs", 0, "size=1m")
}
