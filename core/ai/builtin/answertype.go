package builtin

import (
	"regexp"
	"strings"
)

// answerType is what kind of value a question asks for. Classic QA systems
// use it to prefer sentences that contain such a value: "how much" wants a
// price, "how long" a duration, "what time" a clock time.
type answerType struct {
	name    string
	pattern *regexp.Regexp
}

var (
	typeMoney    = answerType{"money", regexp.MustCompile(`[£$€]\s?\d|\b\d+(\.\d+)?\s?(p|pence|cents?|pounds?|dollars?|euros?|eur|usd|gbp)\b|\bfree\b`)}
	typeDuration = answerType{"duration", regexp.MustCompile(`\b\d+\s?(minutes?|mins?|hours?|hrs?|(working |business )?days?|weeks?|months?|years?)\b`)}
	typeTime     = answerType{"time", regexp.MustCompile(`\b\d{1,2}(:\d{2})?\s?(am|pm)\b|\b\d{1,2}:\d{2}\b|\b(noon|midday|midnight|closed)\b`)}
	typePhone    = answerType{"phone", regexp.MustCompile(`\+?\d[\d ()-]{6,}\d`)}
	typeEmail    = answerType{"email", regexp.MustCompile(`[^\s@]+@[^\s@]+\.[a-z]{2,}`)}
)

// questionWords are words that only say what kind of answer is wanted once
// a type is recognised ("how LONG", "how FAST", "what TIME"); they are not
// the question's topic, so answers are not penalised for lacking them.
var questionWords = map[string]bool{"long": true, "fast": true, "soon": true, "quickly": true,
	"far": true, "ahead": true, "time": true, "much": true, "expensive": true, "cheap": true}

// questionTypes guesses the answer types a question expects from its
// wording (folded, slang-expanded words).
func questionTypes(question string) []answerType {
	var words []string
	for _, w := range rawWords(fold(question)) {
		if e, ok := slang[w]; ok {
			words = append(words, e...)
		} else {
			words = append(words, w)
		}
	}
	q := " " + strings.Join(words, " ") + " "
	has := func(phrases ...string) bool {
		for _, p := range phrases {
			if strings.Contains(q, " "+p+" ") {
				return true
			}
		}
		return false
	}
	var out []answerType
	if has("how much", "price", "prices", "cost", "costs", "fee", "fees", "charge", "charges", "expensive", "cheap") && !has("how much time") {
		out = append(out, typeMoney)
	}
	if has("how long", "how fast", "how soon", "how quickly", "how far ahead", "how much time", "in advance", "ahead") {
		out = append(out, typeDuration)
	}
	if has("what time", "when", "open", "opening", "close", "closing", "hours", "til", "till", "until") && !has("how long") {
		out = append(out, typeTime)
	}
	if has("phone", "call", "ring", "telephone", "whatsapp number") {
		out = append(out, typePhone)
	}
	if has("email", "e mail", "mail") {
		out = append(out, typeEmail)
	}
	return out
}
