package builtin

import (
	"math"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// An extractive answer can be about the right thing and still not answer
// the question: "Do you have a blue mug?" is best matched by "The red mug
// is in stock", and a photo's "Is this mug damaged?" by the price list.
// Confidence cannot tell: most of the question matches. What can is the
// word the answer does not cover ("blue", "damaged"): the thing asked about
// is not in the sources. So every content word of the question must be
// found in the answer or its heading, except the words that only frame a
// question (see, get, whats), the words that ask for a kind of value when
// the answer holds one ("cost" with a price, "stop" with a time), numbers
// the answer states, and single letters. Answer.Unsupported lists the rest;
// the agent sends an answer on its own only when it is empty.

// framingWords frame a question instead of naming what it is about: "can I
// SEE the allergens", "do you SELL gift cards", "my bike STARTED making a
// noise a FEW days ago". They are general English in a few classes, not one
// business's vocabulary: light verbs, verbs of wanting, knowing, asking and
// looking, verbs of beginning and happening, availability, quantity and
// degree, time relative to now, generic nouns, and chat contractions.
var framingWords = setOf(`do does did done doing make makes made making take takes took taken taking
get gets getting got gotten give gives gave given go goes going went gone come comes came coming
put puts keep keeps kept let lets set sets bring brings brought bringing back use uses used using work works
need needs needed want wants wanted wonder wondering think thinking thought know knew hope hoping
mind wish mean means meant say says said tell told ask asks asked asking help helps try tries tried
trying see seen saw look looks looked looking find found check checked checking show shown
start starts started begin began stop stopped finish finished happen happens happened still already
sell sells selling sold stock stocks carry carries offer offers offered provide provides
available availability possible able allowed
few lot lots bit little enough less least several every each else another other others same
different exactly really actually maybe possibly perhaps just even quite rather pretty right
now today tonight tomorrow yesterday soon later ago first last next recently ever never always
usually again once
thing things stuff way ways kind sort type question questions info information detail details
option options someone anyone something anything everything nothing
please sorry whats hows wheres whens whos thats theres ive youre its`)

// cueWords ask for a kind of value; they are covered when the answer holds
// a value of that kind ("how much does X COST" and "X – £4.50") or names the
// kind itself ("is takeaway more EXPENSIVE" and "the PRICES are the same").
var cueWords = []struct {
	t     answerType
	words map[string]bool
}{
	{typeMoney, setOf(`price prices priced cost costs costing fee fees charge charges charged expensive cheap cheaper pay paying`)},
	{typeTime, setOf(`time times when open opens opening close closes closing closed shut shuts til till until start starts stop stops finish finishes earliest latest`)},
	{typeDuration, setOf(`long far fast quick quickly soon take takes wait ahead advance`)},
	{typePhone, setOf(`phone number call ring telephone mobile`)},
	{typeEmail, setOf(`email mail`)},
}

// minSupport is the weakest match that covers a question word: a synonym
// through the thesaurus (0.6) or better.
const minSupport = 0.6

// unsupported returns the question's content words (as the customer wrote
// them, folded) that none of the answer's windows, with their headings,
// supports.
func unsupported(question []term, answer string, support [][]term) []string {
	folded := fold(answer)
	var out []string
	seen := map[string]bool{}
	for _, q := range question {
		if q.stop || seen[q.word] || exempt(q.word, folded) {
			continue
		}
		best := 0.0
		for _, ts := range support {
			best = math.Max(best, supportOf(q, ts))
		}
		if best < minSupport {
			seen[q.word] = true
			out = append(out, q.word)
		}
	}
	return out
}

// exempt reports whether a question word needs no support: it frames the
// question, is an abbreviation, is a number the answer's numbers include,
// or asks for a kind of value the answer holds.
func exempt(word, foldedAnswer string) bool {
	if n, err := strconv.ParseFloat(word, 64); err == nil {
		return numberSupported(n, foldedAnswer)
	}
	if framingWords[word] || utf8.RuneCountInString(word) == 1 {
		return true
	}
	for _, c := range cueWords {
		if !c.words[word] {
			continue
		}
		if c.t.pattern.MatchString(foldedAnswer) {
			return true
		}
		for _, w := range rawWords(foldedAnswer) {
			if c.words[w] {
				return true
			}
		}
	}
	return false
}

// coverSynonyms are everyday synonyms the coverage check accepts on top of
// the thesaurus. They are kept apart from it because the thesaurus is part
// of the embedding model: changing it would change every stored vector.
var coverSynonyms = map[string]string{
	// Address abbreviations ("harbour st") meet the words they shorten.
	"st": "#street", "street": "#street", "rd": "#road", "road": "#road", "ave": "#avenue", "avenue": "#avenue",
	"ln": "#lane", "lane": "#lane", "sq": "#square", "square": "#square",
	"reply": "#reply", "replies": "#reply", "answer": "#reply", "answered": "#reply", "respond": "#reply", "response": "#reply",
	"birthday": "#celebrate", "celebration": "#celebrate", "anniversary": "#celebrate", "wedding": "#celebrate",
}

// supportOf is matchTerms, also forgiving stems that the light stemmer
// leaves apart ("hire" and "hired") and accepting coverSynonyms.
func supportOf(q term, ts []term) float64 {
	best := matchTerms(q, ts)
	if best >= 1 {
		return best
	}
	syn := coverSynonyms[q.word]
	for _, t := range ts {
		switch {
		case fuzzyEqual(q.word, t.word):
			best = math.Max(best, 0.8)
		case syn != "" && coverSynonyms[t.word] == syn:
			best = math.Max(best, minSupport)
		}
	}
	return best
}

// Numbers and ranges in an answer: "14 to 16 people", "6 or more", "up to
// 40 guests".
var (
	numberRe  = regexp.MustCompile(`\d+(?:\.\d+)?`)
	rangeRe   = regexp.MustCompile(`(\d+(?:\.\d+)?)\s*(?:to|-|–|and)\s*[£$€]?(\d+(?:\.\d+)?)`)
	atLeastRe = regexp.MustCompile(`(\d+(?:\.\d+)?)\s*(?:or more|or over|\+)|(?:over|at least|more than|minimum of|from)\s+[£$€]?(\d+(?:\.\d+)?)`)
	atMostRe  = regexp.MustCompile(`(?:up to|under|at most|less than|maximum of|no more than)\s+[£$€]?(\d+(?:\.\d+)?)`)
)

// numberSupported reports whether a number asked about ("a cake for 15",
// "a 12-inch cake") is one the answer states, or falls in a range it
// states. A size or quantity the answer does not mention is what it does
// not cover.
func numberSupported(n float64, foldedAnswer string) bool {
	num := func(s string) float64 {
		f, _ := strconv.ParseFloat(s, 64)
		return f
	}
	for _, m := range numberRe.FindAllString(foldedAnswer, -1) {
		if num(m) == n {
			return true
		}
	}
	for _, m := range rangeRe.FindAllStringSubmatch(foldedAnswer, -1) {
		if lo, hi := num(m[1]), num(m[2]); lo <= n && n <= hi {
			return true
		}
	}
	for _, m := range atLeastRe.FindAllStringSubmatch(foldedAnswer, -1) {
		if n >= num(m[1]+m[2]) {
			return true
		}
	}
	for _, m := range atMostRe.FindAllStringSubmatch(foldedAnswer, -1) {
		if n <= num(m[1]) {
			return true
		}
	}
	return false
}
