package secret

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/keyfingerprint"
)

// ErrKeyMismatch is returned by CheckKey when the database's secrets were
// sealed with another master key.
var ErrKeyMismatch = errors.New("secret: the master key does not match the one this database's secrets are sealed with")

// masterKeyName names the master key's row in key_fingerprints.
const masterKeyName = "master"

// fingerprint identifies a key without revealing it: HMAC-SHA256 of a
// fixed label under the key.
func fingerprint(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("neksio master key check v1"))
	return "hmac-sha256:" + base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// Fingerprint is the box's key fingerprint.
func (b *Box) Fingerprint() string { return b.fingerprint }

// CheckKey makes sure every server of a database seals with one key. The
// first server records its key's fingerprint; every later start compares
// its own and fails with ErrKeyMismatch when it differs — instead of
// starting and failing each decrypt of what the others sealed. Replicas
// starting together on an empty database race on a unique row: one
// fingerprint wins, and the others compare against it.
//
// existing, when set, runs before the first fingerprint is recorded, to
// check the key against secrets sealed before fingerprints were (an error
// refuses the key, and nothing is recorded).
func CheckKey(ctx context.Context, s *store.Store, b *Box, existing func(context.Context) error) error {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("secret.checkkey"))
	rec, err := s.Ent.KeyFingerprint.Query().Where(keyfingerprint.Name(masterKeyName)).Only(pctx)
	if ent.IsNotFound(err) {
		if existing != nil {
			if err := existing(ctx); err != nil {
				return err
			}
		}
		err = s.Ent.KeyFingerprint.Create().SetName(masterKeyName).SetFingerprint(b.fingerprint).Exec(pctx)
		if err != nil && !ent.IsConstraintError(err) {
			return fmt.Errorf("secret: recording the master key's fingerprint: %w", err)
		}
		rec, err = s.Ent.KeyFingerprint.Query().Where(keyfingerprint.Name(masterKeyName)).Only(pctx)
	}
	if err != nil {
		return fmt.Errorf("secret: reading the master key's fingerprint: %w", err)
	}
	if !hmac.Equal([]byte(rec.Fingerprint), []byte(b.fingerprint)) {
		return ErrKeyMismatch
	}
	return nil
}
