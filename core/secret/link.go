package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"
)

// Errors of VerifyLink.
var (
	ErrLinkSignature = errors.New("secret: bad link signature")
	ErrLinkExpired   = errors.New("secret: link expired")
)

// SignLink is the signature of a signed, expiring download link: an HMAC
// of the purpose (when not empty), the object's id and the expiry in Unix
// seconds, URL-safe base64. The purpose keeps one kind of link from
// opening another kind of object with the same id.
func SignLink(key []byte, purpose, id string, exp int64) string {
	m := hmac.New(sha256.New, key)
	if purpose != "" {
		m.Write([]byte(purpose))
		m.Write([]byte{0})
	}
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// VerifyLink checks a link's exp and sig parameters at now: a missing key,
// a malformed expiry or a wrong signature is ErrLinkSignature; a valid one
// past its expiry is ErrLinkExpired.
func VerifyLink(key []byte, purpose, id, exp, sig string, now time.Time) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || sig == "" || len(key) == 0 {
		return ErrLinkSignature
	}
	if !hmac.Equal([]byte(SignLink(key, purpose, id, e)), []byte(sig)) {
		return ErrLinkSignature
	}
	if now.Unix() > e {
		return ErrLinkExpired
	}
	return nil
}
