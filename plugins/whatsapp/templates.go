package whatsapp

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/neksio/neksio/plugins/sdk"
)

// Templates belong to the WhatsApp Business Account (WABA), not to the
// phone number: listing them needs the WABA's id.

// ExtraWABAID is the Credentials.Extra key of the channel's WhatsApp
// Business Account id; ExtraWABAIDAlt is how connectChannel's credentials
// map spells it (credentials: {accessToken, wabaId}).
const (
	ExtraWABAID    = "waba_id"
	ExtraWABAIDAlt = "wabaId"
)

// maxTemplatePages bounds one listing (100 templates a page).
const maxTemplatePages = 50

// StatusApproved is the review status of a template that may be sent.
const StatusApproved = "APPROVED"

type templateNode struct {
	Name       string          `json:"name"`
	Status     string          `json:"status"`
	Language   string          `json:"language"`
	Category   string          `json:"category"`
	Components json.RawMessage `json:"components"`
}

// ListTemplates lists the approved templates of the channel's WABA, with
// how many body parameters each takes (sendTemplate's parameters, in
// order).
func (c *connector) ListTemplates(ctx context.Context, req *sdk.CredentialsRequest) ([]*sdk.TemplateInfo, error) {
	waba, err := c.wabaID(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []*sdk.TemplateInfo
	after := ""
	for range maxTemplatePages {
		q := url.Values{"fields": {"name,status,language,category,components"}, "limit": {"100"}}
		if after != "" {
			q.Set("after", after)
		}
		var page struct {
			Data   []templateNode `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.call(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, url.PathEscape(waba)+"/message_templates", q, nil, &page); err != nil {
			return nil, err
		}
		for _, t := range page.Data {
			if t.Status != StatusApproved || t.Name == "" {
				continue
			}
			out = append(out, &sdk.TemplateInfo{Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status,
				ComponentsJSON: []byte(t.Components), BodyParameters: BodyParameters(t.Components)})
		}
		after = page.Paging.Cursors.After
		if page.Paging.Next == "" || after == "" {
			break
		}
	}
	slices.SortFunc(out, func(a, b *sdk.TemplateInfo) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Language, b.Language))
	})
	return out, nil
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// BodyParameters counts the distinct {{n}} (or named {{name}}) parameters
// of a template's BODY component.
func BodyParameters(components json.RawMessage) int {
	var comps []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(components, &comps) != nil {
		return 0
	}
	seen := map[string]bool{}
	for _, c := range comps {
		if strings.EqualFold(c.Type, "BODY") {
			for _, m := range placeholder.FindAllStringSubmatch(c.Text, -1) {
				seen[m[1]] = true
			}
		}
	}
	return len(seen)
}

// wabaID is the channel's WABA: from its credentials, else the one WABA
// the token was granted (debug_token's granular scopes, as Embedded
// Signup tokens carry them).
func (c *connector) wabaID(ctx context.Context, req *sdk.CredentialsRequest) (string, error) {
	if id := cmp.Or(req.Credentials.Extra[ExtraWABAID], req.Credentials.Extra[ExtraWABAIDAlt]); id != "" {
		return id, nil
	}
	var dt struct {
		Data struct {
			GranularScopes []struct {
				Scope     string   `json:"scope"`
				TargetIDs []string `json:"target_ids"`
			} `json:"granular_scopes"`
		} `json:"data"`
	}
	q := url.Values{"input_token": {req.Credentials.AccessToken}}
	if err := c.call(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, "debug_token", q, nil, &dt); err != nil {
		return "", annotateErr(err, "whatsapp: find the WhatsApp Business Account (set credentials.wabaId)")
	}
	var ids []string
	for _, s := range dt.Data.GranularScopes {
		if s.Scope == "whatsapp_business_management" {
			ids = append(ids, s.TargetIDs...)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) != 1 {
		return "", sdk.NewError(sdk.ClassPermanent, "",
			"whatsapp: the token opens %d WhatsApp Business Accounts: set the channel's credentials.wabaId", len(ids))
	}
	return ids[0], nil
}
