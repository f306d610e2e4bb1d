package google

import (
	"cmp"
	"context"
	"net/http"
	"strings"

	"github.com/neksio/neksio/plugins/sdk"
)

// MaxReplyBytes is the longest reply Google accepts, in UTF-8 bytes.
const MaxReplyBytes = 4096

// Send replies to a review: PUT …/reviews/{r}/reply creates the reply or
// replaces the one there (a review has at most one). The result's id is
// "<review>/reply" whichever it did.
func (c *connector) Send(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.Kind != sdk.SendReviewReply {
		return nil, sdk.NewError(sdk.ClassUnsupported, "", "send kind %q is not supported by Google Business Profile: only review replies", req.Kind)
	}
	if req.Template != nil || len(req.Attachments) > 0 {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "a review reply is text only")
	}
	name, err := parseReview(cmp.Or(req.RecipientID, req.ThreadID), req.AccountID)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Text) == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "empty review reply")
	}
	if n := len(req.Text); n > MaxReplyBytes {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "a review reply holds at most %d bytes, this one has %d", MaxReplyBytes, n)
	}
	var out struct {
		Comment string `json:"comment"`
	}
	err = c.call(ctx, req.App, req.Credentials, "reply to review", http.MethodPut,
		endpointsFor(req.App).v4+"/"+name+ReplySuffix, map[string]string{"comment": req.Text}, &out)
	if isNotFound(err) {
		return nil, sdk.NewError(sdk.ClassPermanent, "NOT_FOUND", "review %s no longer exists: its reply cannot be sent", name)
	}
	if err != nil {
		return nil, err
	}
	return &sdk.SendResult{ExternalID: name + ReplySuffix, Status: sdk.StatusSent}, nil
}

// Delete removes a review's reply. A reply (or review) already gone is
// deleted as far as anyone can tell: that is success.
func (c *connector) Delete(ctx context.Context, req *sdk.DeleteRequest) error {
	if req.Kind != sdk.SendReviewReply {
		return sdk.NewError(sdk.ClassUnsupported, "", "delete of kind %q is not supported by Google Business Profile: only review replies", req.Kind)
	}
	target := req.ThreadID
	if id, ok := strings.CutSuffix(req.ExternalID, ReplySuffix); ok {
		target = id
	}
	name, err := parseReview(target, req.AccountID)
	if err != nil {
		return err
	}
	err = c.call(ctx, req.App, req.Credentials, "delete review reply", http.MethodDelete,
		endpointsFor(req.App).v4+"/"+name+ReplySuffix, nil, nil)
	if isNotFound(err) {
		return nil
	}
	return err
}
