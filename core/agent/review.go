package agent

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/ent/agentrun"
	"github.com/neksio/neksio/ent/schema/schematype"
)

// Reviews are public: the answer is read by every future customer, so it
// is written from a template the business recognises (thanks by first
// name, an apology for a low rating, a closing), with the answer to any
// question the review asks taken from the knowledge base, and nothing the
// reviewer wrote about themselves repeated.

// ReviewFacts are what a decision on a review depends on.
type ReviewFacts struct {
	// Mode is the channel's (or conversation's) mode, capped by the
	// review policy's mode for the stars.
	Mode Mode
	// Stars: 1-5, 0 when the platform gave none.
	Stars int
	Text  string
	// Sentiment of the review's text (zero without text).
	Sentiment     ai.Sentiment
	HandoffReason string
	// Question is what the review asks, empty when it asks nothing.
	Question string
	// Answer is the knowledge base's answer to Question; nil until
	// retrieval ran (it runs only for a question).
	Answer *knowledge.Answer
}

// ReviewMode caps mode by the review policy's mode for stars: the
// stricter wins (OFF, then DRAFT, then AUTO), so a channel in DRAFT never
// auto-answers reviews and the policy can switch some ratings off.
func ReviewMode(mode Mode, policy schematype.ReviewPolicy, stars int) Mode {
	rank := map[Mode]int{ModeOff: 0, ModeDraft: 1, ModeAuto: 2}
	p := Mode(policy.For(stars))
	if rank[p] < rank[mode] {
		return p
	}
	return mode
}

// DecideReview applies the review policy. Reviews with 1 or 2 stars, a
// request for a person, strongly negative text, or (in AUTO) a question the
// knowledge base cannot fully answer go to a person, with a draft they can
// start from; the rest is drafted or, in AUTO, answered.
func DecideReview(set Settings, f ReviewFacts) Verdict {
	if f.Mode == ModeOff {
		return Verdict{Decision: agentrun.DecisionSkipped, Reason: "AI is off for this review (the channel's mode or the review policy)"}
	}
	if f.HandoffReason != "" {
		return Verdict{Decision: agentrun.DecisionHandedOff, Reason: "already handed off: " + f.HandoffReason}
	}
	handOff := func(reason string) Verdict {
		return Verdict{Decision: agentrun.DecisionHandedOff, Reason: reason + " (a draft is ready)", NewHandoff: true, Draft: true}
	}
	if builtin.WantsHuman(f.Text, set.HandoffKeywords) {
		return handOff("the reviewer asked for a person")
	}
	if f.Stars == 1 || f.Stars == 2 {
		return handOff(fmt.Sprintf("a %d-star review: a person answers low ratings", f.Stars))
	}
	if strings.TrimSpace(f.Text) != "" && f.Sentiment.Score <= set.NegativeSentimentThreshold {
		return handOff(fmt.Sprintf("strongly negative review (%.2f)", f.Sentiment.Score))
	}
	var note string
	if f.Question != "" {
		if f.Answer == nil {
			return Verdict{NeedAnswer: true}
		}
		switch {
		case f.Answer.Refused || strings.TrimSpace(f.Answer.Text) == "":
			note = "the knowledge base does not answer the review's question"
		case f.Answer.Confidence < set.ConfidenceThreshold:
			note = fmt.Sprintf("the answer to the review's question has confidence %.2f, below the threshold %.2f", f.Answer.Confidence, set.ConfidenceThreshold)
		case len(f.Answer.Unsupported) > 0:
			note = "the answer does not cover " + quoteWords(f.Answer.Unsupported) + " from the review's question"
		}
	}
	if f.Mode == ModeDraft {
		reason := "draft mode: waiting for approval"
		if note != "" {
			reason += "; " + note + ": complete the draft"
		}
		return Verdict{Decision: agentrun.DecisionDrafted, Reason: reason}
	}
	if note != "" {
		return handOff(note)
	}
	return Verdict{Decision: agentrun.DecisionSent, Reason: "answered the review (template, knowledge base for its question)"}
}

// groundedAnswer is the knowledge-base answer a reply may include: one
// that is supported and confident enough.
func groundedAnswer(set Settings, a *knowledge.Answer) string {
	if a == nil || a.Refused || a.Confidence < set.ConfidenceThreshold || len(a.Unsupported) > 0 {
		return ""
	}
	return strings.TrimSpace(a.Text)
}

// ReviewReply writes the answer to a review (without the signature, which
// replyText adds): thanks by first name only, an apology and an offer to
// make it right for 1-2 stars, the grounded answer to the review's
// question if there is one, and a closing. Nothing personal from the
// review (the reviewer's full name, e-mail addresses, phone numbers,
// street addresses) is repeated: a sentence of the answer that holds any
// of it is left out.
func ReviewReply(reviewer string, stars int, review, answer string) string {
	name := FirstName(reviewer)
	thanks := "Thank you"
	if name != "" {
		thanks += ", " + name + ","
	}
	var parts []string
	switch {
	case stars >= 4 && strings.TrimSpace(review) == "":
		parts = append(parts, fmt.Sprintf("%s for the %d-star rating!", thanks, stars))
	case stars >= 4:
		parts = append(parts, fmt.Sprintf("%s for the %d-star review!", thanks, stars))
	case stars == 3:
		parts = append(parts, thanks+" for your feedback.")
	case stars >= 1:
		parts = append(parts, thanks+" for telling us about your visit. We are sorry it fell short of what you expected.")
	default:
		parts = append(parts, thanks+" for your review.")
	}
	if a := scrubPersonal(answer, reviewer, review); a != "" {
		parts = append(parts, a)
	}
	switch {
	case stars >= 1 && stars <= 2:
		parts = append(parts, "We would like to make it right: please get in touch with us.")
	case stars == 3:
		parts = append(parts, "We hope to see you again soon.")
	default:
		parts = append(parts, "We look forward to seeing you again!")
	}
	return strings.Join(parts, " ")
}

// FirstName is the name to thank a reviewer by: the first word of their
// display name when it reads as a name (letters, at least two), else
// nothing ("Anonymous", an initial, a handle with digits, an e-mail
// address).
func FirstName(display string) string {
	fields := strings.Fields(display)
	if len(fields) == 0 || strings.EqualFold(strings.TrimSpace(display), "Anonymous") {
		return ""
	}
	w := strings.Trim(fields[0], ".,;:!?\"'()")
	if utf8.RuneCountInString(w) < 2 || utf8.RuneCountInString(w) > 30 {
		return ""
	}
	for _, r := range w {
		if !unicode.IsLetter(r) && r != '-' && r != '\'' && r != '’' {
			return ""
		}
	}
	return w
}

var (
	emailRe = regexp.MustCompile(`[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}`)
	// A phone number: 7 or more digits, with the separators people type.
	phoneRe = regexp.MustCompile(`\+?\d[\d\s().-]{5,}\d`)
	// A street address: a house number, words, a street word.
	addressRe = regexp.MustCompile(`(?i)\b\d{1,5}[a-z]?,?\s+(?:[\p{L}'.-]+\s+){0,4}(?:street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|drive|dr|way|court|ct|place|pl|square|sq|terrace|close|crescent|rue|strasse|straße|calle|via)\b\.?`)
)

// personal lists what a review says about its author that a public reply
// must not repeat: the parts of their name after the first, and the
// e-mail addresses, phone numbers and street addresses in the review.
func personal(reviewer, review string) []string {
	var out []string
	fields := strings.Fields(reviewer)
	for i, f := range fields {
		f = strings.Trim(f, ".,;:!?\"'()")
		if i > 0 && utf8.RuneCountInString(f) >= 2 {
			out = append(out, f)
		}
	}
	out = append(out, emailRe.FindAllString(review, -1)...)
	out = append(out, addressRe.FindAllString(review, -1)...)
	for _, p := range phoneRe.FindAllString(review, -1) {
		if digits(p) != "" && len(digits(p)) >= 7 {
			out = append(out, p)
		}
	}
	return out
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// scrubPersonal drops the sentences of text that repeat something personal
// from the review: a word of the reviewer's name past the first, one of
// its e-mail or street addresses, or its phone numbers (compared by their
// digits, however they are written).
func scrubPersonal(text, reviewer, review string) string {
	text = strings.TrimSpace(text)
	if text == "" {
		return ""
	}
	bad := personal(reviewer, review)
	if len(bad) == 0 {
		return text
	}
	var kept []string
	for _, s := range builtin.Sentences(text) {
		if !mentions(s, bad) {
			kept = append(kept, strings.TrimSpace(s))
		}
	}
	return strings.Join(kept, " ")
}

func mentions(sentence string, bad []string) bool {
	low := strings.ToLower(sentence)
	sentenceDigits := digits(sentence)
	for _, b := range bad {
		if d := digits(b); len(d) >= 7 && strings.Contains(sentenceDigits, d) {
			return true
		}
		if containsWord(low, strings.ToLower(b)) {
			return true
		}
	}
	return false
}

// containsWord reports whether w occurs in s on word boundaries.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		before, _ := utf8.DecodeLastRuneInString(s[:start])
		after, _ := utf8.DecodeRuneInString(s[end:])
		if (start == 0 || !isWordRune(before)) && (end == len(s) || !isWordRune(after)) {
			return true
		}
		i = start + 1
	}
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// questionStarts begin a sentence that asks something even without its
// question mark ("do you have oat milk").
var questionStarts = []string{"how ", "what ", "when ", "where ", "which ", "who ", "why ",
	"do you ", "does ", "did you ", "is there ", "are you ", "are there ", "can i ", "can you ", "could you ", "will you ", "would you "}

// ReviewQuestion is what a review asks, its question sentences joined;
// empty when it asks nothing.
func ReviewQuestion(text string) string {
	var qs []string
	for _, s := range builtin.Sentences(text) {
		s = strings.TrimSpace(s)
		low := strings.ToLower(s)
		asks := strings.HasSuffix(s, "?")
		for _, p := range questionStarts {
			if strings.HasPrefix(low, p) {
				asks = true
			}
		}
		if asks {
			qs = append(qs, s)
		}
	}
	return strings.Join(qs, " ")
}

// reviewInstructions tell chat models how to answer a review's question:
// the reply around the answer is the template's.
func reviewInstructions(set Settings) string {
	in := "You are answering a question asked in a public Google review of the business. " +
		"Answer only the question, in one or two sentences, from the sources. " +
		"Do not greet, thank or sign, do not name the reviewer, and never repeat personal data " +
		"(names, e-mail addresses, phone numbers, addresses) from the review."
	if set.Tone != "" {
		in += " Write in this tone: " + set.Tone
	}
	return in
}
