// Package encryption seals the BBS's records for storage at rest: AES-256-GCM
// under labelled keys, one of them active. Several labels stay readable so that
// keys can be rotated: records sealed under an old label are opened with it
// and rewritten under the active one.
package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
)

// magic starts every sealed value. Plain JSON records start with '{', so the
// two can never be confused.
const magic = "dgo-enc1:"

// KDFIterations is PBKDF2's work factor for turning a passphrase into a key.
// Keys are derived once at start, so it costs nothing per record.
const KDFIterations = 200_000

var labelRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)

// ErrUnknownLabel is returned for a sealed value whose key label the keyring
// does not hold.
var ErrUnknownLabel = errors.New("encryption: record sealed under a key label this keyring does not have")

// Keyring holds the keys records may be sealed under; the zero value is not
// usable, use New.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
}

// New derives one AES-256 key per label from its passphrase. active must be
// one of the labels.
func New(passphrases map[string]string, active string) (*Keyring, error) {
	if len(passphrases) == 0 {
		return nil, errors.New("encryption: at least one key is required")
	}
	if _, ok := passphrases[active]; !ok {
		return nil, fmt.Errorf("encryption: active key label %q is not among the keys", active)
	}
	k := &Keyring{active: active, aeads: map[string]cipher.AEAD{}}
	for label, phrase := range passphrases {
		if !labelRE.MatchString(label) {
			return nil, fmt.Errorf("encryption: key label %q must match %s", label, labelRE)
		}
		if len(phrase) < 16 {
			return nil, fmt.Errorf("encryption: the passphrase of key %q must be at least 16 characters", label)
		}
		key, err := pbkdf2.Key(sha256.New, phrase, []byte("diego-bbs-records/"+label), KDFIterations, 32)
		if err != nil {
			return nil, fmt.Errorf("encryption: deriving key %q: %w", label, err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("encryption: key %q: %w", label, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption: key %q: %w", label, err)
		}
		k.aeads[label] = aead
	}
	return k, nil
}

// Active is the label new records are sealed under.
func (k *Keyring) Active() string { return k.active }

// Seal encrypts plaintext under the active key. aad (the record's etcd key)
// is authenticated but not stored: a sealed value copied to another key does
// not open there.
func (k *Keyring) Seal(aad, plaintext []byte) []byte {
	aead := k.aeads[k.active]
	header := magic + k.active + ":"
	out := make([]byte, len(header), len(header)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	copy(out, header)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("encryption: reading random nonce: %v", err)) // crypto/rand does not fail on Linux
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, aad)
}

// IsSealed reports whether data is a sealed value (of any label).
func IsSealed(data []byte) bool { return bytes.HasPrefix(data, []byte(magic)) }

// Label returns the key label of a sealed value, or "" for anything else.
func Label(data []byte) string {
	if !IsSealed(data) {
		return ""
	}
	rest := data[len(magic):]
	i := bytes.IndexByte(rest, ':')
	if i < 0 {
		return ""
	}
	return string(rest[:i])
}

// Open decrypts a sealed value stored at aad. It fails for plaintext, an
// unknown label, and anything altered or moved to another key.
func (k *Keyring) Open(aad, data []byte) ([]byte, error) {
	label := Label(data)
	if label == "" {
		return nil, errors.New("encryption: not a sealed value")
	}
	aead, ok := k.aeads[label]
	if !ok {
		return nil, fmt.Errorf("%w (%q)", ErrUnknownLabel, label)
	}
	body := data[len(magic)+len(label)+1:]
	if len(body) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("encryption: sealed value is truncated")
	}
	nonce, ct := body[:aead.NonceSize()], body[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, fmt.Errorf("encryption: opening a record sealed under %q: %w", label, err)
	}
	return plain, nil
}
