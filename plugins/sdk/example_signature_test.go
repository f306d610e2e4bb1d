package sdk_test

import (
	"fmt"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Meta and WhatsApp sign every delivery with the app secret.
func ExampleVerifyHubSignature256() {
	body := []byte(`{"object":"page","entry":[]}`)
	header := sdk.HubSignature256("app-secret", body) // what Meta sends
	fmt.Println(header)

	fmt.Println(sdk.VerifyHubSignature256("app-secret", body, header))
	err := sdk.VerifyHubSignature256("app-secret", []byte(`{"object":"page","entry":[{}]}`), header)
	fmt.Println(sdk.ClassOf(err))
	err = sdk.VerifyHubSignature256("", body, header) // no secret configured: never trusted
	fmt.Println(sdk.ClassOf(err))
	// Output:
	// sha256=e6e9d7a842a48e17f43a34d6125d0d933e2aab92ee37f0993a4d493b50e3d438
	// <nil>
	// unauthenticated
	// unauthenticated
}

// TikTok signs "<unix time>.<body>"; the verifier refuses stale timestamps
// as replays.
func ExampleVerifyTikTokSignature() {
	body := []byte(`{"event":"im_receive_msg"}`)
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	header := sdk.TikTokSignature("client-secret", at, body)
	fmt.Println(header)

	fmt.Println(sdk.VerifyTikTokSignature("client-secret", body, header, at.Add(time.Minute), 5*time.Minute))
	err := sdk.VerifyTikTokSignature("client-secret", body, header, at.Add(time.Hour), 5*time.Minute)
	fmt.Println(err)
	// Output:
	// t=1767268800,s=4afcf8318615ae82fefe5ca564241df99498b27d0867da0cffe9a77f75cdcb0b
	// <nil>
	// unauthenticated: stale Tiktok-Signature timestamp
}

// A generic sender's scheme: the hex HMAC-SHA256 of the body in a header.
func ExampleVerifyHMACSHA256Hex() {
	body := []byte(`{"account":"shop-1"}`)
	sig := sdk.HMACSHA256Hex([]byte("relay-secret"), body)
	fmt.Println(sig)
	fmt.Println(sdk.VerifyHMACSHA256Hex([]byte("relay-secret"), body, sig))
	fmt.Println(sdk.VerifyHMACSHA256Hex([]byte("another-secret"), body, sig))
	// Output:
	// ef4bac60a10775a11db474b99f7a2c339130b470130a62ec23f8594ebc8dabe1
	// true
	// false
}

// The GET handshake Meta and WhatsApp send when a webhook is subscribed.
func ExampleVerifyHubChallenge() {
	query := map[string][]string{
		"hub.mode": {"subscribe"}, "hub.verify_token": {"my-token"}, "hub.challenge": {"1158201444"},
	}
	ok := sdk.VerifyHubChallenge(query, "my-token")
	fmt.Println(ok.StatusCode, string(ok.Body))
	fmt.Println(sdk.VerifyHubChallenge(query, "another-token").StatusCode)
	// Output:
	// 200 1158201444
	// 403
}
