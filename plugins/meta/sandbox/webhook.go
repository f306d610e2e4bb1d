package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// The builders below return webhook bodies shaped like Meta's, with fresh
// ids and the current time. Tell a Server about them with Observe so its
// windows open, and sign them with Sign or post them with Deliver.

// Sign returns the X-Hub-Signature-256 header value for body.
func Sign(appSecret string, body []byte) string {
	return sdk.HubSignature256(appSecret, body)
}

// Deliver POSTs a signed webhook body to url, the way Meta does.
func Deliver(ctx context.Context, client *http.Client, url, appSecret string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", Sign(appSecret, body))
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deliver webhook: %w", err)
	}
	return resp, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings and numbers are marshalled here
	}
	return b
}

type obj = map[string]any

func envelopeOf(object, accountID string, field string, item obj) []byte {
	now := time.Now()
	e := obj{"id": accountID, "time": now.UnixMilli()}
	if field == "" {
		e["messaging"] = []obj{item}
	} else {
		e["time"] = now.Unix()
		e["changes"] = []obj{{"field": field, "value": item}}
	}
	return mustJSON(obj{"object": object, "entry": []obj{e}})
}

func messagingItem(from, to string, message obj) obj {
	return obj{"sender": obj{"id": from}, "recipient": obj{"id": to}, "timestamp": time.Now().UnixMilli(), "message": message}
}

// MessengerText is a customer's Messenger text to a Page.
func MessengerText(pageID, psid, text string) []byte {
	return envelopeOf("page", pageID, "", messagingItem(psid, pageID, obj{"mid": newID("m_"), "text": text}))
}

// MessengerAttachment is a customer's Messenger attachment (image, video,
// audio, file, sticker, ...) at url.
func MessengerAttachment(pageID, psid, typ, url string) []byte {
	att := obj{"type": typ, "payload": obj{"url": url}}
	return envelopeOf("page", pageID, "", messagingItem(psid, pageID, obj{"mid": newID("m_"), "attachments": []obj{att}}))
}

// MessengerEcho is the echo of a message the Page sent to psid.
func MessengerEcho(pageID, psid, text string) []byte {
	return envelopeOf("page", pageID, "", messagingItem(pageID, psid, obj{"mid": newID("m_"), "text": text, "is_echo": true, "app_id": 1517776481860111}))
}

// PageComment is a comment on a Page post. verb is add, edited or remove;
// an empty commentID gets a fresh one, and a parentID of "" makes it a
// top-level comment.
func PageComment(pageID, postID, commentID, fromID, fromName, text, verb string) []byte {
	return PageReply(pageID, postID, postID, commentID, fromID, fromName, text, verb)
}

// PageReply is a comment answering parentID under a Page post.
func PageReply(pageID, postID, parentID, commentID, fromID, fromName, text, verb string) []byte {
	if commentID == "" {
		commentID = postID + "_" + numericID()
	}
	if verb == "" {
		verb = "add"
	}
	if parentID == "" {
		parentID = postID
	}
	now := time.Now().Unix()
	v := obj{
		"item": "comment", "verb": verb, "comment_id": commentID, "post_id": postID, "parent_id": parentID,
		"message": text, "created_time": now, "from": obj{"id": fromID, "name": fromName},
		"post": obj{"id": postID, "status_type": "added_photos", "is_published": true, "updated_time": time.Now().UTC().Format("2006-01-02T15:04:05-0700")},
	}
	return envelopeOf("page", pageID, "feed", v)
}

// PageSelfComment is the Page's own comment under its post.
func PageSelfComment(pageID, postID, text string) []byte {
	return PageComment(pageID, postID, "", pageID, "The Page", text, "add")
}

// InstagramDM is a customer's Instagram DM to an account.
func InstagramDM(igID, igsid, text string) []byte {
	return envelopeOf("instagram", igID, "", messagingItem(igsid, igID, obj{"mid": newID("aWdf"), "text": text}))
}

// InstagramEcho is the echo of a DM the account sent to igsid.
func InstagramEcho(igID, igsid, text string) []byte {
	return envelopeOf("instagram", igID, "", messagingItem(igID, igsid, obj{"mid": newID("aWdf"), "text": text, "is_echo": true}))
}

// InstagramComment is a comment on a media; an empty commentID gets a
// fresh one.
func InstagramComment(igID, mediaID, commentID, fromID, username, text string) []byte {
	if commentID == "" {
		commentID = numericID()
	}
	v := obj{"id": commentID, "text": text, "from": obj{"id": fromID, "username": username},
		"media": obj{"id": mediaID, "media_product_type": "FEED"}}
	return envelopeOf("instagram", igID, "comments", v)
}

// InstagramSelfComment is the account's own comment on its media.
func InstagramSelfComment(igID, mediaID, username, text string) []byte {
	return InstagramComment(igID, mediaID, "", igID, username, text)
}
