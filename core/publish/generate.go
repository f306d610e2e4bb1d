package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/post"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/plugins/sdk"
)

// GenerateInput asks for one draft variant per channel.
type GenerateInput struct {
	Brief      string
	ChannelIDs []pulid.ID
	Tone       string
	Language   string
	// PostID, when set, names a DRAFT the variants are written into.
	PostID pulid.ID
}

// Variant is the draft text for one channel.
type Variant struct {
	ChannelID pulid.ID
	Platform  string
	// Text is the whole post, hashtags included, within the platform's
	// limits.
	Text     string
	Hashtags []string
}

// Generated is what Generate returns.
type Generated struct {
	Variants  []Variant
	Citations []schematype.Citation
	Model     string
	Post      *ent.Post
}

// maxBrief bounds a generation brief.
const maxBrief = 4000

// passagesUsed is how many retrieved passages ground a generation.
const passagesUsed = 3

// Generate writes one variant per channel from the brief and the
// workspace's knowledge base, within each platform's limits. It never
// publishes: with PostID it fills a DRAFT.
func (s *Service) Generate(ctx context.Context, in GenerateInput) (*Generated, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAgent); err != nil {
		return nil, err
	}
	in.Brief = strings.TrimSpace(in.Brief)
	if in.Brief == "" || len(in.Brief) > maxBrief {
		return nil, apperr.Invalid("brief", "a brief has 1 to %d bytes", maxBrief)
	}
	if len(in.ChannelIDs) == 0 || len(in.ChannelIDs) > 20 {
		return nil, apperr.Invalid("channelIds", "name 1 to 20 channels")
	}
	if s.Provider == nil || s.Knowledge == nil {
		return nil, apperr.New(apperr.CodeUnavailable, "content generation is not configured")
	}
	var draft *ent.Post
	if in.PostID != "" {
		p, err := load(ctx, s.Store.Ent, in.PostID)
		if err != nil {
			return nil, err
		}
		if p.Status != post.StatusDraft {
			return nil, apperr.New(apperr.CodeConflict, "generation fills a DRAFT post; this one is %s", p.Status)
		}
		draft = p
	}
	type target struct {
		ch   *ent.Channel
		rule sdk.PublishRule
	}
	targets := make([]target, len(in.ChannelIDs))
	for i, id := range in.ChannelIDs {
		ct, err := s.validateTarget(ctx, s.Store.Ent, i, "", nil, TargetInput{ChannelID: id})
		// Only the channel itself matters here: the draft's text and
		// media are what is being written.
		if err != nil && ct.channel == nil {
			return nil, renameField(err, fmt.Sprintf("channelIds[%d]", i))
		}
		if ct.channel == nil || ct.channel.Status != "ACTIVE" {
			return nil, renameField(err, fmt.Sprintf("channelIds[%d]", i))
		}
		info, ierr := s.Connectors.Info(ct.channel.Connector)
		rules := (&sdk.Description{Rules: info.Rules}).RulesFor(ct.channel.Platform)
		if ierr != nil || rules == nil || len(rules.Publish) == 0 {
			return nil, apperr.Invalid(fmt.Sprintf("channelIds[%d]", i), "channel %q cannot publish posts", ct.channel.Name)
		}
		rule := rules.Publish[0]
		if draft != nil {
			for _, t := range draft.Edges.Targets {
				if t.ChannelID == id {
					if r, ok := rules.Format(t.Format); ok {
						rule = r
					}
				}
			}
		}
		targets[i] = target{ch: ct.channel, rule: rule}
	}
	passages, _, err := s.Knowledge.Retrieve(ctx, in.Brief)
	if err != nil {
		return nil, apperr.Unavailable(err, "the knowledge base could not be searched")
	}
	if len(passages) > passagesUsed {
		passages = passages[:passagesUsed]
	}
	// The workspace's choice (core/ai.Chooser): the built-in writer unless
	// it allowed an external model.
	prov, err := ai.Resolve(ctx, s.Provider)
	if err != nil {
		return nil, apperr.Unavailable(err, "the AI provider could not be chosen")
	}
	out := &Generated{Model: prov.Name()}
	used := map[string]bool{}
	for _, t := range targets {
		var v Variant
		var cited []string
		if prov.Name() == "builtin" {
			v, cited = builtinVariant(in.Brief, passages, t.rule)
		} else {
			v, cited, err = s.chatVariant(ctx, prov, in, passages, t.ch.Platform, t.rule)
			if err != nil {
				return nil, err
			}
		}
		v.ChannelID, v.Platform = t.ch.ID, t.ch.Platform
		fit(&v, t.rule)
		out.Variants = append(out.Variants, v)
		for _, id := range cited {
			used[id] = true
		}
	}
	for _, p := range passages {
		if used[p.ID] {
			out.Citations = append(out.Citations, schematype.Citation{DocumentID: p.DocumentID, ChunkID: pulid.ID(p.ID),
				Title: p.Title, Snippet: knowledge.Snippet(p.Text, 160)})
		}
	}
	if draft != nil {
		ts := make([]TargetInput, len(out.Variants))
		for i, v := range out.Variants {
			text := v.Text
			ts[i] = TargetInput{ChannelID: v.ChannelID, Text: &text}
			for _, t := range draft.Edges.Targets {
				if t.ChannelID == v.ChannelID {
					ts[i].Options = t.Options
				}
			}
		}
		text := out.Variants[0].Text
		p, err := s.Update(ctx, draft.ID, PostUpdate{Text: &text, Targets: ts, SetTargets: true})
		if err != nil {
			return nil, err
		}
		out.Post = p
	}
	// What was asked of which provider (the brief is not recorded).
	postID := ""
	if draft != nil {
		postID = string(draft.ID)
	}
	if err := audit.Record(ctx, s.Store.Ent, "post.generate", "post", postID, map[string]string{
		"channels": strconv.Itoa(len(in.ChannelIDs)), "provider": prov.Name()}); err != nil {
		return nil, err
	}
	return out, nil
}

func renameField(err error, field string) error {
	if ae, ok := err.(*apperr.Error); ok {
		cp := *ae
		cp.Field = field
		return &cp
	}
	return err
}

var (
	wordRE     = regexp.MustCompile(`[\p{L}\p{N}]+`)
	sentenceRE = regexp.MustCompile(`[^.!?\n]+[.!?]?`)
)

var stopwords = map[string]bool{
	"this": true, "that": true, "with": true, "from": true, "your": true, "have": true, "will": true, "about": true,
	"their": true, "there": true, "what": true, "when": true, "which": true, "into": true, "more": true, "them": true,
	"than": true, "then": true, "they": true, "were": true, "been": true, "also": true, "just": true, "only": true,
	"over": true, "some": true, "such": true, "very": true, "each": true, "every": true, "post": true, "announce": true,
}

// builtinVariant is the offline provider's honest draft: the brief as
// written, then the first sentence of the best knowledge-base passage
// (cited), then hashtags from the brief's most frequent words. It invents
// nothing and does not rephrase.
func builtinVariant(brief string, passages []knowledge.Passage, rule sdk.PublishRule) (Variant, []string) {
	text := strings.TrimSpace(brief)
	var cited []string
	if len(passages) > 0 && passages[0].Score > 0 {
		if m := sentenceRE.FindString(strings.TrimSpace(passages[0].Text)); strings.TrimSpace(m) != "" {
			text += "\n\n" + strings.TrimSpace(m)
			cited = append(cited, passages[0].ID)
		}
	}
	tags := hashtagsFrom(brief, 3)
	if rule.MaxHashtags > 0 && len(tags) > rule.MaxHashtags {
		tags = tags[:rule.MaxHashtags]
	}
	return Variant{Text: text, Hashtags: tags}, cited
}

// hashtagsFrom picks up to n hashtags from the most frequent significant
// words of text.
func hashtagsFrom(text string, n int) []string {
	count := map[string]int{}
	first := map[string]int{}
	for i, w := range wordRE.FindAllString(strings.ToLower(text), -1) {
		if len([]rune(w)) < 4 || stopwords[w] {
			continue
		}
		if _, ok := first[w]; !ok {
			first[w] = i
		}
		count[w]++
	}
	words := make([]string, 0, len(count))
	for w := range count {
		words = append(words, w)
	}
	sort.Slice(words, func(i, j int) bool {
		if count[words[i]] != count[words[j]] {
			return count[words[i]] > count[words[j]]
		}
		return first[words[i]] < first[words[j]]
	})
	if len(words) > n {
		words = words[:n]
	}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = "#" + w
	}
	return out
}

// fit keeps a variant within the platform's limits: the hashtags are
// appended when they fit (dropped first when the text is long), the body
// is cut at a word with an ellipsis.
func fit(v *Variant, rule sdk.PublishRule) {
	body := strings.TrimSpace(v.Text)
	if rule.MaxHashtags > 0 {
		room := max(rule.MaxHashtags-sdk.Hashtags(body), 0)
		if len(v.Hashtags) > room {
			v.Hashtags = v.Hashtags[:room]
		}
	}
	tagLine := strings.Join(v.Hashtags, " ")
	maxLen := rule.MaxTextLength
	if maxLen > 0 && tagLine != "" && sdk.TextLength(body)+2+sdk.TextLength(tagLine) > maxLen {
		if maxLen-2-sdk.TextLength(tagLine) < maxLen/2 {
			v.Hashtags, tagLine = nil, ""
		} else {
			body = cut(body, maxLen-2-sdk.TextLength(tagLine))
		}
	}
	if maxLen > 0 {
		body = cut(body, maxLen)
	}
	if tagLine != "" {
		body += "\n\n" + tagLine
	}
	if v.Hashtags == nil {
		v.Hashtags = []string{}
	}
	v.Text = body
}

// cut shortens s to at most n characters, at a word, with an ellipsis.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	c := string(r[:max(n-1, 0)])
	if i := strings.LastIndexAny(c, " \n"); i > len(c)/2 {
		c = c[:i]
	}
	return strings.TrimSpace(c) + "…"
}

// chatVariant asks a chat model for one variant, grounded in passages.
func (s *Service) chatVariant(ctx context.Context, prov ai.Provider, in GenerateInput, passages []knowledge.Passage, platform string, rule sdk.PublishRule) (Variant, []string, error) {
	var src strings.Builder
	for _, p := range passages {
		fmt.Fprintf(&src, "[%s] %s\n%s\n\n", p.ID, p.Title, p.Text)
	}
	maxLen := rule.MaxTextLength
	if maxLen == 0 {
		maxLen = 2000
	}
	sys := "You write social media posts for a business. Use only facts from the brief and the sources; never invent prices, dates or offers. " +
		fmt.Sprintf("Platform: %s (%s). The post, hashtags included, has at most %d characters", platform, rule.Format, maxLen)
	if rule.MaxHashtags > 0 {
		sys += fmt.Sprintf(" and at most %d hashtags", rule.MaxHashtags)
	}
	sys += ". Reply with a JSON object: {\"text\": the post without hashtags, \"hashtags\": [\"#tag\", …], \"sources\": [ids of the sources you used]}."
	if in.Tone != "" {
		sys += " Tone: " + in.Tone + "."
	}
	if in.Language != "" {
		sys += " Write in this language: " + in.Language + "."
	}
	temp := 0.7
	resp, err := prov.Chat(ctx, ai.ChatRequest{JSON: true, Temperature: &temp, MaxTokens: 800, Messages: []ai.Message{
		{Role: ai.RoleSystem, Content: sys},
		{Role: ai.RoleUser, Content: "Brief: " + in.Brief + "\n\nSources:\n" + src.String()},
	}})
	if err != nil {
		return Variant{}, nil, apperr.Unavailable(err, "the model could not write the post")
	}
	var out struct {
		Text     string   `json:"text"`
		Hashtags []string `json:"hashtags"`
		Sources  []string `json:"sources"`
	}
	raw := strings.TrimSpace(resp.Content)
	if i := strings.Index(raw, "{"); i >= 0 {
		raw = raw[i:]
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil || strings.TrimSpace(out.Text) == "" {
		return Variant{}, nil, apperr.New(apperr.CodeUnavailable, "the model's answer was not a post: try again")
	}
	var tags []string
	for _, h := range out.Hashtags {
		h = "#" + strings.TrimLeft(strings.TrimSpace(h), "#")
		if len(h) > 1 && !strings.ContainsAny(h, " \t\n") {
			tags = append(tags, h)
		}
	}
	if rule.MaxHashtags > 0 && len(tags) > rule.MaxHashtags {
		tags = tags[:rule.MaxHashtags]
	}
	known := map[string]bool{}
	for _, p := range passages {
		known[p.ID] = true
	}
	var cited []string
	for _, id := range out.Sources {
		if known[id] {
			cited = append(cited, id)
		}
	}
	return Variant{Text: strings.TrimSpace(out.Text), Hashtags: tags}, cited, nil
}
