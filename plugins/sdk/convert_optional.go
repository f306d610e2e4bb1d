package sdk

import (
	"time"

	pb "github.com/neksio/neksio/plugins/sdk/internal/genproto/connector/v1"
)

// Converters of the messages added in protocol 1.1.

func postToProto(p *Post) *pb.Post {
	if p == nil {
		return nil
	}
	out := &pb.Post{
		Format:      p.Format,
		Title:       p.Title,
		Text:        p.Text,
		Link:        p.Link,
		ScheduledAt: tsToProto(p.ScheduledAt),
		Options:     mapCopy(p.Options),
	}
	for _, m := range p.Media {
		out.Media = append(out.Media, &pb.Media{Type: m.Type, Url: m.URL})
	}
	return out
}

// postFromProto returns nil for an absent post, an empty one for a
// present but empty post.
func postFromProto(p *pb.Post) *Post {
	if p == nil {
		return nil
	}
	out := &Post{
		Format:      p.GetFormat(),
		Title:       p.GetTitle(),
		Text:        p.GetText(),
		Link:        p.GetLink(),
		ScheduledAt: tsFromProto(p.GetScheduledAt()),
		Options:     mapCopy(p.GetOptions()),
	}
	for _, m := range p.GetMedia() {
		out.Media = append(out.Media, Media{Type: m.GetType(), URL: m.GetUrl()})
	}
	return out
}

func orEmptyPost(p *Post) Post {
	if p == nil {
		return Post{}
	}
	return *p
}

func mediaRulesToProto(in []MediaRule) []*pb.MediaRule {
	var out []*pb.MediaRule
	for _, m := range in {
		out = append(out, &pb.MediaRule{Kind: m.Kind, MimeTypes: append([]string(nil), m.MimeTypes...), MaxBytes: m.MaxBytes})
	}
	return out
}

func mediaRulesFromProto(in []*pb.MediaRule) []MediaRule {
	var out []MediaRule
	for _, m := range in {
		out = append(out, MediaRule{Kind: m.GetKind(), MimeTypes: append([]string(nil), m.GetMimeTypes()...), MaxBytes: m.GetMaxBytes()})
	}
	return out
}

func rulesToProto(in []PlatformRules) []*pb.PlatformRules {
	var out []*pb.PlatformRules
	for _, r := range in {
		pr := &pb.PlatformRules{
			Platform:       r.Platform,
			MaxReplyLength: int32(r.MaxReplyLength),
			MaxReplyBytes:  int32(r.MaxReplyBytes),
			Attachments:    mediaRulesToProto(r.Attachments),
			MaxAttachments: int32(r.MaxAttachments),
		}
		for _, w := range r.ReplyWindows {
			pr.ReplyWindows = append(pr.ReplyWindows, &pb.ReplyWindow{
				ThreadKind:         string(w.ThreadKind),
				WindowMs:           w.Window.Milliseconds(),
				HumanAgentWindowMs: w.HumanAgentWindow.Milliseconds(),
				TemplatesAllowed:   w.TemplatesAllowed,
				MaxMessages:        int32(w.MaxMessages),
			})
		}
		for _, p := range r.Publish {
			pp := &pb.PublishRule{
				Format:           p.Format,
				Description:      p.Description,
				MaxTextLength:    int32(p.MaxTextLength),
				MaxHashtags:      int32(p.MaxHashtags),
				MinMedia:         int32(p.MinMedia),
				MaxMedia:         int32(p.MaxMedia),
				Media:            mediaRulesToProto(p.Media),
				NativeScheduling: p.NativeScheduling,
				TextRequired:     p.TextRequired,
			}
			for _, o := range p.Options {
				pp.Options = append(pp.Options, &pb.OptionRule{Name: o.Name, Description: o.Description,
					Values: append([]string(nil), o.Values...), Required: o.Required})
			}
			pr.Publish = append(pr.Publish, pp)
		}
		out = append(out, pr)
	}
	return out
}

func rulesFromProto(in []*pb.PlatformRules) []PlatformRules {
	var out []PlatformRules
	for _, r := range in {
		pr := PlatformRules{
			Platform:       r.GetPlatform(),
			MaxReplyLength: int(r.GetMaxReplyLength()),
			MaxReplyBytes:  int(r.GetMaxReplyBytes()),
			Attachments:    mediaRulesFromProto(r.GetAttachments()),
			MaxAttachments: int(r.GetMaxAttachments()),
		}
		for _, w := range r.GetReplyWindows() {
			pr.ReplyWindows = append(pr.ReplyWindows, ReplyWindow{
				ThreadKind:       ThreadKind(w.GetThreadKind()),
				Window:           time.Duration(w.GetWindowMs()) * time.Millisecond,
				HumanAgentWindow: time.Duration(w.GetHumanAgentWindowMs()) * time.Millisecond,
				TemplatesAllowed: w.GetTemplatesAllowed(),
				MaxMessages:      int(w.GetMaxMessages()),
			})
		}
		for _, p := range r.GetPublish() {
			pp := PublishRule{
				Format:           p.GetFormat(),
				Description:      p.GetDescription(),
				MaxTextLength:    int(p.GetMaxTextLength()),
				MaxHashtags:      int(p.GetMaxHashtags()),
				MinMedia:         int(p.GetMinMedia()),
				MaxMedia:         int(p.GetMaxMedia()),
				Media:            mediaRulesFromProto(p.GetMedia()),
				NativeScheduling: p.GetNativeScheduling(),
				TextRequired:     p.GetTextRequired(),
			}
			for _, o := range p.GetOptions() {
				pp.Options = append(pp.Options, OptionRule{Name: o.GetName(), Description: o.GetDescription(),
					Values: append([]string(nil), o.GetValues()...), Required: o.GetRequired()})
			}
			pr.Publish = append(pr.Publish, pp)
		}
		out = append(out, pr)
	}
	return out
}

func authorizeRequestToProto(r *AuthorizeRequest) *pb.AuthorizeRequest {
	if r == nil {
		r = &AuthorizeRequest{}
	}
	return &pb.AuthorizeRequest{App: appToProto(r.App), RedirectUri: r.RedirectURI, State: r.State,
		Scopes: append([]string(nil), r.Scopes...)}
}

func authorizeRequestFromProto(r *pb.AuthorizeRequest) *AuthorizeRequest {
	return &AuthorizeRequest{App: appFromProto(r.GetApp()), RedirectURI: r.GetRedirectUri(), State: r.GetState(),
		Scopes: append([]string(nil), r.GetScopes()...)}
}

func exchangeRequestToProto(r *ExchangeRequest) *pb.ExchangeRequest {
	if r == nil {
		r = &ExchangeRequest{}
	}
	return &pb.ExchangeRequest{App: appToProto(r.App), RedirectUri: r.RedirectURI, Code: r.Code, Query: valuesToProto(r.Query)}
}

func exchangeRequestFromProto(r *pb.ExchangeRequest) *ExchangeRequest {
	return &ExchangeRequest{App: appFromProto(r.GetApp()), RedirectURI: r.GetRedirectUri(), Code: r.GetCode(),
		Query: valuesFromProto(r.GetQuery())}
}

func grantToProto(g *Grant) *pb.Grant {
	if g == nil {
		return &pb.Grant{}
	}
	out := &pb.Grant{Credentials: credentialsToProto(g.Credentials)}
	for _, a := range g.Accounts {
		pa := &pb.GrantedAccount{AccountId: a.AccountID, Name: a.Name, Platform: a.Platform, Extra: mapCopy(a.Extra)}
		if a.Credentials != nil {
			pa.Credentials = credentialsToProto(*a.Credentials)
		}
		out.Accounts = append(out.Accounts, pa)
	}
	return out
}

func grantFromProto(g *pb.Grant) *Grant {
	out := &Grant{Credentials: credentialsFromProto(g.GetCredentials())}
	for _, a := range g.GetAccounts() {
		ga := GrantedAccount{AccountID: a.GetAccountId(), Name: a.GetName(), Platform: a.GetPlatform(), Extra: mapCopy(a.GetExtra())}
		if a.GetCredentials() != nil {
			c := credentialsFromProto(a.GetCredentials())
			ga.Credentials = &c
		}
		out.Accounts = append(out.Accounts, ga)
	}
	return out
}

func fetchMediaRequestToProto(r *FetchMediaRequest) *pb.FetchMediaRequest {
	if r == nil {
		r = &FetchMediaRequest{}
	}
	return &pb.FetchMediaRequest{App: appToProto(r.App), Credentials: credentialsToProto(r.Credentials),
		AccountId: r.AccountID, Platform: r.Platform, Attachment: attachmentToProto(r.Attachment), MaxBytes: r.MaxBytes}
}

func fetchMediaRequestFromProto(r *pb.FetchMediaRequest) *FetchMediaRequest {
	out := &FetchMediaRequest{App: appFromProto(r.GetApp()), Credentials: credentialsFromProto(r.GetCredentials()),
		AccountID: r.GetAccountId(), Platform: r.GetPlatform(), MaxBytes: r.GetMaxBytes()}
	if a := r.GetAttachment(); a != nil {
		out.Attachment = attachmentFromProto(a)
	}
	return out
}

func templateInfoToProto(t *TemplateInfo) *pb.TemplateInfo {
	return &pb.TemplateInfo{Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status,
		ComponentsJson: append([]byte(nil), t.ComponentsJSON...), BodyParameters: int32(t.BodyParameters)}
}

func templateInfoFromProto(t *pb.TemplateInfo) *TemplateInfo {
	return &TemplateInfo{Name: t.GetName(), Language: t.GetLanguage(), Category: t.GetCategory(), Status: t.GetStatus(),
		ComponentsJSON: append([]byte(nil), t.GetComponentsJson()...), BodyParameters: int(t.GetBodyParameters())}
}

func lookupRequestToProto(r *LookupRequest) *pb.LookupRequest {
	if r == nil {
		r = &LookupRequest{}
	}
	return &pb.LookupRequest{App: appToProto(r.App), Credentials: credentialsToProto(r.Credentials),
		AccountId: r.AccountID, Platform: r.Platform, Id: r.ID, ThreadKind: string(r.ThreadKind)}
}

func lookupRequestFromProto(r *pb.LookupRequest) *LookupRequest {
	return &LookupRequest{App: appFromProto(r.GetApp()), Credentials: credentialsFromProto(r.GetCredentials()),
		AccountID: r.GetAccountId(), Platform: r.GetPlatform(), ID: r.GetId(), ThreadKind: ThreadKind(r.GetThreadKind())}
}

func contactToProto(c *Contact) *pb.Contact {
	if c == nil {
		return &pb.Contact{}
	}
	return &pb.Contact{ExternalId: c.ExternalID, Name: c.Name, Username: c.Username, Phone: c.Phone, AvatarUrl: c.AvatarURL}
}

func contactFromProto(c *pb.Contact) Contact {
	return Contact{ExternalID: c.GetExternalId(), Name: c.GetName(), Username: c.GetUsername(), Phone: c.GetPhone(), AvatarURL: c.GetAvatarUrl()}
}

func threadInfoToProto(t *ThreadInfo) *pb.ThreadInfo {
	if t == nil {
		return &pb.ThreadInfo{}
	}
	return &pb.ThreadInfo{Id: t.ID, Subject: t.Subject, Url: t.URL, ThumbnailUrl: t.ThumbnailURL}
}

func threadInfoFromProto(t *pb.ThreadInfo) *ThreadInfo {
	return &ThreadInfo{ID: t.GetId(), Subject: t.GetSubject(), URL: t.GetUrl(), ThumbnailURL: t.GetThumbnailUrl()}
}

func deleteRequestToProto(r *DeleteRequest) *pb.DeleteRequest {
	if r == nil {
		r = &DeleteRequest{}
	}
	return &pb.DeleteRequest{App: appToProto(r.App), Credentials: credentialsToProto(r.Credentials),
		AccountId: r.AccountID, Kind: string(r.Kind), ExternalId: r.ExternalID, ThreadId: r.ThreadID}
}

func deleteRequestFromProto(r *pb.DeleteRequest) *DeleteRequest {
	return &DeleteRequest{App: appFromProto(r.GetApp()), Credentials: credentialsFromProto(r.GetCredentials()),
		AccountID: r.GetAccountId(), Kind: SendKind(r.GetKind()), ExternalID: r.GetExternalId(), ThreadID: r.GetThreadId()}
}
