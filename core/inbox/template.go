package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// Template is an approved message template of a channel's account
// (WhatsApp), as whatsappTemplates shows it.
type Template struct {
	Name       string
	Language   string
	Category   string
	Status     string
	Components []map[string]any
	// Body is the BODY component's text, with its placeholders.
	Body string
	// Parameters is how many body parameters a send takes.
	Parameters int
}

// TemplateCacheTTL is how long a channel's templates are reused before
// they are listed again: sends check against them, and a template
// approved meanwhile is found by the listing a miss triggers.
const TemplateCacheTTL = 5 * time.Minute

// Message type and metadata of a template send.
const (
	TypeTemplate           = "template"
	metaTemplateName       = "template_name"
	metaTemplateLanguage   = "template_language"
	metaTemplateComponents = "template_components"
)

type cachedTemplates struct {
	list []*sdk.TemplateInfo
	at   time.Time
}

type templateCache struct {
	once sync.Once
	lru  *expirable.LRU[pulid.ID, cachedTemplates]
}

func (c *templateCache) get() *expirable.LRU[pulid.ID, cachedTemplates] {
	c.once.Do(func() { c.lru = expirable.NewLRU[pulid.ID, cachedTemplates](1024, nil, TemplateCacheTTL) })
	return c.lru
}

// Templates lists the approved templates of a channel's account.
func (s *Service) Templates(ctx context.Context, channelID pulid.ID) ([]*Template, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAgent); err != nil {
		return nil, err
	}
	ch, err := s.Store.Ent.Channel.Get(ctx, channelID)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("channel")
	}
	if err != nil {
		return nil, err
	}
	list, _, err := s.listTemplates(ctx, ch, false)
	if err != nil {
		return nil, err
	}
	out := make([]*Template, 0, len(list))
	for _, t := range list {
		out = append(out, toTemplate(t))
	}
	return out, nil
}

func toTemplate(t *sdk.TemplateInfo) *Template {
	out := &Template{Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status,
		Parameters: t.BodyParameters, Components: []map[string]any{}}
	_ = json.Unmarshal(t.ComponentsJSON, &out.Components) // as given; none when unreadable
	out.Body = templateBody(t.ComponentsJSON)
	return out
}

// templateBody is the text of a template's BODY component.
func templateBody(components []byte) string {
	var comps []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(components, &comps) != nil {
		return ""
	}
	for _, c := range comps {
		if strings.EqualFold(c.Type, "BODY") {
			return c.Text
		}
	}
	return ""
}

// listTemplates returns the channel's templates, from the cache unless
// fresh is set; cached reports whether they came from it.
func (s *Service) listTemplates(ctx context.Context, ch *ent.Channel, fresh bool) (list []*sdk.TemplateInfo, cached bool, err error) {
	if ch.Status == entchannel.StatusDisconnected {
		return nil, false, apperr.New(apperr.CodeConflict, "the channel is disconnected")
	}
	if !s.hasCapability(ctx, ch.Connector, sdk.CapListTemplates) {
		return nil, false, apperr.Invalid("channelId", "%s channels have no message templates (WhatsApp channels do)", ch.Platform)
	}
	if !fresh {
		if c, ok := s.templates.get().Get(ch.ID); ok {
			return c.list, true, nil
		}
	}
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return nil, false, apperr.Unavailable(err, "connector %s unavailable", ch.Connector)
	}
	lister, ok := conn.(sdk.TemplateLister)
	if !ok {
		return nil, false, apperr.Invalid("channelId", "%s channels have no message templates", ch.Platform)
	}
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return nil, false, apperr.New(apperr.CodeConflict, "the channel's credentials are unavailable: reconnect it")
	}
	list, err = lister.ListTemplates(ctx, &sdk.CredentialsRequest{App: s.Channels.AppFor(ch), Credentials: withPlatform(creds, ch.Platform), AccountID: ch.ExternalID})
	switch sdk.ClassOf(err) {
	case "":
	case sdk.ClassRetryable:
		return nil, false, apperr.Unavailable(err, "could not reach the platform to list the templates; try again")
	case sdk.ClassAuthRevoked:
		return nil, false, apperr.New(apperr.CodeConflict, "the platform refused the channel's token: reconnect the channel (%s)", sdkMessage(err))
	case sdk.ClassUnsupported:
		return nil, false, apperr.Invalid("channelId", "%s channels have no message templates", ch.Platform)
	default:
		return nil, false, apperr.Invalid("channelId", "the platform refused to list the templates: %s", sdkMessage(err))
	}
	list = slices.DeleteFunc(slices.Clone(list), func(t *sdk.TemplateInfo) bool {
		return t == nil || !strings.EqualFold(t.Status, "APPROVED") && t.Status != ""
	})
	s.templates.get().Add(ch.ID, cachedTemplates{list: list, at: s.now()})
	return list, false, nil
}

func sdkMessage(err error) string {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se.Message
	}
	return err.Error()
}

func withPlatform(c sdk.Credentials, platform string) sdk.Credentials {
	extra := make(map[string]string, len(c.Extra)+1)
	for k, v := range c.Extra {
		extra[k] = v
	}
	// Connectors serving several platforms tell them apart by this.
	extra["platform"] = platform
	c.Extra = extra
	return c
}

// TemplateSend is what sendTemplate takes.
type TemplateSend struct {
	ConversationID pulid.ID
	Name           string
	Language       string
	// Parameters fill the body's placeholders, in order.
	Parameters []string
}

// MaxTemplateParameterChars bounds one parameter (WhatsApp's limit on a
// body parameter's text).
const MaxTemplateParameterChars = 1024

// SendTemplate stores an approved template as an outbound message (type
// template, its text the rendered body) and queues its delivery, like a
// reply. The template must exist and be approved and the parameters must
// match its placeholders, or nothing is stored. It is allowed outside the
// reply window where the platform takes templates there (WhatsApp).
func (s *Service) SendTemplate(ctx context.Context, in TemplateSend) (*ent.Message, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	in.Name, in.Language = strings.TrimSpace(in.Name), strings.TrimSpace(in.Language)
	if in.Name == "" {
		return nil, apperr.Invalid("name", "name is required")
	}
	if in.Language == "" {
		return nil, apperr.Invalid("language", "language is required (e.g. en_US)")
	}
	for i, p := range in.Parameters {
		switch {
		case strings.TrimSpace(p) == "":
			return nil, apperr.Invalid("parameters", "parameter %d is empty", i+1)
		case strings.ContainsAny(p, "\n\t"):
			return nil, apperr.Invalid("parameters", "parameter %d holds a new line or a tab, which WhatsApp refuses in parameters", i+1)
		case len([]rune(p)) > MaxTemplateParameterChars:
			return nil, apperr.Invalid("parameters", "parameter %d is longer than %d characters", i+1, MaxTemplateParameterChars)
		}
	}
	conv, err := s.Store.Ent.Conversation.Query().Where(conversation.ID(in.ConversationID)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("conversation")
	}
	if err != nil {
		return nil, err
	}
	ch := conv.Edges.Channel
	if conv.Kind != conversation.KindDirectMessage {
		return nil, apperr.Invalid("conversationId", "templates are sent in direct conversations only")
	}
	// Found in the cache, or listed afresh when the cache does not have
	// it (approved since it was filled).
	var t *sdk.TemplateInfo
	for fresh := false; ; fresh = true {
		list, cached, err := s.listTemplates(ctx, ch, fresh)
		if err != nil {
			var ae *apperr.Error
			if errors.As(err, &ae) && ae.Code == apperr.CodeBadUserInput {
				return nil, apperr.Invalid("conversationId", "%s", ae.Message)
			}
			return nil, err
		}
		if i := slices.IndexFunc(list, func(x *sdk.TemplateInfo) bool {
			return x.Name == in.Name && strings.EqualFold(x.Language, in.Language)
		}); i >= 0 {
			t = list[i]
		}
		if t != nil || !cached {
			if t == nil {
				return nil, apperr.Invalid("name", "the account has no approved template %q in language %q: whatsappTemplates lists those it has%s",
					in.Name, in.Language, otherLanguages(list, in.Name))
			}
			break
		}
	}
	if len(in.Parameters) != t.BodyParameters {
		return nil, apperr.Invalid("parameters", "template %q (%s) takes %d body parameters, %d were given", t.Name, t.Language, t.BodyParameters, len(in.Parameters))
	}
	components, err := bodyComponents(in.Parameters)
	if err != nil {
		return nil, err
	}
	body := renderTemplate(templateBody(t.ComponentsJSON), in.Parameters)
	if body == "" {
		body = t.Name
	}
	var out *ent.Message
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		// Checked again under the conversation's reply lock, as replies are.
		if err := tx.Lock(ctx, "replies:"+string(conv.ID)); err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		cur, err := tx.Ent.Conversation.Query().Where(conversation.ID(conv.ID)).WithChannel().Only(ctx)
		if err != nil {
			return fmt.Errorf("inbox: loading conversation: %w", err)
		}
		if cur.Edges.Channel.Status == entchannel.StatusDisconnected {
			return apperr.New(apperr.CodeConflict, "the conversation's channel is disconnected")
		}
		st, err := s.ReplyWindow(ctx, tx.Ent, cur.Edges.Channel, cur, message.AuthorKindAgent)
		if err != nil {
			return err
		}
		if st.Closed && !st.TemplatesAllowed {
			return windowError(st)
		}
		now := s.now()
		meta := map[string]string{metaTemplateName: t.Name, metaTemplateLanguage: t.Language}
		if components != "" {
			meta[metaTemplateComponents] = components
		}
		out, err = tx.Ent.Message.Create().
			SetWorkspaceID(pulid.ID(v.WorkspaceID)).
			SetConversationID(cur.ID).
			SetChannelID(cur.ChannelID).
			SetDirection(message.DirectionOutbound).
			SetAuthorKind(message.AuthorKindAgent).
			SetAuthorID(v.Actor()).
			SetType(TypeTemplate).
			SetText(body).
			SetMetadata(meta).
			SetDeliveryStatus(message.DeliveryStatusPending).
			SetSentAt(now).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("inbox: storing template message: %w", err)
		}
		if err := tx.Ent.Conversation.UpdateOneID(cur.ID).SetLastMessageAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: touching conversation: %w", err)
		}
		if err := tx.InsertJob(ctx, jobargs.OutboundDeliver{WorkspaceID: v.WorkspaceID, MessageID: string(out.ID)}, nil); err != nil {
			return err
		}
		tx.Emit(event.Event{Type: event.MessageAdded, WorkspaceID: v.WorkspaceID, ObjectID: string(out.ID),
			ConversationID: string(cur.ID), ChannelID: string(cur.ChannelID)})
		return audit.Record(ctx, tx.Ent, "message.template.send", "Message", string(out.ID),
			map[string]string{"conversation": string(cur.ID), "template": t.Name, "language": t.Language})
	})
	if err != nil {
		return nil, err
	}
	return s.Store.Ent.Message.Get(ctx, out.ID)
}

// otherLanguages names the languages a template exists in, when it does
// in others.
func otherLanguages(list []*sdk.TemplateInfo, name string) string {
	var langs []string
	for _, t := range list {
		if t.Name == name {
			langs = append(langs, t.Language)
		}
	}
	if len(langs) == 0 {
		return ""
	}
	return " (" + name + " exists in " + strings.Join(langs, ", ") + ")"
}

// bodyComponents is the components array that fills a template's body
// parameters, in order; empty without parameters.
func bodyComponents(params []string) (string, error) {
	if len(params) == 0 {
		return "", nil
	}
	type param struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	ps := make([]param, len(params))
	for i, p := range params {
		ps[i] = param{Type: "text", Text: p}
	}
	b, err := json.Marshal([]map[string]any{{"type": "body", "parameters": ps}})
	if err != nil {
		return "", fmt.Errorf("inbox: template components: %w", err)
	}
	return string(b), nil
}

var templatePlaceholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// renderTemplate fills a body's placeholders with params: {{n}} takes the
// n-th, named ones take them in the order they first appear (as the
// platform counts them).
func renderTemplate(body string, params []string) string {
	order := map[string]int{}
	return templatePlaceholder.ReplaceAllStringFunc(body, func(m string) string {
		key := templatePlaceholder.FindStringSubmatch(m)[1]
		i, err := strconv.Atoi(key)
		if err != nil {
			n, seen := order[key]
			if !seen {
				n = len(order) + 1
				order[key] = n
			}
			i = n
		}
		if i < 1 || i > len(params) {
			return m
		}
		return params[i-1]
	})
}

// templateRequest fills a send of a stored template message.
func templateRequest(msg *ent.Message, req *sdk.SendRequest) {
	req.Template = &sdk.Template{Name: msg.Metadata[metaTemplateName], Language: msg.Metadata[metaTemplateLanguage]}
	if c := msg.Metadata[metaTemplateComponents]; c != "" {
		req.Template.ComponentsJSON = []byte(c)
	}
	req.Text = ""
}
