package sandbox

import (
	"fmt"
	"net/http"
	"strings"
)

// Profiles and post context: what Messenger and comment webhooks leave
// out, read with the account's token.

// Profile is a person as the user profile APIs answer: Messenger's
// (first_name, last_name, profile_pic) or Instagram's (name, username,
// profile_pic).
type Profile struct {
	Instagram  bool
	FirstName  string
	LastName   string
	Name       string
	Username   string
	ProfilePic string
}

// Post is a Facebook Page post as GET /{post-id} answers it.
type Post struct {
	Message      string
	Story        string
	PermalinkURL string
	FullPicture  string
}

// Media is an Instagram media as GET /{media-id} answers it.
type Media struct {
	Caption      string
	Permalink    string
	MediaType    string // IMAGE, VIDEO, CAROUSEL_ALBUM
	MediaURL     string
	ThumbnailURL string
}

// AddProfile registers a person's profile under their PSID or IGSID.
func (s *Server) AddProfile(id string, p Profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	s.x.profiles[id] = p
}

// AddPost registers a Page post for GET /{post-id}.
func (s *Server) AddPost(id string, p Post) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	s.x.posts[id] = p
}

// AddMedia registers an Instagram media for GET /{media-id}.
func (s *Server) AddMedia(id string, m Media) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	s.x.igMedia[id] = m
}

// Fields each node type answers; any other requested field is error 100.
var (
	messengerProfileFields = map[string]bool{"id": true, "first_name": true, "last_name": true, "name": true, "profile_pic": true, "locale": true}
	igProfileFields        = map[string]bool{"id": true, "name": true, "username": true, "profile_pic": true, "follower_count": true,
		"is_user_follow_business": true, "is_business_follow_user": true, "is_verified_user": true}
	postFields      = map[string]bool{"id": true, "message": true, "story": true, "permalink_url": true, "full_picture": true, "created_time": true}
	mediaNodeFields = map[string]bool{"id": true, "caption": true, "permalink": true, "media_type": true, "media_url": true,
		"thumbnail_url": true, "timestamp": true}
)

// serveExtra answers the calls this file and oauth.go add, after the
// token was checked: profiles, posts and media registered here, and
// subscribed_apps. done is false for anything else. s.mu is held.
func (s *Server) serveExtra(acct *account, method string, segs []string, p map[string]string) (out any, gerr *graphErr, done bool) {
	s.x.init()
	switch {
	case len(segs) == 2 && segs[1] == "subscribed_apps" && method == http.MethodPost:
		out, gerr = s.subscribe(s.actingAs(acct, segs[0], ""), segs[0], p)
		return out, gerr, true
	case len(segs) == 2 && segs[1] == "subscribed_apps" && method == http.MethodGet:
		out, gerr = s.subscriptions(acct, segs[0])
		return out, gerr, true
	case len(segs) != 1 || method != http.MethodGet:
		return nil, nil, false
	}
	id := segs[0]
	if prof, ok := s.profile(acct, id); ok {
		values := map[string]any{"id": id, "first_name": prof.FirstName, "last_name": prof.LastName, "name": prof.Name,
			"username": prof.Username, "profile_pic": prof.ProfilePic}
		node, valid := "User", messengerProfileFields
		if prof.Instagram {
			node, valid = "IGUser (scoped)", igProfileFields
		}
		out, gerr = pick(values, p["fields"], "id,name", valid, node)
		return out, gerr, true
	}
	if post, ok := s.x.posts[id]; ok {
		values := map[string]any{"id": id, "message": post.Message, "story": post.Story, "permalink_url": post.PermalinkURL,
			"full_picture": post.FullPicture}
		out, gerr = pick(values, p["fields"], "id,message", postFields, "Post")
		return out, gerr, true
	}
	if m, ok := s.x.igMedia[id]; ok {
		values := map[string]any{"id": id, "caption": m.Caption, "permalink": m.Permalink, "media_type": m.MediaType,
			"media_url": m.MediaURL, "thumbnail_url": m.ThumbnailURL}
		out, gerr = pick(values, p["fields"], "id", mediaNodeFields, "IGMedia")
		return out, gerr, true
	}
	return nil, nil, false
}

// profile finds a person's profile: registered, or made up for someone who
// wrote to the account (or to its linked Instagram account), the way the
// platform answers only for people who wrote first.
func (s *Server) profile(acct *account, id string) (Profile, bool) {
	if p, ok := s.x.profiles[id]; ok {
		return p, true
	}
	short := id
	if len(short) > 4 {
		short = short[len(short)-4:]
	}
	if _, ok := s.seen[seenKey{acct.id, id}]; ok && !acct.instagram {
		return Profile{FirstName: "Sandbox", LastName: "User " + short, Name: "Sandbox User " + short}, true
	}
	ig := acct
	if !acct.instagram {
		ig = s.linkedIG(acct)
	}
	if ig != nil {
		if _, ok := s.seen[seenKey{ig.id, id}]; ok {
			return Profile{Instagram: true, Name: "Sandbox User " + short, Username: "sandbox_user_" + short}, true
		}
	}
	return Profile{}, false
}

// pick answers the requested fields of a node, leaving empty ones out as
// Graph does, and refuses a field the node type does not have.
func pick(values map[string]any, fields, def string, valid map[string]bool, node string) (any, *graphErr) {
	if fields == "" {
		fields = def
	}
	out := map[string]any{}
	for _, f := range strings.Split(fields, ",") {
		f = strings.TrimSpace(f)
		if !valid[f] {
			return nil, badParam(fmt.Sprintf("Tried accessing nonexisting field (%s) on node type (%s)", f, node))
		}
		if v, ok := values[f]; ok && v != "" {
			out[f] = v
		}
	}
	out["id"] = values["id"]
	return out, nil
}
