// Package secret seals channel tokens and app secrets with AES-256-GCM
// before they reach the database. The master key comes from
// NEKSIO_MASTER_KEY or, on the embedded default, from a key file generated
// into the data dir with mode 0600.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// version prefixes every ciphertext so the key or algorithm can change
// later without guessing what old rows hold.
const version byte = 1

// ErrDecrypt is returned for ciphertexts that do not open with the key.
var ErrDecrypt = errors.New("secret: cannot decrypt (wrong master key or corrupt data)")

// Box seals and opens secrets.
type Box struct {
	aead        cipher.AEAD
	fingerprint string
	// prk is the HKDF pseudorandom key of the master key, for DeriveKey.
	prk []byte
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret: key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	prk, err := hkdf.Extract(sha256.New, key, []byte("neksio derived keys v1"))
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Box{aead: aead, fingerprint: fingerprint(key), prk: prk}, nil
}

// DeriveKey returns a 32-byte key for one purpose (e.g. "media url
// signing"), derived from the master key with HKDF-SHA256: each purpose
// gets its own key, and none reveals the master key.
func (b *Box) DeriveKey(purpose string) ([]byte, error) {
	k, err := hkdf.Expand(sha256.New, b.prk, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("secret: deriving a key: %w", err)
	}
	return k, nil
}

// Seal encrypts plaintext; additional data binds the ciphertext to its row
// (e.g. the channel ID), so a ciphertext copied to another row won't open.
func (b *Box) Seal(plaintext, additional []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secret: nonce: %w", err)
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, plaintext, additional), nil
}

// Open decrypts what Seal produced with the same additional data.
func (b *Box) Open(ciphertext, additional []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(ciphertext) < 1+ns+b.aead.Overhead() || ciphertext[0] != version {
		return nil, ErrDecrypt
	}
	pt, err := b.aead.Open(nil, ciphertext[1:1+ns], ciphertext[1+ns:], additional)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// LoadKey returns the master key: from b64 when set, else from
// dataDir/master.key, generating that file (0600) on first use. generated
// reports whether a new key file was written, so the caller can warn.
func LoadKey(b64, dataDir string) (key []byte, generated bool, err error) {
	if b64 != "" {
		key, err = base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil || len(key) != 32 {
			return nil, false, fmt.Errorf("secret: master key must be 32 bytes, base64-encoded")
		}
		return key, false, nil
	}
	path := filepath.Join(dataDir, "master.key")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) != 32 {
			return nil, false, fmt.Errorf("secret: %s is not a base64 32-byte key", path)
		}
		return key, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("secret: reading %s: %w", path, err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("secret: generating key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("secret: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey("", dataDir)
	}
	if err != nil {
		return nil, false, fmt.Errorf("secret: writing %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, false, fmt.Errorf("secret: writing %s: %w", path, err)
	}
	return key, true, f.Sync()
}
