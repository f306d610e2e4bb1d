package meta

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Facebook's bounds for scheduled Page posts.
const (
	minScheduleLead = 10 * time.Minute
	maxScheduleLead = 30 * 24 * time.Hour
	maxCarouselSize = 10
)

type idResponse struct {
	ID     string `json:"id"`
	PostID string `json:"post_id"`
}

func (c *connector) Publish(ctx context.Context, req *sdk.PublishRequest) (*sdk.PublishResult, error) {
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no account id")
	}
	allowPrivate := req.App.Settings[SettingAllowPrivateMedia] == "true"
	for _, m := range req.Post.Media {
		if err := checkMediaURL(m.URL, allowPrivate); err != nil {
			return nil, err
		}
	}
	switch req.Platform {
	case PlatformFacebook:
		return c.publishFacebook(ctx, req)
	case PlatformInstagram:
		return c.publishInstagram(ctx, req)
	default:
		return nil, sdk.NewError(sdk.ClassPermanent, "", "unknown platform %q: want facebook or instagram", req.Platform)
	}
}

// checkMediaURL refuses URLs Meta's servers cannot fetch. It looks at the
// URL only (no DNS lookup): a public name pointing at a private address
// is Meta's to reject.
func checkMediaURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return sdk.NewError(sdk.ClassPermanent, "", "media must be at a public URL: %q is not an http(s) URL", raw)
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") ||
		strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return sdk.NewError(sdk.ClassPermanent, "", "media must be at a public URL: %s is a local host name", host)
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalMulticast()) {
		return sdk.NewError(sdk.ClassPermanent, "", "media must be at a public URL: %s is not a public address", host)
	}
	return nil
}

// annotate prefixes a classified error's message, keeping it an *sdk.Error
// so its class crosses the plugin boundary unchanged.
func annotate(err error, what string) error {
	if e, ok := err.(*sdk.Error); ok {
		cp := *e
		cp.Message = what + ": " + e.Message
		return &cp
	}
	return fmt.Errorf("%s: %w", what, err)
}

func facebookURL(id string) string { return "https://facebook.com/" + id }

func (c *connector) publishFacebook(ctx context.Context, req *sdk.PublishRequest) (*sdk.PublishResult, error) {
	post := req.Post
	state := sdk.PublishPublished
	schedule := func(params map[string]any) {}
	if !post.ScheduledAt.IsZero() {
		lead := post.ScheduledAt.Sub(c.now())
		if lead < minScheduleLead || lead > maxScheduleLead {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "a scheduled Facebook post must be 10 minutes to 30 days ahead (asked for %s)", lead.Round(time.Minute))
		}
		state = sdk.PublishScheduled
		at := strconv.FormatInt(post.ScheduledAt.Unix(), 10)
		schedule = func(params map[string]any) {
			params["published"] = false
			params["scheduled_publish_time"] = at
		}
	}
	token, page := req.Credentials.AccessToken, url.PathEscape(req.AccountID)
	var images, videos []sdk.Media
	for _, m := range post.Media {
		if m.Type == "video" {
			videos = append(videos, m)
		} else {
			images = append(images, m)
		}
	}
	var out idResponse
	switch {
	case len(videos) > 0:
		if len(post.Media) > 1 {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "a Facebook video post carries one video and nothing else")
		}
		params := map[string]any{"file_url": videos[0].URL, "description": post.Text}
		if post.Title != "" {
			params["title"] = post.Title
		}
		schedule(params)
		if err := c.graph(ctx, req.App, token, http.MethodPost, page+"/videos", nil, params, &out); err != nil {
			return nil, err
		}
	case len(images) == 1:
		params := map[string]any{"url": images[0].URL, "caption": post.Text}
		schedule(params)
		if err := c.graph(ctx, req.App, token, http.MethodPost, page+"/photos", nil, params, &out); err != nil {
			return nil, err
		}
	case len(images) > 1:
		// Several photos: upload each unpublished, then one feed post
		// attaches them all.
		var attached []map[string]string
		for _, m := range images {
			params := map[string]any{"url": m.URL, "published": false}
			if !post.ScheduledAt.IsZero() {
				params["temporary"] = true
			}
			var ph idResponse
			if err := c.graph(ctx, req.App, token, http.MethodPost, page+"/photos", nil, params, &ph); err != nil {
				return nil, annotate(err, "upload photo")
			}
			attached = append(attached, map[string]string{"media_fbid": ph.ID})
		}
		params := map[string]any{"message": post.Text, "attached_media": attached}
		schedule(params)
		if err := c.graph(ctx, req.App, token, http.MethodPost, page+"/feed", nil, params, &out); err != nil {
			return nil, err
		}
	default:
		if post.Text == "" && post.Link == "" {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "an empty post: give text, a link or media")
		}
		params := map[string]any{"message": post.Text}
		if post.Link != "" {
			params["link"] = post.Link
		}
		schedule(params)
		if err := c.graph(ctx, req.App, token, http.MethodPost, page+"/feed", nil, params, &out); err != nil {
			return nil, err
		}
	}
	id := cmp.Or(out.PostID, out.ID)
	if id == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "Facebook answered without a post id")
	}
	return &sdk.PublishResult{ExternalID: id, State: state, URL: facebookURL(id)}, nil
}

func (c *connector) publishInstagram(ctx context.Context, req *sdk.PublishRequest) (*sdk.PublishResult, error) {
	post := req.Post
	if !post.ScheduledAt.IsZero() {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "Instagram has no native scheduling: schedule in Neksio instead")
	}
	if len(post.Media) == 0 {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "an Instagram post needs an image or a video")
	}
	token, ig := req.Credentials.AccessToken, url.PathEscape(req.AccountID)
	mediaParams := func(m sdk.Media) map[string]any {
		if m.Type == "video" {
			return map[string]any{"video_url": m.URL, "media_type": "VIDEO"}
		}
		return map[string]any{"image_url": m.URL}
	}
	var params map[string]any
	switch {
	case post.Format == "carousel" || len(post.Media) > 1:
		if len(post.Media) < 2 || len(post.Media) > maxCarouselSize {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "an Instagram carousel holds 2 to %d items, not %d", maxCarouselSize, len(post.Media))
		}
		var children []string
		for _, m := range post.Media {
			p := mediaParams(m)
			p["is_carousel_item"] = true
			var ch idResponse
			if err := c.graph(ctx, req.App, token, http.MethodPost, ig+"/media", nil, p, &ch); err != nil {
				return nil, annotate(err, "create carousel item")
			}
			// The carousel container refuses children still processing.
			if err := c.waitContainer(ctx, req, ch.ID); err != nil {
				return nil, err
			}
			children = append(children, ch.ID)
		}
		params = map[string]any{"media_type": "CAROUSEL", "children": strings.Join(children, ","), "caption": post.Text}
	case post.Format == "reel" || post.Media[0].Type == "video":
		if post.Media[0].Type != "video" {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "a reel needs a video")
		}
		params = map[string]any{"media_type": "REELS", "video_url": post.Media[0].URL, "caption": post.Text}
	case post.Format == "story":
		params = mediaParams(post.Media[0])
		params["media_type"] = "STORIES"
	default:
		params = map[string]any{"image_url": post.Media[0].URL, "caption": post.Text}
	}
	var container idResponse
	if err := c.graph(ctx, req.App, token, http.MethodPost, ig+"/media", nil, params, &container); err != nil {
		return nil, err
	}
	if container.ID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "Instagram answered without a container id")
	}
	// Instagram fetches and processes the media on its own time (a reel
	// can take minutes): the host follows the container with
	// PublishStatus, which publishes it once FINISHED. No call waits.
	return &sdk.PublishResult{ExternalID: container.ID, State: sdk.PublishProcessing}, nil
}

type containerStatus struct {
	ID         string `json:"id"`
	StatusCode string `json:"status_code"`
	Status     string `json:"status"`
}

func (c *connector) containerStatus(ctx context.Context, app sdk.App, token, id string) (*containerStatus, error) {
	var st containerStatus
	err := c.graph(ctx, app, token, http.MethodGet, url.PathEscape(id), url.Values{"fields": {"status_code,status"}}, nil, &st)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// waitContainer polls a carousel item until Instagram has fetched and
// processed its media (the carousel's container refuses unfinished
// children). Past the bound it gives up as retryable.
func (c *connector) waitContainer(ctx context.Context, req *sdk.PublishRequest, id string) error {
	if id == "" {
		return sdk.NewError(sdk.ClassPermanent, "", "Instagram answered without a container id")
	}
	for i := 0; i < c.maxPolls; i++ {
		if i > 0 && c.pollInterval > 0 {
			t := time.NewTimer(c.pollInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return sdk.NewError(sdk.ClassRetryable, "", "container %s: %v", id, ctx.Err())
			case <-t.C:
			}
		}
		st, err := c.containerStatus(ctx, req.App, req.Credentials.AccessToken, id)
		if err != nil {
			return annotate(err, "container "+id+" status")
		}
		switch st.StatusCode {
		case "FINISHED", "PUBLISHED":
			return nil
		case "ERROR", "EXPIRED":
			return sdk.NewError(sdk.ClassPermanent, st.StatusCode, "Instagram could not process the media of container %s: %s", id, cmp.Or(st.Status, st.StatusCode))
		}
	}
	return sdk.NewError(sdk.ClassRetryable, "", "container %s is still processing: check it with PublishStatus", id)
}

func (c *connector) publishContainer(ctx context.Context, app sdk.App, token, account, container string) (*sdk.PublishResult, error) {
	var out idResponse
	if err := c.graph(ctx, app, token, http.MethodPost, url.PathEscape(account)+"/media_publish", nil,
		map[string]string{"creation_id": container}, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "Instagram answered without a media id")
	}
	res := &sdk.PublishResult{ExternalID: out.ID, State: sdk.PublishPublished}
	// The permalink only improves the result: a failure here must not
	// turn a published post into an error that would be retried.
	var media struct {
		Permalink string `json:"permalink"`
	}
	if c.graph(ctx, app, token, http.MethodGet, url.PathEscape(out.ID), url.Values{"fields": {"permalink"}}, nil, &media) == nil {
		res.URL = media.Permalink
	}
	return res, nil
}

// PublishStatus reports on a post. On Instagram the id is first the
// container Publish created: once FINISHED it is published here (and the
// media's id and permalink answered), so the host's status checks
// complete the publication.
func (c *connector) PublishStatus(ctx context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	if req.ExternalID == "" {
		return c.lookup(ctx, req)
	}
	if req.Platform != PlatformInstagram {
		return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishPublished, URL: facebookURL(req.ExternalID)}, nil
	}
	token := req.Credentials.AccessToken
	st, err := c.containerStatus(ctx, req.App, token, req.ExternalID)
	if err != nil {
		// A published media object has no status_code field: Graph
		// answers code 100, which means the id is the post itself.
		if e, ok := err.(*sdk.Error); ok && e.Class == sdk.ClassPermanent && strings.HasPrefix(e.Code, "100") {
			return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishPublished}, nil
		}
		return nil, err
	}
	switch st.StatusCode {
	case "IN_PROGRESS", "":
		return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishProcessing}, nil
	case "FINISHED":
		if req.AccountID == "" {
			return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishProcessing}, nil
		}
		return c.publishContainer(ctx, req.App, token, req.AccountID, req.ExternalID)
	case "PUBLISHED":
		return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishPublished}, nil
	default:
		e := sdk.NewError(sdk.ClassPermanent, st.StatusCode, "Instagram could not process the media: %s", cmp.Or(st.Status, st.StatusCode))
		return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishFailed, Error: e}, nil
	}
}

// lookupLimit is how many recent posts a lookup reads: a host asks about
// a publish it started minutes ago.
const lookupLimit = 100

// lookup finds a post whose publish was interrupted before its id was
// known (a host killed mid-call): among the account's posts since Since —
// a Page's published_posts, an Instagram account's media — the one whose
// text is the post's. Meta takes no idempotency key, so the text is the
// key: a post without text cannot be told apart and the lookup is
// inconclusive (an error, never "not found").
func (c *connector) lookup(ctx context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	if req.Post == nil || req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no post id, and no post and account to look it up by")
	}
	text := strings.TrimSpace(req.Post.Text)
	if text == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "a post without text cannot be looked up on %s", req.Platform)
	}
	var page struct {
		Data []struct {
			ID          string `json:"id"`
			Message     string `json:"message"`
			Caption     string `json:"caption"`
			CreatedTime string `json:"created_time"`
			Timestamp   string `json:"timestamp"`
			Permalink   string `json:"permalink"`
		} `json:"data"`
	}
	q := url.Values{"limit": {strconv.Itoa(lookupLimit)}}
	edge := "/published_posts"
	if req.Platform == PlatformInstagram {
		edge = "/media"
		q.Set("fields", "id,caption,timestamp,permalink")
	} else {
		q.Set("fields", "id,message,created_time")
		if !req.Since.IsZero() {
			q.Set("since", strconv.FormatInt(req.Since.Unix(), 10))
		}
	}
	if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, url.PathEscape(req.AccountID)+edge, q, nil, &page); err != nil {
		return nil, annotate(err, "look up recent posts")
	}
	for _, d := range page.Data {
		body, at := d.Message, d.CreatedTime
		if req.Platform == PlatformInstagram {
			body, at = d.Caption, d.Timestamp
		}
		if strings.TrimSpace(body) != text {
			continue
		}
		if t, err := time.Parse("2006-01-02T15:04:05-0700", at); err == nil && !req.Since.IsZero() && t.Before(req.Since) {
			continue
		}
		res := &sdk.PublishResult{ExternalID: d.ID, State: sdk.PublishPublished, URL: d.Permalink}
		if req.Platform != PlatformInstagram {
			res.URL = facebookURL(d.ID)
		}
		return res, nil
	}
	return &sdk.PublishResult{State: sdk.PublishNotFound}, nil
}
