package sshd

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
)

// Codes are the one-time passwords of the SSH server. The receptor's API
// issues one (behind whatever authentication the API has) for one instance;
// it opens one SSH connection to that instance only, once, within TTL. A
// code is an expiry, a random nonce and a MAC over them and the instance's
// name under Key, so receptors that share the key accept each other's codes
// (each receptor remembers the codes it took until they expire).
type Codes struct {
	Key   []byte        // at least 32 bytes
	TTL   time.Duration // how long a code stays good
	Clock clock.Clock

	mu   sync.Mutex
	used map[string]time.Time // code -> expiry, so each opens one connection
}

// DefaultCodeTTL is how long a code opens a connection when Codes.TTL is 0.
const DefaultCodeTTL = time.Minute

// NewKey returns a random code key, for a receptor that was given none.
func NewKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("sshd: making a code key: %w", err)
	}
	return k, nil
}

// User names an instance as an SSH user: "PROCESS_GUID/INDEX".
func User(processGuid string, index int) string { return processGuid + "/" + strconv.Itoa(index) }

// ParseUser splits an SSH user into the instance it names.
func ParseUser(user string) (string, int, error) {
	guid, idx, ok := strings.Cut(user, "/")
	index, err := strconv.Atoi(idx)
	if !ok || guid == "" || err != nil || index < 0 {
		return "", 0, fmt.Errorf("user %q is not PROCESS_GUID/INDEX", user)
	}
	return guid, index, nil
}

func (c *Codes) ttl() time.Duration {
	if c.TTL <= 0 {
		return DefaultCodeTTL
	}
	return c.TTL
}

// A code's bytes: expiry (8, big-endian unix seconds), nonce (8), MAC (20).
const (
	codeHead = 16
	codeLen  = codeHead + 20
)

// mac signs a code's head (expiry and nonce) for user.
func (c *Codes) mac(user string, head []byte) []byte {
	m := hmac.New(sha256.New, c.Key)
	m.Write(head)
	m.Write([]byte(user))
	return m.Sum(nil)[:codeLen-codeHead]
}

// Issue returns a code for user (see User).
func (c *Codes) Issue(user string) string {
	b := make([]byte, codeHead, codeLen)
	binary.BigEndian.PutUint64(b, uint64(c.Clock.Now().Add(c.ttl()).Unix()))
	_, _ = rand.Read(b[8:codeHead]) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(append(b, c.mac(user, b)...))
}

// ErrBadCode is a code that is wrong, expired, for another instance, or used.
var ErrBadCode = errors.New("sshd: the code is wrong, expired, for another instance or already used")

// Redeem accepts code for user once.
func (c *Codes) Redeem(user, code string) error {
	b, err := base64.RawURLEncoding.DecodeString(code)
	if err != nil || len(b) != codeLen || len(c.Key) == 0 {
		return ErrBadCode
	}
	expiry := int64(binary.BigEndian.Uint64(b[:8]))
	now := c.Clock.Now()
	if now.Unix() > expiry || !hmac.Equal(b[codeHead:], c.mac(user, b[:codeHead])) {
		return ErrBadCode
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used == nil {
		c.used = map[string]time.Time{}
	}
	for k, exp := range c.used {
		if now.After(exp) {
			delete(c.used, k)
		}
	}
	if _, ok := c.used[code]; ok {
		return ErrBadCode
	}
	c.used[code] = time.Unix(expiry, 0).Add(time.Second)
	return nil
}
