package builtin

import (
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/neksio/neksio/core/ai"
)

// The lexicon sentiment model follows VADER's recipe (Hutto & Gilbert, 2014):
// word valences in [-4,4], negation flips and dampens, boosters and caps
// amplify, "but" shifts weight to what follows, exclamation marks add
// emphasis, and the sum is squashed into [-1,1]. The lexicon is written for
// customer messages, comments and reviews, with social slang and emoji.

// lexicon holds word valences. Keys are folded and stemless: lookups try the
// word as written, with elongations collapsed ("soooo" → "soo", "so").
var lexicon = parseValences(`
love:3.2 loved:3 loving:2.8 loves:3 lovely:2.8 like:1.3 liked:1.5 likes:1.3 enjoy:2.2 enjoyed:2.3
great:3.1 good:1.9 nice:1.8 fine:0.8 ok:0.3 okay:0.3 decent:1.2 solid:1.3 fantastic:3.4 amazing:3.4
awesome:3.3 excellent:3.4 perfect:3.2 wonderful:3.2 brilliant:3.1 superb:3.2 outstanding:3.3 best:3.2
better:1.9 beautiful:2.9 delicious:3 tasty:2.5 yummy:2.6 yum:2.4 fresh:1.6 friendly:2.2 helpful:2.2
kind:1.8 fast:1.3 quick:1.3 quickly:1.2 clean:1.5 cozy:1.8 cosy:1.8 happy:2.7 glad:2 pleased:2.1
satisfied:1.9 recommend:2 recommended:2 thanks:1.6 thank:1.6 thankyou:1.8 grateful:2.3 appreciate:2.1
appreciated:2.1 impressed:2.4 favourite:2.2 favorite:2.2 fav:2 fave:2 wow:2.3 yay:2.4 cute:2
welcoming:2.1 polite:1.8 professional:1.5 reliable:1.7 worth:1.5 fair:1.2 cheap:0.6 affordable:1.5
exceptional:3.2 incredible:3 gorgeous:3 stunning:3 fab:2.6 fabulous:3 legend:2.5 legendary:2.6
lit:2 dope:2.2 fire:1.8 goat:2.3 slaps:2.3 bomb:2 banger:2.3 vibes:1.2 vibe:1 lol:1.2 lmao:1.4
haha:1.5 hahaha:1.6 xd:1.6 heaven:2.5 heavenly:2.8 win:2 winner:2.4 congrats:2.4 congratulations:2.6
bad:-2.5 worse:-2.6 worst:-3.4 awful:-3.1 terrible:-3.2 horrible:-3.3 horrendous:-3.3 disgusting:-3.3
gross:-2.6 nasty:-2.7 poor:-2.1 mediocre:-1.3 bland:-1.5 stale:-2 cold:-0.8 soggy:-1.8 burnt:-1.8
overpriced:-2.2 expensive:-1.2 pricey:-0.9 slow:-1.6 late:-1.4 rude:-2.8 unfriendly:-2.3 dirty:-2.4
filthy:-2.9 broken:-1.9 wrong:-1.8 missing:-1.6 cancelled:-1.3 canceled:-1.3 refund:-0.5 complaint:-1.8
complain:-1.7 disappointed:-2.4 disappointing:-2.4 disappointment:-2.4 annoyed:-2.1 annoying:-2.1
angry:-2.8 furious:-3.3 upset:-2.2 mad:-2.1 sad:-2.1 unhappy:-2.3 hate:-3.1 hated:-3 hates:-3
sucks:-2.6 suck:-2.5 sucked:-2.5 trash:-2.7 garbage:-2.8 rubbish:-2.5 crap:-2.6 crappy:-2.6 shit:-2.6
shitty:-2.9 joke:-1.5 scam:-3.2 scammed:-3.3 ripoff:-3 fraud:-3.2 liar:-2.8 lies:-2.2 useless:-2.6
pathetic:-2.9 ridiculous:-2.2 unacceptable:-2.9 ignored:-2.2 ignoring:-2.1 waited:-0.8 waiting:-0.6
meh:-1 ugh:-1.8 smh:-1.5 wtf:-2.4 fml:-2 yikes:-1.6 lame:-1.8 mid:-1 sick:-1.5 ill:-1.8 poisoning:-3
problem:-1.5 problems:-1.5 issue:-1 issues:-1.1 fail:-2.2 failed:-2.2 failure:-2.3 mess:-1.8 messed:-1.9
never:-0.3 worried:-1.6 worry:-1.4 fear:-1.8 afraid:-1.8 sorry:-0.6 shame:-1.9 shameful:-2.5
avoid:-1.9 regret:-2.2 hopeless:-2.5 incompetent:-2.8 unprofessional:-2.5 nightmare:-3 dreadful:-3
`)

// phraseLexicon catches multi-word expressions whose parts mislead.
var phraseLexicon = map[string]float64{
	"never again": -2.8, "waste of money": -3, "waste of time": -2.8, "rip off": -3, "not worth": -2.2,
	"thank you": 1.8, "well done": 2.4, "highly recommend": 3, "food poisoning": -3.2, "no problem": 1,
	"no worries": 1.2, "cant wait": 2, "not bad": 1.2, "on point": 2.2, "hit the spot": 2.4,
	"fell apart": -2, "over it": -1.5, "fed up": -2.4, "sick of": -2.4, "let down": -2.2,
}

// emojiValence includes emoticons typed as text.
var emojiValence = map[string]float64{
	"😡": -3.2, "🤬": -3.6, "😠": -2.7, "😤": -2, "😞": -2.2, "😔": -1.8, "😢": -2.1, "😭": -1.6,
	"😩": -2, "😫": -2, "👎": -2.6, "💩": -2.2, "🙄": -1.6, "😒": -1.7, "🤮": -3, "🤢": -2.6, "💔": -2.7,
	"😕": -1.2, "😟": -1.5, "😖": -2, "😣": -1.8, "😓": -1.3, "🙁": -1.6, "☹": -2,
	"👍": 2, "❤": 3, "♥": 2.8, "😍": 3.1, "🥰": 3.1, "😊": 2.2, "🙂": 1.4, "😀": 2.1, "😃": 2.2,
	"😄": 2.3, "😁": 2.2, "😂": 1.5, "🤣": 1.6, "🔥": 1.6, "💯": 1.6, "👏": 2, "🙌": 2.2, "🙏": 1.2,
	"✨": 1.1, "🎉": 2.2, "😋": 2.6, "💕": 2.7, "💖": 2.8, "💗": 2.7, "💙": 2.6, "💚": 2.6, "💜": 2.6,
	"🧡": 2.6, "💛": 2.6, "⭐": 1.2, "🌟": 1.6, "🤩": 3, "😎": 1.6, "😘": 2.6, "🥳": 2.6, "👌": 1.8,
	":)": 2, ":-)": 2, ":D": 2.6, ":-D": 2.6, ";)": 1.5, ";-)": 1.5, "<3": 3, ":P": 1.2, ":p": 1.2,
	"xD": 2, "XD": 2, "=)": 1.8, ":]": 1.8, "^^": 1.5, "^_^": 1.8,
	":(": -2, ":-(": -2, ":'(": -2.5, ">:(": -3, ":/": -1, ":-/": -1, ":|": -0.6, "=(": -1.9,
	":@": -2.5, "D:": -2, "</3": -2.7,
}

var negations = setOf(`not no never none nobody nothing neither nor nowhere cannot cant dont doesnt didnt
isnt arent wasnt werent wont wouldnt shouldnt couldnt aint hasnt havent hadnt without hardly barely`)

var boosters = map[string]float64{
	"very": 0.293, "so": 0.293, "soo": 0.293, "really": 0.293, "extremely": 0.35, "super": 0.3,
	"absolutely": 0.35, "totally": 0.3, "incredibly": 0.35, "completely": 0.3, "utterly": 0.35,
	"truly": 0.29, "too": 0.2, "most": 0.25, "damn": 0.3, "freaking": 0.3, "fucking": 0.35,
	"hella": 0.3, "mega": 0.3, "such": 0.2, "quite": 0.15, "way": 0.2,
	"slightly": -0.293, "somewhat": -0.293, "kinda": -0.293, "kind of": -0.293, "sorta": -0.293,
	"sort of": -0.293, "a bit": -0.25, "little": -0.2, "fairly": -0.2, "almost": -0.2,
	"partly": -0.25, "marginally": -0.3,
}

const (
	negationScalar = -0.74 // VADER's N_SCALAR
	capsIncrement  = 0.733
	exclaimBoost   = 0.292
	compoundAlpha  = 15.0
)

func parseValences(s string) map[string]float64 {
	m := map[string]float64{}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, ":")
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic("ai: bad lexicon entry " + f)
		}
		m[k] = x
	}
	return m
}

// sToken is one sentiment token: a word (folded) or an emoji/emoticon.
type sToken struct {
	word  string // folded word, "" for emoji
	emoji string
	caps  bool // written in ALL CAPS
}

// sentimentTokens keeps emoticons whole, splits emoji into their own tokens
// and folds words.
func sentimentTokens(text string) []sToken {
	var out []sToken
	for _, field := range strings.Fields(text) {
		trimmed := strings.TrimRight(field, ".,!?")
		if _, ok := emojiValence[trimmed]; ok && !isWordy(trimmed) {
			out = append(out, sToken{emoji: trimmed})
			continue
		}
		var cur []rune
		flush := func() {
			if len(cur) == 0 {
				return
			}
			raw := string(cur)
			caps := len(cur) > 1 && strings.ToUpper(raw) == raw && strings.ToLower(raw) != raw
			for _, w := range rawWords(fold(raw)) {
				out = append(out, sToken{word: w, caps: caps})
			}
			cur = cur[:0]
		}
		for _, r := range field {
			switch {
			case r == 0xFE0F || r == 0x200D: // variation selector, joiner
			case isEmoji(r):
				flush()
				if _, ok := emojiValence[string(r)]; ok {
					out = append(out, sToken{emoji: string(r)})
				}
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’':
				cur = append(cur, r)
			default:
				flush()
			}
		}
		flush()
	}
	return out
}

func isWordy(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

func isEmoji(r rune) bool {
	return r >= 0x1F300 && r <= 0x1FAFF || r >= 0x2600 && r <= 0x27BF || r == 0x2B50
}

// collapse shortens runs of three or more equal letters ("sooooo" → "soo").
func collapse(w string, keep int) string {
	var b strings.Builder
	var last rune
	n := 0
	for _, r := range w {
		if r == last {
			n++
		} else {
			last, n = r, 1
		}
		if n <= keep {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func lookupValence(w string) (float64, bool) {
	if v, ok := lexicon[w]; ok {
		return v, true
	}
	for _, k := range []int{2, 1} {
		if c := collapse(w, k); c != w {
			if v, ok := lexicon[c]; ok {
				return v, true
			}
		}
	}
	return 0, false
}

// LexiconSentiment scores text with the built-in lexicon model. It is what the
// built-in provider's Sentiment returns and the OpenAI provider's fallback.
func LexiconSentiment(text string) ai.Sentiment {
	toks := sentimentTokens(text)
	if len(toks) == 0 {
		return ai.Sentiment{Label: ai.SentimentNeutral}
	}
	allCaps := true
	for _, t := range toks {
		if t.word != "" && !t.caps && isWordy(t.word) && len(t.word) > 1 {
			allCaps = false
			break
		}
	}
	valences := make([]float64, len(toks))
	consumed := make([]bool, len(toks))
	// Phrases first, so their words are not scored again.
	for i := range toks {
		for n := 3; n >= 2; n-- {
			if i+n > len(toks) {
				continue
			}
			words := make([]string, 0, n)
			for _, t := range toks[i : i+n] {
				words = append(words, t.word)
			}
			if v, ok := phraseLexicon[strings.Join(words, " ")]; ok && !consumed[i] {
				valences[i] = v
				for j := i; j < i+n; j++ {
					consumed[j] = true
				}
				if i > 0 && negations[toks[i-1].word] && words[0] != "not" && words[0] != "no" && words[0] != "never" {
					valences[i] *= negationScalar
				}
			}
		}
	}
	butAt := -1
	for i, t := range toks {
		if t.word == "but" || t.word == "however" || t.word == "although" || t.word == "tho" || t.word == "though" {
			butAt = i
		}
		if consumed[i] {
			continue
		}
		var v float64
		if t.emoji != "" {
			v = emojiValence[t.emoji]
			valences[i] = v
			continue
		}
		var ok bool
		if v, ok = lookupValence(t.word); !ok || boosters[t.word] != 0 {
			continue
		}
		if (t.word == "kind" || t.word == "sort") && safeWord(toks, i+1) == "of" {
			continue // "kind of" is a dampener, not kindness
		}
		if t.caps && !allCaps {
			v += math.Copysign(capsIncrement, v)
		}
		// Look back up to three tokens for boosters and negations.
		negated := false
		for d := 1; d <= 3 && i-d >= 0; d++ {
			p := toks[i-d]
			if p.emoji != "" {
				break
			}
			decay := []float64{1, 1, 0.95, 0.9}[d]
			if b, ok := boosters[p.word]; ok {
				scalar := b
				if p.caps && !allCaps {
					scalar += math.Copysign(capsIncrement*0.4, b)
				}
				// boosters push away from zero, dampeners toward it
				v += scalar * decay * sign(v)
			}
			if d == 2 {
				// two-word dampeners: "kind of", "a bit", "sort of"
				if b, ok := boosters[p.word+" "+toks[i-1].word]; ok {
					v += b * sign(v)
				}
			}
			if negations[p.word] {
				negated = !negated
			}
		}
		if negated {
			v *= negationScalar
		}
		valences[i] = v
	}
	if butAt >= 0 {
		for i := range valences {
			if i < butAt {
				valences[i] *= 0.5
			} else if i > butAt {
				valences[i] *= 1.5
			}
		}
	}
	var sum float64
	for _, v := range valences {
		sum += v
	}
	if sum != 0 {
		ex := math.Min(float64(strings.Count(text, "!")), 4)
		sum += math.Copysign(ex*exclaimBoost, sum)
	}
	score := sum / math.Sqrt(sum*sum+compoundAlpha)
	score = math.Max(-1, math.Min(1, score))
	return ai.Sentiment{Label: ai.LabelFor(score), Score: math.Round(score*1000) / 1000}
}

func safeWord(toks []sToken, i int) string {
	if i < 0 || i >= len(toks) {
		return ""
	}
	return toks[i].word
}

// handoffNouns are who a customer asks for when they want a person.
var handoffNouns = setOf(`human humans person people agent agents representative rep operator manager
supervisor staff someone somebody employee owner advisor`)

// handoffCues turn a nearby noun into a request ("talk to a person").
var handoffCues = setOf(`talk speak chat connect transfer put get want need real actual live
give call reach contact`)

// contactVerbs after a person noun ask that person to get in touch.
var contactVerbs = setOf(`call ring phone contact reach email`)

// botQuestions are ways of asking whether you are talking to a machine.
var botPhrases = []string{
	"are you a bot", "are you a robot", "is this a bot", "is this a robot", "r u a bot", "are you real",
	"are you human", "r u human", "is this automated", "not a bot", "no bots", "no bot", "stop the bot",
	"real person", "real human", "actual human", "actual person",
	"live agent", "live person", "human please", "agent please", "person please",
	"human pls", "agent pls", "operator please",
}

// WantsHuman reports whether a message asks to deal with a person rather than
// the agent: "talk to a person", "real human", "agent please", "are you a
// bot?". extraKeywords are the workspace's own handoff phrases, matched
// case- and accent-insensitively on word boundaries.
func WantsHuman(text string, extraKeywords []string) bool {
	words := rawWords(fold(text))
	for i, w := range words {
		if e, ok := slang[w]; ok && len(e) == 1 {
			words[i] = e[0]
		}
	}
	joined := " " + strings.Join(words, " ") + " "
	for _, p := range botPhrases {
		if strings.Contains(joined, " "+p+" ") {
			return true
		}
	}
	for _, k := range extraKeywords {
		kw := strings.Join(rawWords(fold(k)), " ")
		if kw != "" && strings.Contains(joined, " "+kw+" ") {
			return true
		}
	}
	for i, w := range words {
		if !handoffNouns[w] {
			continue
		}
		// "someone" and "people" are requests only with a verb of contact,
		// not with "need"/"want" ("I need someone to fix this" is still
		// something the agent may answer).
		weak := w == "someone" || w == "somebody" || w == "people"
		for d := 1; d <= 4 && i-d >= 0; d++ {
			c := words[i-d]
			if handoffCues[c] && (!weak || (c != "need" && c != "want" && c != "get")) {
				return true
			}
		}
		if !weak && i+1 < len(words) && (words[i+1] == "please" || words[i+1] == "now") {
			return true
		}
		// "can someone from your team call me"
		for d := 1; d <= 4 && i+d < len(words); d++ {
			if contactVerbs[words[i+d]] {
				return true
			}
		}
	}
	return false
}

func sign(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}
