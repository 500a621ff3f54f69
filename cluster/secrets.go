package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Secrets are what `diego up` makes once per state dir and keeps there, so
// that a cluster restarted on the same state dir can read what it stored.
type Secrets struct {
	// RecordKey is the passphrase the BBS seals records at rest with, under
	// the label RecordKeyLabel.
	RecordKey string
}

// RecordKeyLabel labels the key `diego up` makes.
const RecordKeyLabel = "diego-up-1"

// loadSecrets reads the cluster's secrets from <state>/secrets, making any
// that are missing. The directory is 0700 and each file 0600: only root reads them.
func loadSecrets(stateDir string) (Secrets, error) {
	dir := filepath.Join(stateDir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Secrets{}, fmt.Errorf("making %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return Secrets{}, fmt.Errorf("securing %s: %w", dir, err)
	}
	key, err := secretFile(filepath.Join(dir, "bbs-record-key"))
	if err != nil {
		return Secrets{}, err
	}
	return Secrets{RecordKey: key}, nil
}

// secretFile returns the contents of path, first writing 32 random bytes
// (hex) there when it does not exist.
func secretFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(data)); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("%s is empty: remove it to make a new one (records sealed with the old one become unreadable)", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("making %s: %w", path, err)
	}
	secret := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return secret, nil
}
