package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// HMACSHA256Hex returns the lowercase hex HMAC-SHA256 of msg keyed with key.
func HMACSHA256Hex(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyHMACSHA256Hex reports, in constant time, whether sigHex is the
// HMAC-SHA256 of msg keyed with key.
func VerifyHMACSHA256Hex(key, msg []byte, sigHex string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(sigHex))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hmac.Equal(got, m.Sum(nil))
}

// HubSignature256 is the X-Hub-Signature-256 value Meta and WhatsApp send
// for body: "sha256=<hex>".
func HubSignature256(appSecret string, body []byte) string {
	return "sha256=" + HMACSHA256Hex([]byte(appSecret), body)
}

// VerifyHubSignature256 checks Meta's and WhatsApp's X-Hub-Signature-256
// header against the exact bytes received. It returns an
// ClassUnauthenticated *Error when the header is missing or wrong, and when
// no app secret is configured (an unverifiable delivery is never trusted).
func VerifyHubSignature256(appSecret string, body []byte, header string) error {
	if appSecret == "" {
		return NewError(ClassUnauthenticated, "", "no app secret configured: cannot verify signature")
	}
	if header == "" {
		return NewError(ClassUnauthenticated, "", "missing X-Hub-Signature-256 header")
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || !VerifyHMACSHA256Hex([]byte(appSecret), body, hexSig) {
		return NewError(ClassUnauthenticated, "", "invalid X-Hub-Signature-256 signature")
	}
	return nil
}

// TikTokSignature is the Tiktok-Signature header value for body signed at t.
func TikTokSignature(clientSecret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",s=" + HMACSHA256Hex([]byte(clientSecret), []byte(ts+"."+string(body)))
}

// VerifyTikTokSignature checks a Tiktok-Signature header ("t=<unix>,s=<hex>",
// HMAC-SHA256 of "<t>.<body>") and rejects timestamps further than
// tolerance from now.
func VerifyTikTokSignature(clientSecret string, body []byte, header string, now time.Time, tolerance time.Duration) error {
	if clientSecret == "" {
		return NewError(ClassUnauthenticated, "", "no client secret configured: cannot verify signature")
	}
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "s":
			sig = v
		}
	}
	if ts == "" || sig == "" {
		return NewError(ClassUnauthenticated, "", "missing or malformed Tiktok-Signature header")
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return NewError(ClassUnauthenticated, "", "malformed Tiktok-Signature timestamp")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return NewError(ClassUnauthenticated, "", "stale Tiktok-Signature timestamp")
	}
	if !VerifyHMACSHA256Hex([]byte(clientSecret), []byte(ts+"."+string(body)), sig) {
		return NewError(ClassUnauthenticated, "", "invalid Tiktok-Signature signature")
	}
	return nil
}

// HeaderValue returns the first value of a header, matched case-insensitively
// (webhook headers cross the plugin boundary as a plain map).
func HeaderValue(h map[string][]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// VerifyHubChallenge answers the GET subscription handshake Meta and
// WhatsApp send (hub.mode=subscribe, hub.verify_token, hub.challenge): 200
// with the raw challenge when the token matches verifyToken, 403 otherwise.
// An empty verifyToken never matches.
func VerifyHubChallenge(query map[string][]string, verifyToken string) *VerifyResponse {
	first := func(k string) string {
		if v := query[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if first("hub.mode") == "subscribe" && verifyToken != "" &&
		subtle.ConstantTimeCompare([]byte(first("hub.verify_token")), []byte(verifyToken)) == 1 {
		return &VerifyResponse{StatusCode: 200, ContentType: "text/plain", Body: []byte(first("hub.challenge"))}
	}
	return &VerifyResponse{StatusCode: 403, ContentType: "text/plain", Body: []byte("forbidden")}
}
