package inbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/plugins/sdk"
)

// StaticRules are fixed rules by connector name (tests, tools): a
// RuleSource.
type StaticRules map[string][]sdk.PlatformRules

// PlatformRules implements RuleSource.
func (r StaticRules) PlatformRules(connector, platform string) *sdk.PlatformRules {
	d := sdk.Description{Rules: r[connector]}
	return d.RulesFor(platform)
}

// WindowState says whether a free-form reply may go now.
type WindowState struct {
	// Closed: the platform would refuse a free-form reply now, because
	// its reply window closed or the business already sent as many
	// messages as the window allows. It opens when the customer writes.
	Closed bool
	// Reason says why, in a few words (handoffs record it).
	Reason string
	// TemplatesAllowed: a pre-approved template could still be sent.
	TemplatesAllowed bool
}

// threadKindOf is the SDK's name of a conversation kind.
func threadKindOf(k conversation.Kind) sdk.ThreadKind {
	switch k {
	case conversation.KindCommentThread:
		return sdk.ThreadComment
	case conversation.KindReview:
		return sdk.ThreadReview
	}
	return sdk.ThreadDirect
}

// ReplyWindow applies the reply window the channel's connector states for
// the conversation's kind of thread to a reply written by author. A
// person's reply (AuthorKindAgent, sent with SendRequest.HumanAgent) gets
// the longer human-agent window where the platform has one (Messenger's
// and Instagram's HUMAN_AGENT tag: 7 days instead of 24 hours) only when
// the app holds that permission (HumanAgentAllowed, set from
// NEKSIO_META_HUMAN_AGENT_TAG); otherwise, and always for the agent, the
// plain window applies. A conversation with no customer message on
// record is left to the platform.
// client reads the messages sent since the customer's last one (a
// transaction's, or the store's).
func (s *Service) ReplyWindow(ctx context.Context, client *ent.Client, ch *ent.Channel, conv *ent.Conversation, author message.AuthorKind) (WindowState, error) {
	if s.Rules == nil || ch == nil || conv.LastInboundAt == nil {
		return WindowState{}, nil
	}
	w, ok := s.Rules.PlatformRules(ch.Connector, ch.Platform).Window(threadKindOf(conv.Kind))
	if !ok {
		return WindowState{}, nil
	}
	last := *conv.LastInboundAt
	window := w.Window
	who, hint := "", ""
	if author == message.AuthorKindAgent && w.HumanAgentWindow > window {
		if s.HumanAgentAllowed != nil && s.HumanAgentAllowed(ch.Connector) {
			window, who = w.HumanAgentWindow, " for a person's messages"
		} else {
			hint = fmt.Sprintf(" (a person's reply may go for %s with the platform's human-agent tag once the app holds that permission: NEKSIO_%s_HUMAN_AGENT_TAG=true)",
				windowLength(w.HumanAgentWindow), strings.ToUpper(ch.Connector))
		}
	}
	st := WindowState{TemplatesAllowed: w.TemplatesAllowed}
	if window > 0 && s.now().Sub(last) > window {
		st.Closed = true
		st.Reason = fmt.Sprintf("the platform's %s reply window%s is closed", windowLength(window), who)
		if s.now().Sub(last) <= w.HumanAgentWindow {
			st.Reason += hint
		}
		return st, nil
	}
	if w.MaxMessages > 0 {
		// Every message the business sent counts, from here or elsewhere
		// (echoes); drafts and failures never reached the customer.
		n, err := client.Message.Query().Where(
			message.ConversationID(conv.ID),
			message.DirectionEQ(message.DirectionOutbound),
			message.SentAtGT(last),
			message.DeliveryStatusIn(message.DeliveryStatusPending, message.DeliveryStatusSent,
				message.DeliveryStatusDelivered, message.DeliveryStatusRead),
		).Count(ctx)
		if err != nil {
			return st, fmt.Errorf("inbox: counting messages in the reply window: %w", err)
		}
		if n >= w.MaxMessages {
			st.Closed = true
			st.Reason = fmt.Sprintf("the platform allows %d business messages until the customer writes again, and %d were sent", w.MaxMessages, n)
		}
	}
	return st, nil
}

// windowError is what a refused reply answers: WINDOW_CLOSED, naming
// templates when the platform takes them.
func windowError(st WindowState) error {
	msg := st.Reason + ": the platform refuses free-form replies until the customer writes again"
	if st.TemplatesAllowed {
		msg += "; only a pre-approved message template may be sent now"
	}
	return apperr.New(apperr.CodeWindowClosed, "%s", msg)
}

// CheckReplyWindow refuses, with WINDOW_CLOSED, a reply by author that
// the platform would refuse now.
func (s *Service) CheckReplyWindow(ctx context.Context, client *ent.Client, ch *ent.Channel, conv *ent.Conversation, author message.AuthorKind) error {
	st, err := s.ReplyWindow(ctx, client, ch, conv, author)
	if err != nil {
		return err
	}
	if st.Closed {
		return windowError(st)
	}
	return nil
}

// windowLength names a window the way people do: "24-hour", "7-day".
func windowLength(d time.Duration) string {
	if d >= 72*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d-day", d/(24*time.Hour))
	}
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d-hour", d/time.Hour)
	}
	return d.String()
}
