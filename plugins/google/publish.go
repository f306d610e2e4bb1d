package google

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// The publish lookup reads at most this many pages of 100 posts.
const (
	lookupPages    = 10
	lookupPageSize = 100
	// lookupSkew tolerates clocks: a post created this long before Since
	// still matches.
	lookupSkew = 5 * time.Minute
)

type localPost struct {
	Name         string        `json:"name,omitempty"`
	LanguageCode string        `json:"languageCode,omitempty"`
	Summary      string        `json:"summary,omitempty"`
	CallToAction *callToAction `json:"callToAction,omitempty"`
	Event        *postEvent    `json:"event,omitempty"`
	Offer        *postOffer    `json:"offer,omitempty"`
	Media        []mediaItem   `json:"media,omitempty"`
	TopicType    string        `json:"topicType,omitempty"`
	State        string        `json:"state,omitempty"`
	SearchURL    string        `json:"searchUrl,omitempty"`
	CreateTime   string        `json:"createTime,omitempty"`
}

type callToAction struct {
	ActionType string `json:"actionType"`
	URL        string `json:"url,omitempty"`
}

type postEvent struct {
	Title    string        `json:"title"`
	Schedule *timeInterval `json:"schedule,omitempty"`
}

type timeInterval struct {
	StartDate *date      `json:"startDate,omitempty"`
	StartTime *timeOfDay `json:"startTime,omitempty"`
	EndDate   *date      `json:"endDate,omitempty"`
	EndTime   *timeOfDay `json:"endTime,omitempty"`
}

type date struct {
	Year  int `json:"year"`
	Month int `json:"month"`
	Day   int `json:"day"`
}

type timeOfDay struct {
	Hours   int `json:"hours"`
	Minutes int `json:"minutes"`
	Seconds int `json:"seconds"`
	Nanos   int `json:"nanos"`
}

type postOffer struct {
	CouponCode      string `json:"couponCode,omitempty"`
	RedeemOnlineURL string `json:"redeemOnlineUrl,omitempty"`
	TermsConditions string `json:"termsConditions,omitempty"`
}

type mediaItem struct {
	MediaFormat string `json:"mediaFormat"`
	SourceURL   string `json:"sourceUrl"`
}

func permanent(format string, args ...any) *sdk.Error {
	return sdk.NewError(sdk.ClassPermanent, "", format, args...)
}

func postFormat(p *sdk.Post) (string, error) {
	f := strings.ToLower(strings.TrimSpace(cmp.Or(p.Format, formatStandard)))
	switch f {
	case formatStandard, formatEvent, formatOffer:
		return f, nil
	}
	return "", permanent("Google posts are standard, event or offer, not %q", p.Format)
}

// buildPost turns a Post into the localPost Google takes, refusing what
// Google would refuse and what it would silently drop.
func buildPost(req *sdk.PublishRequest) (*localPost, error) {
	p := &req.Post
	format, err := postFormat(p)
	if err != nil {
		return nil, err
	}
	rule, _ := rules[0].Format(format)
	if !p.ScheduledAt.IsZero() {
		return nil, permanent("Google posts are published at once: schedule them in Neksio instead")
	}
	if n := sdk.TextLength(p.Text); n > MaxPostLength {
		return nil, permanent("a Google post holds at most %d characters, this one has %d", MaxPostLength, n)
	}
	if rule.TextRequired && strings.TrimSpace(p.Text) == "" {
		return nil, permanent("a %s post needs text", format)
	}
	var unknown []string
	for k := range p.Options {
		if !slices.ContainsFunc(rule.Options, func(o sdk.OptionRule) bool { return o.Name == k }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, permanent("%s posts do not take the option(s) %s", format, strings.Join(unknown, ", "))
	}
	for _, o := range rule.Options {
		if o.Required && strings.TrimSpace(p.Options[o.Name]) == "" {
			return nil, permanent("a %s post needs the option %s", format, o.Name)
		}
	}
	opt := func(k string) string { return strings.TrimSpace(p.Options[k]) }
	out := &localPost{
		LanguageCode: cmp.Or(opt(OptLanguageCode), "en"),
		Summary:      p.Text,
		TopicType:    strings.ToUpper(format),
	}
	if len(p.Media) > 1 {
		return nil, permanent("a Google post carries at most one photo, not %d", len(p.Media))
	}
	allowPrivate := req.App.Settings[SettingAllowPrivateMedia] == "true"
	for _, m := range p.Media {
		if m.Type != "" && m.Type != "image" && m.Type != "photo" {
			return nil, permanent("a Google post takes a photo, not %s", m.Type)
		}
		if err := checkMediaURL(m.URL, allowPrivate); err != nil {
			return nil, err
		}
		out.Media = append(out.Media, mediaItem{MediaFormat: "PHOTO", SourceURL: m.URL})
	}
	if format != formatOffer {
		cta, err := buildCTA(opt(OptCTAType), opt(OptCTAURL), p.Link)
		if err != nil {
			return nil, err
		}
		out.CallToAction = cta
	}
	if format != formatStandard {
		sched, err := buildSchedule(opt(OptEventStart), opt(OptEventEnd))
		if err != nil {
			return nil, err
		}
		out.Event = &postEvent{Title: opt(OptEventTitle), Schedule: sched}
	}
	if format == formatOffer {
		redeem := cmp.Or(opt(OptOfferRedeem), p.Link)
		if redeem != "" {
			if err := checkLinkURL(redeem); err != nil {
				return nil, err
			}
		}
		out.Offer = &postOffer{CouponCode: opt(OptOfferCoupon), RedeemOnlineURL: redeem, TermsConditions: opt(OptOfferTerms)}
	}
	return out, nil
}

func buildCTA(typ, explicitURL, link string) (*callToAction, error) {
	typ = strings.ToUpper(typ)
	switch {
	case typ == "" && explicitURL == "" && link == "":
		return nil, nil
	case typ == "":
		typ = "LEARN_MORE" // a link alone becomes a "Learn more" button
	case !slices.Contains(ctaTypes, typ):
		return nil, permanent("unknown call_to_action_type %q: want one of %s", typ, strings.Join(ctaTypes, ", "))
	}
	if typ == "CALL" {
		if explicitURL != "" {
			return nil, permanent("a CALL button dials the location's phone number and takes no URL")
		}
		return &callToAction{ActionType: typ}, nil
	}
	u := cmp.Or(explicitURL, link)
	if u == "" {
		return nil, permanent("a %s button needs a URL: set call_to_action_url or the post's link", typ)
	}
	if err := checkLinkURL(u); err != nil {
		return nil, err
	}
	return &callToAction{ActionType: typ, URL: u}, nil
}

func checkLinkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return permanent("%q is not an http(s) URL", raw)
	}
	return nil
}

// parseWhen reads an event bound: a date (all day) or a local date and
// time. Offsets are refused: Google takes the location's wall clock and
// the connector does not know the location's time zone.
func parseWhen(v, what string) (*date, *timeOfDay, time.Time, error) {
	v = strings.Replace(v, " ", "T", 1)
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return &date{t.Year(), int(t.Month()), t.Day()}, nil, t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return &date{t.Year(), int(t.Month()), t.Day()}, &timeOfDay{Hours: t.Hour(), Minutes: t.Minute(), Seconds: t.Second()}, t, nil
		}
	}
	return nil, nil, time.Time{}, permanent("%s %q: want %s", what, v, scheduleDateHelp)
}

func buildSchedule(start, end string) (*timeInterval, error) {
	sd, st, s, err := parseWhen(start, OptEventStart)
	if err != nil {
		return nil, err
	}
	ed, et, e, err := parseWhen(end, OptEventEnd)
	if err != nil {
		return nil, err
	}
	if et == nil {
		e = e.Add(24*time.Hour - time.Nanosecond) // an end date lasts the whole day
	}
	if e.Before(s) {
		return nil, permanent("%s is before %s", OptEventEnd, OptEventStart)
	}
	return &timeInterval{StartDate: sd, StartTime: st, EndDate: ed, EndTime: et}, nil
}

// checkMediaURL refuses photo URLs Google's servers cannot fetch. It
// looks at the URL only (no DNS lookup).
func checkMediaURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return permanent("the photo must be at a public URL: %q is not an http(s) URL", raw)
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") ||
		strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return permanent("the photo must be at a public URL: %s is a local host name", host)
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalMulticast()) {
		return permanent("the photo must be at a public URL: %s is not a public address", host)
	}
	return nil
}

func postResult(p *localPost) *sdk.PublishResult {
	res := &sdk.PublishResult{ExternalID: p.Name, URL: p.SearchURL}
	switch p.State {
	case "LIVE":
		res.State = sdk.PublishPublished
	case "REJECTED":
		res.State = sdk.PublishFailed
		res.Error = sdk.NewError(sdk.ClassPermanent, "REJECTED", "Google rejected the post: it breaks a content policy")
	default: // PROCESSING, LOCAL_POST_STATE_UNSPECIFIED
		res.State = sdk.PublishProcessing
	}
	return res
}

func (c *connector) checkPublish(req *sdk.PublishRequest) (locationName, *localPost, error) {
	if req.Platform != "" && req.Platform != Platform {
		return locationName{}, nil, permanent("unknown platform %q: want google", req.Platform)
	}
	loc, err := parseLocation(req.AccountID)
	if err != nil {
		return locationName{}, nil, err
	}
	body, err := buildPost(req)
	if err != nil {
		return locationName{}, nil, err
	}
	return loc, body, nil
}

// ValidatePost checks a post as Publish would, without publishing; with
// no AccountID it checks the post alone (a preview before a target is
// chosen).
func (c *connector) ValidatePost(_ context.Context, req *sdk.PublishRequest) error {
	if req.AccountID == "" {
		_, err := buildPost(req)
		return err
	}
	_, _, err := c.checkPublish(req)
	return err
}

// Publish creates a local post. Google reviews it before it goes live:
// the answer is usually PROCESSING, and PublishStatus follows it to LIVE
// or REJECTED.
func (c *connector) Publish(ctx context.Context, req *sdk.PublishRequest) (*sdk.PublishResult, error) {
	loc, body, err := c.checkPublish(req)
	if err != nil {
		return nil, err
	}
	var out localPost
	if err := c.call(ctx, req.App, req.Credentials, "create local post", http.MethodPost,
		endpointsFor(req.App).v4+"/"+loc.String()+"/localPosts", body, &out); err != nil {
		return nil, err
	}
	if _, _, ok := parseChild(out.Name, "localPosts"); !ok {
		return nil, permanent("Google answered without a post name")
	}
	// A post rejected at once is a failed result, not an error: across
	// the plugin boundary an error would drop the post's name.
	return postResult(&out), nil
}

// PublishStatus reads a post's state. Without an ExternalID it looks the
// post up among the location's posts by content (Google keeps no
// idempotency key): same topic, same text, same event title, created
// since Since; none is PublishNotFound.
func (c *connector) PublishStatus(ctx context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	if req.ExternalID == "" {
		return c.lookupPost(ctx, req)
	}
	loc, _, ok := parseChild(req.ExternalID, "localPosts")
	if !ok {
		return nil, permanent("%q is not a local post name: want accounts/{a}/locations/{l}/localPosts/{p}", req.ExternalID)
	}
	if req.AccountID != "" {
		want, err := parseLocation(req.AccountID)
		if err != nil {
			return nil, err
		}
		if want != loc {
			return nil, permanent("post %s is not of location %s", req.ExternalID, want)
		}
	}
	var out localPost
	err := c.call(ctx, req.App, req.Credentials, "get local post", http.MethodGet, endpointsFor(req.App).v4+"/"+req.ExternalID, nil, &out)
	if isNotFound(err) {
		return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishFailed,
			Error: sdk.NewError(sdk.ClassPermanent, "NOT_FOUND", "the post no longer exists at Google (deleted)")}, nil
	}
	if err != nil {
		return nil, err
	}
	out.Name = cmp.Or(out.Name, req.ExternalID)
	return postResult(&out), nil
}

func (c *connector) lookupPost(ctx context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	if req.Post == nil {
		return nil, permanent("Google keeps no idempotency key: the lookup needs the post's content")
	}
	loc, err := parseLocation(req.AccountID)
	if err != nil {
		return nil, err
	}
	format, err := postFormat(req.Post)
	if err != nil {
		return nil, err
	}
	topic, title := strings.ToUpper(format), strings.TrimSpace(req.Post.Options[OptEventTitle])
	since := time.Time{}
	if !req.Since.IsZero() {
		since = req.Since.Add(-lookupSkew)
	}
	base := endpointsFor(req.App).v4 + "/" + loc.String() + "/localPosts"
	pageToken := ""
	for range lookupPages {
		q := url.Values{"pageSize": {strconv.Itoa(lookupPageSize)}}
		if pageToken != "" {
			q.Set("pageToken", pageToken)
		}
		var page struct {
			LocalPosts    []localPost `json:"localPosts"`
			NextPageToken string      `json:"nextPageToken"`
		}
		if err := c.call(ctx, req.App, req.Credentials, "list local posts", http.MethodGet, base+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		for i := range page.LocalPosts {
			p := &page.LocalPosts[i]
			if p.TopicType != topic || p.Summary != req.Post.Text {
				continue
			}
			if format != formatStandard && (p.Event == nil || p.Event.Title != title) {
				continue
			}
			if created := parseTime(p.CreateTime); !since.IsZero() && !created.IsZero() && created.Before(since) {
				continue
			}
			return postResult(p), nil
		}
		if pageToken = page.NextPageToken; pageToken == "" {
			return &sdk.PublishResult{State: sdk.PublishNotFound}, nil
		}
	}
	// Not found among the newest posts read, but more remain: saying
	// "not found" could publish it twice.
	return nil, sdk.NewError(sdk.ClassPermanent, "", "the post was not among the location's %d newest posts; look it up by hand before publishing again", lookupPages*lookupPageSize)
}
