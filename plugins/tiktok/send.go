package tiktok

import (
	"cmp"
	"context"
	"net/http"

	"github.com/neksio/neksio/plugins/sdk"
)

const (
	messageSendPath  = "business/message/send/"
	commentReplyPath = "business/comment/reply/create/"
)

type textBody struct {
	Body string `json:"body"`
}

type messageSend struct {
	BusinessID    string   `json:"business_id"`
	RecipientType string   `json:"recipient_type"`
	Recipient     string   `json:"recipient"`
	MessageType   string   `json:"message_type"`
	Text          textBody `json:"text"`
}

type commentReply struct {
	BusinessID string `json:"business_id"`
	VideoID    string `json:"video_id"`
	CommentID  string `json:"comment_id"`
	Text       string `json:"text"`
}

// Send answers a DM (in its conversation) or a comment (publicly, under
// it). TikTok has no private replies to comments and no templates.
func (c *connector) Send(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.Template != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok has no message templates")
	}
	switch req.Kind {
	case sdk.SendDirect:
		return c.sendDirect(ctx, req)
	case sdk.SendCommentPublic:
		return c.sendCommentReply(ctx, req)
	default:
		return nil, sdk.NewError(sdk.ClassUnsupported, "", "send kind %q is not supported by TikTok", req.Kind)
	}
}

// sendDirect writes into the TikTok conversation, which is the thread id
// (a business cannot open a conversation, so there is always one).
func (c *connector) sendDirect(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no account id (business_id)")
	}
	conversation := req.ThreadID
	if conversation == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no conversation id: a TikTok business can only answer in an existing conversation")
	}
	if len(req.Attachments) > 0 {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok messages carry text only through this connector")
	}
	if req.Text == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "empty message")
	}
	if n := sdk.TextLength(req.Text); n > MaxDMLength {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "a TikTok message holds at most %d characters, not %d", MaxDMLength, n)
	}
	body := messageSend{
		BusinessID:    req.AccountID,
		RecipientType: "CONVERSATION",
		Recipient:     conversation,
		MessageType:   "TEXT",
		Text:          textBody{Body: req.Text},
	}
	var out struct {
		MessageID string `json:"message_id"`
		Message   struct {
			MessageID string `json:"message_id"`
		} `json:"message"`
	}
	if err := c.businessCall(ctx, req.App, req.Credentials.AccessToken, http.MethodPost, messageSendPath, nil, body, &out); err != nil {
		return nil, err
	}
	id := cmp.Or(out.Message.MessageID, out.MessageID)
	if id == "" {
		// Delivered or not, the echo could not be matched to this send
		// without the id: say so instead of pretending.
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok accepted the message without a message_id: delivery unconfirmed")
	}
	return &sdk.SendResult{ExternalID: id, Status: sdk.StatusSent}, nil
}

// sendCommentReply answers the comment RecipientID under the video that is
// the thread.
func (c *connector) sendCommentReply(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	switch {
	case req.AccountID == "":
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no account id (business_id)")
	case req.ThreadID == "":
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no video id (the comment thread)")
	case req.RecipientID == "":
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no comment to reply to")
	case len(req.Attachments) > 0:
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok comment replies carry text only")
	case req.Text == "":
		return nil, sdk.NewError(sdk.ClassPermanent, "", "empty comment reply")
	}
	if n := sdk.TextLength(req.Text); n > MaxCommentLength {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "a TikTok comment holds at most %d characters, not %d", MaxCommentLength, n)
	}
	body := commentReply{BusinessID: req.AccountID, VideoID: req.ThreadID, CommentID: req.RecipientID, Text: req.Text}
	var out struct {
		CommentID flexString `json:"comment_id"`
	}
	if err := c.businessCall(ctx, req.App, req.Credentials.AccessToken, http.MethodPost, commentReplyPath, nil, body, &out); err != nil {
		return nil, err
	}
	if out.CommentID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok accepted the reply without a comment_id: delivery unconfirmed")
	}
	return &sdk.SendResult{ExternalID: string(out.CommentID), Status: sdk.StatusSent}, nil
}
