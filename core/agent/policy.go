package agent

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/ent/agentrun"
)

// Mode is the effective AI mode of a conversation.
type Mode string

// Modes, as channel.ai_mode and conversation.ai_mode store them.
const (
	ModeAuto  Mode = "AUTO"
	ModeDraft Mode = "DRAFT"
	ModeOff   Mode = "OFF"
)

// Facts are what a decision depends on.
type Facts struct {
	Mode Mode
	Text string
	// Sentiment of the inbound message.
	Sentiment ai.Sentiment
	// HandoffReason is set when a human already owns the conversation (in
	// a comment thread: this commenter's comments, see Service.handoffFor).
	HandoffReason string
	// Public: the conversation is a comment thread or a review, read by
	// everyone, not a direct conversation.
	Public bool
	// WindowClosed: the platform no longer accepts a free-form reply
	// (the reply window its connector states closed, or the business sent
	// as many messages as it allows); WindowReason says which.
	WindowClosed bool
	WindowReason string
	// InHours: the message arrived within business hours.
	InHours bool
	// Attachments are the kinds of media the message carries ("image",
	// "video", "file"…): what the agent, reading text only, cannot see.
	Attachments []string
	// Answer is nil until retrieval ran.
	Answer *knowledge.Answer
}

// Verdict is a decision with its reason.
type Verdict struct {
	Decision agentrun.Decision
	Reason   string
	// NeedAnswer: decide again once Facts.Answer is set.
	NeedAnswer bool
	// NewHandoff: the conversation must be handed to a human now (false
	// when it already was).
	NewHandoff bool
	// SendAway: send the settings' away message with the handoff (outside
	// business hours, AUTO mode, window open), so nobody waits in silence.
	SendAway bool
	// SendHandoff: send the settings' handoff message with the handoff
	// (AUTO mode, a direct conversation, window open, no away message).
	SendHandoff bool
	// Draft: store the answer as a draft with the handoff, for the person
	// taking over to start from (reviews).
	Draft bool
}

// Decide applies the policy. The cheap checks come first so a customer
// asking for a person never waits for a model.
func Decide(set Settings, f Facts) Verdict {
	if f.Mode == ModeOff {
		return Verdict{Decision: agentrun.DecisionSkipped, Reason: "AI is off for this conversation"}
	}
	if strings.TrimSpace(f.Text) == "" {
		return Verdict{Decision: agentrun.DecisionSkipped, Reason: "the message has no text to answer"}
	}
	if f.HandoffReason != "" {
		return Verdict{Decision: agentrun.DecisionHandedOff, Reason: "already handed off: " + f.HandoffReason}
	}
	handOff := func(reason string) Verdict {
		v := Verdict{Decision: agentrun.DecisionHandedOff, Reason: reason, NewHandoff: true}
		if f.Mode == ModeAuto && !f.WindowClosed {
			// One message at most: the away message says when the team is
			// back, which the handoff message does not. The handoff message
			// is not posted under a public comment or review: a canned "a
			// person will answer" there reads as a bot to everyone, and a
			// private reply (one per comment) is the person's to use.
			v.SendAway = !f.InHours && set.AwayMessage != ""
			v.SendHandoff = !v.SendAway && set.HandoffMessage != "" && !f.Public
		}
		return v
	}
	if builtin.WantsHuman(f.Text, set.HandoffKeywords) {
		return handOff("the customer asked for a human")
	}
	if f.Sentiment.Score <= set.NegativeSentimentThreshold {
		return handOff(fmt.Sprintf("strongly negative sentiment (%.2f)", f.Sentiment.Score))
	}
	if f.WindowClosed {
		return handOff(cmp.Or(f.WindowReason, "the platform's reply window is closed"))
	}
	if len(f.Attachments) > 0 {
		// "Is this mug damaged?" under a photo is about the photo; an
		// answer from the text alone would answer another question.
		return handOff(fmt.Sprintf("the message comes with %s the agent cannot see", mediaNoun(f.Attachments[0])))
	}
	if f.Answer == nil {
		return Verdict{NeedAnswer: true}
	}
	if f.Answer.Refused || strings.TrimSpace(f.Answer.Text) == "" {
		return handOff("the knowledge base has no answer")
	}
	if f.Answer.Confidence < set.ConfidenceThreshold {
		return handOff(fmt.Sprintf("answer confidence %.2f is below the threshold %.2f", f.Answer.Confidence, set.ConfidenceThreshold))
	}
	if f.Mode == ModeDraft {
		// A person reads a draft before it goes, so an answer that leaves
		// part of the question open is still worth drafting, with a note.
		reason := "draft mode: waiting for approval"
		if len(f.Answer.Unsupported) > 0 {
			reason += "; the answer does not cover " + quoteWords(f.Answer.Unsupported)
		}
		return Verdict{Decision: agentrun.DecisionDrafted, Reason: reason}
	}
	if len(f.Answer.Unsupported) > 0 {
		// Sent alone, an answer must cover the whole question: "do you
		// have a blue mug?" is not answered by the red mug's stock.
		return handOff("the answer does not cover " + quoteWords(f.Answer.Unsupported) + " from the question")
	}
	return Verdict{Decision: agentrun.DecisionSent, Reason: "answered from the knowledge base"}
}

// quoteWords lists words for a reason: "blue" or "blue", "velvet".
func quoteWords(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = strconv.Quote(w)
	}
	return strings.Join(q, ", ")
}

// mediaNoun names an attachment kind for a reason.
func mediaNoun(kind string) string {
	switch strings.ToLower(kind) {
	case "image", "photo":
		return "a photo"
	case "video", "ig_reel", "reel":
		return "a video"
	case "audio":
		return "a voice note"
	case "file", "document":
		return "a file"
	case "sticker":
		return "a sticker"
	case "location":
		return "a location"
	case "contact":
		return "a contact card"
	default:
		return "an attachment (" + kind + ")"
	}
}
