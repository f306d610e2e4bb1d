package meta

import (
	"context"
	"net/http"
	"net/url"

	"github.com/neksio/neksio/plugins/sdk"
)

type sendRecipient struct {
	ID        string `json:"id,omitempty"`
	CommentID string `json:"comment_id,omitempty"`
}

type sendAttachment struct {
	Type    string `json:"type"`
	Payload struct {
		URL        string `json:"url"`
		IsReusable bool   `json:"is_reusable"`
	} `json:"payload"`
}

type sendMessage struct {
	Text       string          `json:"text,omitempty"`
	Attachment *sendAttachment `json:"attachment,omitempty"`
}

type sendBody struct {
	Recipient     sendRecipient `json:"recipient"`
	MessagingType string        `json:"messaging_type,omitempty"`
	Tag           string        `json:"tag,omitempty"`
	Message       sendMessage   `json:"message"`
}

type sendResponse struct {
	RecipientID string `json:"recipient_id"`
	MessageID   string `json:"message_id"`
}

func (c *connector) Send(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.Template != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "Meta has no pre-approved templates: outside the window send as a human agent")
	}
	if req.RecipientID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no recipient")
	}
	switch req.Kind {
	case sdk.SendDirect:
		return c.sendDirect(ctx, req)
	case sdk.SendCommentPublic:
		return c.sendCommentPublic(ctx, req)
	case sdk.SendCommentPrivate:
		return c.sendCommentPrivate(ctx, req)
	default:
		return nil, sdk.NewError(sdk.ClassUnsupported, "", "send kind %q is not supported by Meta", req.Kind)
	}
}

// sendDirect sends a DM through the Send API. A Send API message holds
// either text or one attachment, so attachments go first, one message
// each, and the text last: the result names the last message.
func (c *connector) sendDirect(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no account id")
	}
	if req.Text == "" && len(req.Attachments) == 0 {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "empty message")
	}
	base := sendBody{Recipient: sendRecipient{ID: req.RecipientID}, MessagingType: "RESPONSE"}
	if req.HumanAgent {
		// A person's answer may go out up to 7 days after the customer's
		// last message; automated replies only within 24 h.
		base.MessagingType, base.Tag = "MESSAGE_TAG", "HUMAN_AGENT"
	}
	var msgs []sendMessage
	for _, a := range req.Attachments {
		if a.URL == "" {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "attachment without a URL")
		}
		att := &sendAttachment{Type: sendAttachmentType(a.Type)}
		att.Payload.URL, att.Payload.IsReusable = a.URL, true
		msgs = append(msgs, sendMessage{Attachment: att})
	}
	if req.Text != "" {
		msgs = append(msgs, sendMessage{Text: req.Text})
	}
	var last sendResponse
	for _, m := range msgs {
		body := base
		body.Message = m
		if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodPost,
			url.PathEscape(req.AccountID)+"/messages", nil, body, &last); err != nil {
			return nil, err
		}
	}
	return &sdk.SendResult{ExternalID: last.MessageID, Status: sdk.StatusSent}, nil
}

func sendAttachmentType(t string) string {
	switch t {
	case "image", "video", "audio", "file":
		return t
	case "sticker":
		return "image"
	default:
		return "file"
	}
}

// sendCommentPublic answers under a comment. Facebook nests replies with
// /comments, Instagram with /replies (top-level comments only).
func (c *connector) sendCommentPublic(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.Text == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "empty comment reply")
	}
	edge := "comments"
	if req.Credentials.Extra[ExtraPlatform] == PlatformInstagram {
		edge = "replies"
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodPost,
		url.PathEscape(req.RecipientID)+"/"+edge, nil, map[string]string{"message": req.Text}, &out); err != nil {
		return nil, err
	}
	return &sdk.SendResult{ExternalID: out.ID, Status: sdk.StatusSent}, nil
}

// sendCommentPrivate opens a DM with a commenter: once per comment,
// within 7 days of it.
func (c *connector) sendCommentPrivate(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no account id")
	}
	if req.Text == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "a private reply must carry text")
	}
	body := sendBody{Recipient: sendRecipient{CommentID: req.RecipientID}, Message: sendMessage{Text: req.Text}}
	var out sendResponse
	if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodPost,
		url.PathEscape(req.AccountID)+"/messages", nil, body, &out); err != nil {
		return nil, err
	}
	return &sdk.SendResult{ExternalID: out.MessageID, Status: sdk.StatusSent}, nil
}
