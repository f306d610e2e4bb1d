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
//
// Every message goes as RESPONSE. A message written by a person
// (HumanAgent) that Meta refuses as outside the 24-hour window is sent
// again once with the HUMAN_AGENT tag, which stretches the window to 7
// days, when the app holds that permission (human_agent_tag): the
// platform, which knows when the customer last wrote, decides, and the
// tag is used only when it is needed.
func (c *connector) sendDirect(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no account id")
	}
	if req.Text == "" && len(req.Attachments) == 0 {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "empty message")
	}
	platform := platformOf("", req.Credentials)
	if err := checkAttachments(platform, req.Attachments, allowPrivateMedia(req.App)); err != nil {
		return nil, err
	}
	base := sendBody{Recipient: sendRecipient{ID: req.RecipientID}, MessagingType: "RESPONSE"}
	var msgs []sendMessage
	for _, a := range req.Attachments {
		att := &sendAttachment{Type: sendType(mediaKind(a))}
		att.Payload.URL, att.Payload.IsReusable = a.URL, true
		msgs = append(msgs, sendMessage{Attachment: att})
	}
	if req.Text != "" {
		msgs = append(msgs, sendMessage{Text: req.Text})
	}
	mayTag := req.HumanAgent && req.App.Settings[SettingHumanAgentTag] == "true"
	path := messagesNode(req) + "/messages"
	var last sendResponse
	for _, m := range msgs {
		body := base
		body.Message = m
		err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodPost, path, nil, body, &last)
		if err != nil && mayTag && base.Tag == "" && sdk.ClassOf(err) == sdk.ClassWindowClosed {
			base.MessagingType, base.Tag = "MESSAGE_TAG", "HUMAN_AGENT"
			body.MessagingType, body.Tag = base.MessagingType, base.Tag
			err = c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodPost, path, nil, body, &last)
			if err != nil && sdk.ClassOf(err) == sdk.ClassWindowClosed {
				err = annotate(err, "more than 7 days since the customer's last message, even with the HUMAN_AGENT tag")
			}
		} else if err != nil && sdk.ClassOf(err) == sdk.ClassWindowClosed && base.Tag == "" {
			why := "the HUMAN_AGENT tag (7 days) is for messages written by a person"
			if req.HumanAgent {
				why = "the app does not hold the Human Agent permission (human_agent_tag)"
			}
			err = annotate(err, "more than 24 hours since the customer's last message, and "+why)
		}
		if err != nil {
			return nil, err
		}
	}
	return &sdk.SendResult{ExternalID: last.MessageID, Status: sdk.StatusSent}, nil
}

// messagesNode is whose Send API a DM goes through: an Instagram account
// linked to a Page (Facebook Login) sends through its Page, with the
// Page's token; any other account through its own node.
func messagesNode(req *sdk.SendRequest) string {
	if req.Credentials.Extra[ExtraPlatform] == PlatformInstagram && req.Credentials.Extra[ExtraPageID] != "" {
		return url.PathEscape(req.Credentials.Extra[ExtraPageID])
	}
	return url.PathEscape(req.AccountID)
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
		messagesNode(req)+"/messages", nil, body, &out); err != nil {
		return nil, err
	}
	return &sdk.SendResult{ExternalID: out.MessageID, Status: sdk.StatusSent}, nil
}
