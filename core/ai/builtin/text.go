package builtin

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fold lowercases s and strips accents ("Café" → "cafe"), so customers who
// type without accents still match the knowledge base.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		switch r {
		case 'ß':
			b.WriteString("ss")
			continue
		case 'æ', 'Æ':
			b.WriteString("ae")
			continue
		case 'ø', 'Ø':
			b.WriteRune('o')
			continue
		case '’', '‘', 'ʼ':
			b.WriteRune('\'')
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// rawWords splits folded text into runs of letters and digits. Apostrophes
// inside a word are dropped ("don't" → "dont") because social text omits them
// as often as not.
func rawWords(folded string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	rs := []rune(folded)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		case r == '\'' && cur.Len() > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i+1]):
			// skip the apostrophe, keep the word together
		default:
			flush()
		}
	}
	flush()
	return out
}

// slang expands the shorthand customers use on social media into the words a
// knowledge base is written in. Kept to unambiguous, common forms.
var slang = map[string][]string{
	"u": {"you"}, "ya": {"you"}, "yu": {"you"}, "r": {"are"}, "ur": {"your"}, "yr": {"your"},
	"pls": {"please"}, "plz": {"please"}, "plss": {"please"}, "thx": {"thanks"}, "ty": {"thanks"},
	"hrs": {"hours"}, "hr": {"hour"}, "mins": {"minutes"}, "min": {"minutes"},
	"wknd": {"weekend"}, "wkend": {"weekend"}, "wkends": {"weekends"}, "weekends": {"weekend"},
	"tmrw": {"tomorrow"}, "tmr": {"tomorrow"}, "tmw": {"tomorrow"}, "2moro": {"tomorrow"}, "2day": {"today"}, "tdy": {"today"},
	"b4": {"before"}, "bday": {"birthday"}, "bdays": {"birthday"}, "ppl": {"people"}, "abt": {"about"},
	"wat": {"what"}, "wut": {"what"}, "wen": {"when"}, "whr": {"where"}, "wer": {"where"},
	"cuz": {"because"}, "coz": {"because"}, "bc": {"because"},
	"msg": {"message"}, "dm": {"message"}, "dms": {"messages"}, "msgs": {"messages"}, "addy": {"address"}, "appt": {"appointment"},
	"rez": {"reservation"}, "resy": {"reservation"}, "info": {"information"},
	"gf": {"gluten", "free"}, "df": {"dairy", "free"},
	"mon": {"monday"}, "tue": {"tuesday"}, "tues": {"tuesday"}, "wed": {"wednesday"},
	"thu": {"thursday"}, "thur": {"thursday"}, "thurs": {"thursday"}, "fri": {"friday"},
	"sat": {"saturday"}, "sun": {"sunday"},
	"nite": {"night"}, "tho": {"though"}, "thru": {"through"}, "w": {"with"}, "wo": {"without"},
	"n": {"and"}, "nd": {"and"},
	"smth": {"something"}, "sth": {"something"}, "ok": {"okay"},
}

// stopwords carry little topical meaning; they are down-weighted, not
// dropped, so short questions still have features.
var stopwords = setOf(`a about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who whom
why will with would you your yours yourself yourselves also get got any anyone anything there
hi hello hey hiya please thanks thank okay ok guys guy lol pls plz um uh oh yeah yes yep hmm im ive
id dont doesnt cant wont isnt arent didnt need want know tell let like just still much many
take takes took taking go goes going went make makes made come comes thing things one`)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// concepts maps words to a shared concept so questions and documents that
// use different everyday words for the same thing still meet. This is a
// small, general customer-service thesaurus, not tuned to one business.
var concepts = map[string]string{
	"price": "#price", "cost": "#price", "fee": "#price", "charge": "#price", "pay": "#pay",
	"payment": "#pay", "card": "#pay", "cash": "#pay", "contactles": "#pay",
	"open": "#hours", "hour": "#hours", "clos": "#hours", "opening": "#hours",
	"refund": "#refund", "return": "#refund", "exchange": "#refund", "money": "#refund",
	"book": "#book", "booking": "#book", "reserv": "#book", "reservation": "#book",
	"deliver": "#deliver", "delivery": "#deliver", "ship": "#deliver", "shipping": "#deliver",
	"phone": "#contact", "call": "#contact", "email": "#contact", "contact": "#contact",
	"allergen": "#allergy", "allergy": "#allergy", "allergic": "#allergy", "intoleranc": "#allergy",
	"point": "#loyalty", "reward": "#loyalty", "loyalty": "#loyalty", "stamp": "#loyalty",
	"address": "#where", "located": "#where", "location": "#where", "find": "#where",
	"discount": "#discount", "offer": "#discount", "deal": "#discount", "promo": "#discount", "voucher": "#discount",
	"kid": "#child", "child": "#child", "children": "#child",
	"weekend": "#weekend", "saturday": "#weekend", "sunday": "#weekend",
	"weekday": "#weekday", "monday": "#weekday", "tuesday": "#weekday", "wednesday": "#weekday",
	"thursday": "#weekday", "friday": "#weekday",
	"cater": "#cater", "catering": "#cater", "event": "#cater", "party": "#cater",
}

// stem is a light suffix stripper: plural, -ing, -ed, trailing e. It is not
// Porter; it only has to map the forms customers and documents use for the
// same word to one key, consistently on both sides.
func stem(w string) string {
	if utf8.RuneCountInString(w) <= 3 || !isAlpha(w) {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		w = w[:len(w)-3]
		w = undouble(w)
	case strings.HasSuffix(w, "ed") && len(w) > 4:
		w = w[:len(w)-2]
		w = undouble(w)
	case strings.HasSuffix(w, "es") && len(w) > 4 && (strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes") || strings.HasSuffix(w, "xes")):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "s") && len(w) > 3 && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	}
	if strings.HasSuffix(w, "e") && len(w) > 4 {
		w = w[:len(w)-1]
	}
	return w
}

func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiouls", rune(w[n-1])) {
		return w[:n-1]
	}
	return w
}

func isAlpha(w string) bool {
	for _, r := range w {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// term is a normalised token with whether it is a stopword.
type term struct {
	text string
	stop bool
	// concept is the thesaurus key shared with synonyms, or "".
	concept string
	// word is the folded word the term came from, before stemming: what
	// explanations quote.
	word string
}

// terms turns raw text into normalised terms: folded, slang expanded,
// stemmed, stopwords marked.
func terms(s string) []term {
	var out []term
	for _, w := range rawWords(fold(s)) {
		exp, ok := slang[w]
		if !ok {
			exp = []string{w}
		}
		for _, e := range exp {
			st := stem(e)
			c := concepts[e]
			if c == "" {
				c = concepts[st]
			}
			out = append(out, term{text: st, stop: stopwords[e], concept: c, word: e})
		}
	}
	return out
}

// SentenceSpans splits text into sentences and returns their byte ranges
// [start, end) with surrounding space trimmed. Line breaks always end a
// sentence (list items, table rows, headings); '.', '!' and '?' end one when
// followed by space and not part of a common abbreviation or a number.
func SentenceSpans(text string) [][2]int {
	var spans [][2]int
	start := 0
	add := func(end int) {
		s, e := start, end
		for s < e && isSpaceByte(text[s]) {
			s++
		}
		for e > s && isSpaceByte(text[e-1]) {
			e--
		}
		if e > s {
			spans = append(spans, [2]int{s, e})
		}
		start = end
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '\n':
			add(i + 1)
		case '.', '!', '?':
			j := i + 1
			for j < len(text) && (text[j] == '.' || text[j] == '!' || text[j] == '?' || text[j] == '"' || text[j] == '\'' || text[j] == ')') {
				j++
			}
			if j < len(text) && text[j] != ' ' && text[j] != '\t' && text[j] != '\n' {
				i = j - 1
				continue
			}
			if c == '.' && (isAbbrev(text[start:i]) || nextIsLower(text[j:])) {
				i = j - 1
				continue
			}
			add(j)
			i = j - 1
		}
	}
	add(len(text))
	return spans
}

// Sentences is SentenceSpans as strings.
func Sentences(text string) []string {
	spans := SentenceSpans(text)
	if len(spans) == 0 {
		return nil
	}
	out := make([]string, len(spans))
	for i, sp := range spans {
		out[i] = text[sp[0]:sp[1]]
	}
	return out
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var abbreviations = setOf(`e.g i.e etc mr mrs ms dr st ave rd no approx vs incl min max mon tue tues wed thu thur thurs fri sat sun jan feb mar apr jun jul aug sep sept oct nov dec a.m p.m`)

// isAbbrev reports whether the text before a period ends with an
// abbreviation or a single letter, where the period does not end a sentence.
func isAbbrev(before string) bool {
	k := len(before)
	i := k
	for i > 0 && before[i-1] != ' ' && before[i-1] != '\n' && before[i-1] != '(' {
		i--
	}
	w := strings.ToLower(before[i:k])
	if w == "" {
		return false
	}
	if len(w) == 1 && w[0] >= 'a' && w[0] <= 'z' {
		return true
	}
	return abbreviations[w]
}

// nextIsLower reports whether the next word starts in lower case: "Crumb &
// Co. app" continues a sentence, a new sentence starts with a capital.
func nextIsLower(rest string) bool {
	rest = strings.TrimLeft(rest, " \t")
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsLower(r)
}
