package auth

import (
	"sync"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"github.com/neksio/neksio/core/apperr"
)

// Password length bounds, in characters. The upper bound keeps a sign-in
// request from making the server hash megabytes.
const (
	MinPasswordChars = 10
	MaxPasswordChars = 256
)

// passwordParams are argon2id's cost parameters (RFC 9106's second
// recommendation for memory-constrained hosts: 64 MiB, 3 passes), fixed
// rather than the library's CPU-dependent default so every replica
// hashes alike.
var passwordParams = &argon2id.Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// CheckPassword refuses a password outside the length bounds.
func CheckPassword(password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordChars {
		return apperr.Invalid("password", "the password must have at least %d characters", MinPasswordChars)
	}
	if n > MaxPasswordChars {
		return apperr.Invalid("password", "the password must have at most %d characters", MaxPasswordChars)
	}
	return nil
}

// HashPassword returns an argon2id PHC string for password.
func HashPassword(password string) (string, error) {
	return argon2id.CreateHash(password, passwordParams)
}

// VerifyPassword checks password against a PHC string from HashPassword,
// in constant time (the library compares with crypto/subtle).
func VerifyPassword(phc, password string) bool {
	ok, err := argon2id.ComparePasswordAndHash(password, phc)
	return err == nil && ok
}

var (
	dummyOnce sync.Once
	dummyHash string
)

// verifyDummy does the work of a password check for an unknown email, so
// that "no such user" and "wrong password" take the same time.
func verifyDummy(password string) {
	dummyOnce.Do(func() { dummyHash, _ = HashPassword("not a real password, never matches") })
	_ = VerifyPassword(dummyHash, password)
}
