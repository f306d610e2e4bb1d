package meta

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/neksio/neksio/plugins/sdk"
)

// Messenger sends no names with messages and a comment does not carry its
// post's text: the host looks them up once and caches them (profiles
// change rarely; refresh them after days, not per message).

// platformOf names the platform of a lookup: the request's, else the
// credentials'.
func platformOf(p string, creds sdk.Credentials) string {
	return cmp.Or(p, creds.Extra[ExtraPlatform], PlatformFacebook)
}

// LookupContact reads a person's profile with the account's token:
// Messenger's user profile (a PSID: first and last name, picture) or an
// Instagram user's (an IGSID: name, username, picture). Meta answers only
// for people who wrote to the account.
func (c *connector) LookupContact(ctx context.Context, req *sdk.LookupRequest) (*sdk.Contact, error) {
	if req.ID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no contact id")
	}
	token := req.Credentials.AccessToken
	if platformOf(req.Platform, req.Credentials) == PlatformInstagram {
		var p struct {
			Name       string `json:"name"`
			Username   string `json:"username"`
			ProfilePic string `json:"profile_pic"`
		}
		if err := c.graph(ctx, req.App, token, http.MethodGet, url.PathEscape(req.ID),
			url.Values{"fields": {"name,username,profile_pic"}}, nil, &p); err != nil {
			return nil, annotate(err, "read the Instagram profile")
		}
		return &sdk.Contact{ExternalID: req.ID, Name: cmp.Or(p.Name, p.Username), Username: p.Username, AvatarURL: p.ProfilePic}, nil
	}
	var p struct {
		FirstName  string `json:"first_name"`
		LastName   string `json:"last_name"`
		ProfilePic string `json:"profile_pic"`
	}
	if err := c.graph(ctx, req.App, token, http.MethodGet, url.PathEscape(req.ID),
		url.Values{"fields": {"first_name,last_name,profile_pic"}}, nil, &p); err != nil {
		return nil, annotate(err, "read the Messenger profile")
	}
	return &sdk.Contact{ExternalID: req.ID, Name: strings.TrimSpace(p.FirstName + " " + p.LastName), AvatarURL: p.ProfilePic}, nil
}

// LookupThread reads a comment thread's post: its text as the subject,
// its permalink and its picture (a video's thumbnail on Instagram).
func (c *connector) LookupThread(ctx context.Context, req *sdk.LookupRequest) (*sdk.ThreadInfo, error) {
	if req.ID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no thread id")
	}
	if req.ThreadKind != "" && req.ThreadKind != sdk.ThreadComment {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "only comment threads have a post to read (thread kind %q)", req.ThreadKind)
	}
	token := req.Credentials.AccessToken
	if platformOf(req.Platform, req.Credentials) == PlatformInstagram {
		var m struct {
			ID           string `json:"id"`
			Caption      string `json:"caption"`
			Permalink    string `json:"permalink"`
			ThumbnailURL string `json:"thumbnail_url"`
			MediaURL     string `json:"media_url"`
			MediaType    string `json:"media_type"`
		}
		if err := c.graph(ctx, req.App, token, http.MethodGet, url.PathEscape(req.ID),
			url.Values{"fields": {"caption,permalink,thumbnail_url,media_url,media_type"}}, nil, &m); err != nil {
			return nil, annotate(err, "read the Instagram media")
		}
		thumb := m.MediaURL
		if m.MediaType == "VIDEO" || m.ThumbnailURL != "" {
			// media_url is the video itself; thumbnail_url its still.
			thumb = m.ThumbnailURL
		}
		return &sdk.ThreadInfo{ID: cmp.Or(m.ID, req.ID), Subject: m.Caption, URL: m.Permalink, ThumbnailURL: thumb}, nil
	}
	var p struct {
		ID           string `json:"id"`
		Message      string `json:"message"`
		Story        string `json:"story"`
		PermalinkURL string `json:"permalink_url"`
		FullPicture  string `json:"full_picture"`
	}
	if err := c.graph(ctx, req.App, token, http.MethodGet, url.PathEscape(req.ID),
		url.Values{"fields": {"message,story,permalink_url,full_picture"}}, nil, &p); err != nil {
		return nil, annotate(err, "read the Page post")
	}
	// A post without text (a shared photo) has a story line instead:
	// "Acme updated their cover photo."
	return &sdk.ThreadInfo{ID: cmp.Or(p.ID, req.ID), Subject: cmp.Or(p.Message, p.Story), URL: p.PermalinkURL, ThumbnailURL: p.FullPicture}, nil
}
