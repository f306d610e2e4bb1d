package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/meta/sandbox"
)

const postFields = `id status scheduledAt publishedAt text
	targets { id status externalID url errorCode errorMessage attempts platform format options }
	history { kind actor fromStatus toStatus comment }`

// keyAs creates a key of role in the env's workspace.
func (e *env) keyAs(t testing.TB, role tenant.Role) string {
	t.Helper()
	key, _, err := e.App.Auth.CreateKeyForWorkspace(context.Background(), e.Workspace, string(role), role)
	require.NoError(t, err)
	return key
}

// post reads a post.
func (e *env) post(t testing.TB, id string) map[string]any {
	t.Helper()
	return dig(e.gql(t, `query($id: ID!) { node(id: $id) { ... on Post { `+postFields+` } } }`, map[string]any{"id": id}), "node").(map[string]any)
}

// waitPost waits until the post has status.
func (e *env) waitPost(t testing.TB, id, status string) map[string]any {
	t.Helper()
	var p map[string]any
	require.Eventually(t, func() bool {
		p = e.post(t, id)
		return p["status"] == status
	}, 90*time.Second, 50*time.Millisecond, "post %s never became %s", id, status)
	return p
}

// createPost creates a post with key and returns its id (or the error).
func (e *env) createPost(t testing.TB, key string, in map[string]any) (string, gqlResponse) {
	t.Helper()
	r := e.gqlAs(t, key, `mutation($in: CreatePostInput!) { createPost(input: $in) { `+postFields+` } }`, map[string]any{"in": in})
	id, _ := dig(r.Data, "createPost", "id").(string)
	return id, r
}

// act runs submitPost, approvePost, rejectPost, schedulePost, … on a post.
func (e *env) act(t testing.TB, key, mutation, id string, extra string, vars map[string]any) gqlResponse {
	t.Helper()
	if vars == nil {
		vars = map[string]any{}
	}
	vars["id"] = id
	return e.gqlAs(t, key, `mutation($id: ID!`+extra+`) { `+mutation+` { `+postFields+` } }`, vars)
}

func transitions(p map[string]any) []string {
	var out []string
	for _, h := range p["history"].([]any) {
		ev := h.(map[string]any)
		if ev["kind"] == "TRANSITION" {
			out = append(out, ev["fromStatus"].(string)+"→"+ev["toStatus"].(string))
		}
	}
	return out
}

func postsWithText(posts []sandbox.Published, text string) []sandbox.Published {
	var out []sandbox.Published
	for _, p := range posts {
		if p.Message == text && p.Kind != "container" {
			out = append(out, p)
		}
	}
	return out
}

func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// uploadMedia uploads a file with uploadMedia (GraphQL multipart).
func (e *env) uploadMedia(t testing.TB, key, filename string, content []byte) gqlResponse {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{"query": `mutation($file: Upload!) { uploadMedia(file: $file) { id url mimeType size kind } }`,
		"variables": map[string]any{"file": nil}})
	require.NoError(t, w.WriteField("operations", string(ops)))
	require.NoError(t, w.WriteField("map", `{"0": ["variables.file"]}`))
	fw, err := w.CreateFormFile("0", filename)
	require.NoError(t, err)
	_, _ = fw.Write(content)
	require.NoError(t, w.Close())
	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	return out
}

// withPublicURL sets NEKSIO_PUBLIC_URL (the emulator fetches nothing, so
// any host does).
func withPublicURL(u string) envOption {
	return withConfig(func(c *config.Config) { c.PublicURL = u })
}

// The whole happy path with approval: an agent writes a post for the Page
// and the Instagram account (an uploaded image), may not approve it; an
// admin approves it and both targets are published at the emulator, with
// the platform's ids, a history of every transition and audit entries.
func TestPublishHappyPathWithApproval(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withPublicURL("https://neksio.example.com"))
		page, ig := e.connectMeta(t)
		agent, admin := e.keyAs(t, tenant.RoleAgent), e.keyAs(t, tenant.RoleAdmin)

		up := e.uploadMedia(t, agent, "photo.png", pngBytes(t))
		require.Empty(t, up.Errors)
		mediaID := dig(up.Data, "uploadMedia", "id").(string)
		require.Equal(t, "image/png", dig(up.Data, "uploadMedia", "mimeType"))
		require.True(t, strings.HasPrefix(dig(up.Data, "uploadMedia", "url").(string), "https://neksio.example.com/media/"+mediaID+"?exp="))

		id, r := e.createPost(t, agent, map[string]any{"text": "Our autumn menu is here #coffee",
			"media":   []any{map[string]any{"mediaId": mediaID}},
			"targets": []any{map[string]any{"channelId": page}, map[string]any{"channelId": ig, "text": "Autumn menu on the gram #coffee #autumn"}}})
		require.Empty(t, r.Errors)
		p := dig(r.Data, "createPost").(map[string]any)
		require.Equal(t, "DRAFT", p["status"])
		require.Equal(t, "photo", dig(p, "targets", 0, "format"), "a Page post with one image is a photo post")
		require.Equal(t, "image", dig(p, "targets", 1, "format"))

		r = e.act(t, agent, "submitPost(id: $id)", id, "", nil)
		require.Empty(t, r.Errors)
		require.Equal(t, "IN_REVIEW", dig(r.Data, "submitPost", "status"))

		r = e.act(t, agent, "approvePost(id: $id)", id, "", nil)
		require.Equal(t, "FORBIDDEN", r.Code(), "an agent may not approve")
		require.Empty(t, e.Meta.PublishedPosts())

		r = e.act(t, admin, "approvePost(id: $id, comment: $c)", id, ", $c: String", map[string]any{"c": "looks good"})
		require.Empty(t, r.Errors)
		require.Equal(t, "PUBLISHING", dig(r.Data, "approvePost", "status"))
		r = e.act(t, admin, "approvePost(id: $id)", id, "", nil)
		require.Equal(t, "CONFLICT", r.Code(), "approving twice")

		p = e.waitPost(t, id, "PUBLISHED")
		require.NotNil(t, p["publishedAt"])
		for _, tg := range p["targets"].([]any) {
			tg := tg.(map[string]any)
			require.Equal(t, "PUBLISHED", tg["status"])
			require.NotEmpty(t, tg["externalID"])
			require.NotEmpty(t, tg["url"])
			require.EqualValues(t, 1, tg["attempts"])
		}
		require.Equal(t, []string{"→DRAFT", "DRAFT→IN_REVIEW", "IN_REVIEW→APPROVED", "APPROVED→PUBLISHING", "PUBLISHING→PUBLISHED"}, transitions(p))
		posts := e.Meta.PublishedPosts()
		fb := postsWithText(posts, "Our autumn menu is here #coffee")
		require.Len(t, fb, 1)
		require.Equal(t, "photo", fb[0].Kind)
		require.Contains(t, fb[0].URL, "https://neksio.example.com/media/"+mediaID)
		igPosts := postsWithText(posts, "Autumn menu on the gram #coffee #autumn")
		require.Len(t, igPosts, 1)
		require.Equal(t, "media", igPosts[0].Kind)

		audit := e.gqlAs(t, admin, `{ auditLogs(first: 50) { edges { node { action actor } } } }`, nil)
		require.Empty(t, audit.Errors)
		raw, _ := json.Marshal(audit.Data)
		require.Contains(t, string(raw), "post.transition")
		require.Contains(t, string(raw), "post.target")
	})
}

// Rejection and resubmission: a rejected post cannot be published or
// approved; edited and submitted again, it is approved and published.
func TestPublishRejectAndResubmit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		page, _ := e.connectMeta(t)
		agent := e.keyAs(t, tenant.RoleAgent)
		id, r := e.createPost(t, agent, map[string]any{"text": "Half price today", "targets": []any{map[string]any{"channelId": page}}})
		require.Empty(t, r.Errors)
		require.Empty(t, e.act(t, agent, "submitPost(id: $id)", id, "", nil).Errors)
		r = e.act(t, e.Key, "rejectPost(id: $id, comment: $c)", id, ", $c: String", map[string]any{"c": "say until when"})
		require.Empty(t, r.Errors)
		require.Equal(t, "REJECTED", dig(r.Data, "rejectPost", "status"))
		require.Equal(t, "CONFLICT", e.act(t, e.Key, "approvePost(id: $id)", id, "", nil).Code())
		require.Equal(t, "CONFLICT", e.act(t, e.Key, "schedulePost(id: $id)", id, "", nil).Code(), "publishing a rejected post")

		r = e.gqlAs(t, agent, `mutation($id: ID!) { updatePost(id: $id, input: {text: "Half price until 6pm"}) { status } }`, map[string]any{"id": id})
		require.Empty(t, r.Errors)
		require.Empty(t, e.act(t, agent, "commentOnPost(id: $id, comment: \"fixed\")", id, "", nil).Errors)
		require.Empty(t, e.act(t, agent, "submitPost(id: $id)", id, "", nil).Errors)
		require.Empty(t, e.act(t, e.Key, "approvePost(id: $id)", id, "", nil).Errors)
		p := e.waitPost(t, id, "PUBLISHED")
		require.Contains(t, transitions(p), "IN_REVIEW→REJECTED")
		require.Contains(t, transitions(p), "REJECTED→IN_REVIEW")
		raw, _ := json.Marshal(p["history"])
		require.Contains(t, string(raw), "say until when")
		require.Contains(t, string(raw), "fixed")
		require.Len(t, postsWithText(e.Meta.PublishedPosts(), "Half price until 6pm"), 1)
		require.Empty(t, postsWithText(e.Meta.PublishedPosts(), "Half price today"))

		r = e.gqlAs(t, agent, `mutation($id: ID!) { updatePost(id: $id, input: {text: "changed"}) { status } }`, map[string]any{"id": id})
		require.Equal(t, "CONFLICT", r.Code(), "editing a published post")
	})
}

// Scheduled publishing with a near time: nothing is posted before it, the
// post is published at it; a post rescheduled and one unscheduled then
// published now are each posted once (their old jobs are cancelled).
func TestPublishScheduled(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		page, _ := e.connectMeta(t)
		at := time.Now().Add(3 * time.Second).UTC()
		id, r := e.createPost(t, e.Key, map[string]any{"text": "Opening at noon", "scheduledAt": at.Format(time.RFC3339Nano),
			"targets": []any{map[string]any{"channelId": page}}})
		require.Empty(t, r.Errors)
		require.Empty(t, e.act(t, e.Key, "submitPost(id: $id)", id, "", nil).Errors)
		r = e.act(t, e.Key, "approvePost(id: $id)", id, "", nil)
		require.Empty(t, r.Errors)
		require.Equal(t, "SCHEDULED", dig(r.Data, "approvePost", "status"), "an owner may approve their own post")
		require.Empty(t, postsWithText(e.Meta.PublishedPosts(), "Opening at noon"))

		cal := e.gql(t, `query($f: Time!, $t: Time!) { calendar(from: $f, to: $t, timezone: "Asia/Tokyo") { date at kind post { id } } }`,
			map[string]any{"f": time.Now().Add(-time.Hour).Format(time.RFC3339), "t": time.Now().Add(time.Hour).Format(time.RFC3339)})
		require.Len(t, dig(cal, "calendar").([]any), 1)
		require.Equal(t, id, dig(cal, "calendar", 0, "post", "id"))
		require.Equal(t, "SCHEDULED", dig(cal, "calendar", 0, "kind"))
		require.Contains(t, dig(cal, "calendar", 0, "at"), "+09:00")
		bad := e.gqlAs(t, e.Key, `{ calendar(from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", timezone: "Mars/Olympus") { date } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", bad.Code())

		// Rescheduled from an hour ahead to a near time.
		id2, _ := e.createPost(t, e.Key, map[string]any{"text": "Rescheduled post", "scheduledAt": time.Now().Add(time.Hour).Format(time.RFC3339),
			"targets": []any{map[string]any{"channelId": page}}})
		require.Empty(t, e.act(t, e.Key, "submitPost(id: $id)", id2, "", nil).Errors)
		require.Equal(t, "SCHEDULED", dig(e.act(t, e.Key, "approvePost(id: $id)", id2, "", nil).Data, "approvePost", "status"))
		r = e.act(t, e.Key, "schedulePost(id: $id, scheduledAt: $at)", id2, ", $at: Time", map[string]any{"at": time.Now().Add(2 * time.Second).Format(time.RFC3339Nano)})
		require.Empty(t, r.Errors)
		require.Equal(t, "CONFLICT", e.gqlAs(t, e.Key, `mutation($id: ID!) { updatePost(id: $id, input: {text: "x"}) { status } }`, map[string]any{"id": id2}).Code(),
			"a scheduled post is not edited: unschedule it first")

		// Unscheduled, then published now: its old job finds a newer generation.
		old := time.Now().Add(2 * time.Second)
		id3, _ := e.createPost(t, e.Key, map[string]any{"text": "Unscheduled post", "scheduledAt": old.Format(time.RFC3339Nano),
			"targets": []any{map[string]any{"channelId": page}}})
		require.Empty(t, e.act(t, e.Key, "submitPost(id: $id)", id3, "", nil).Errors)
		require.Empty(t, e.act(t, e.Key, "approvePost(id: $id)", id3, "", nil).Errors)
		r = e.act(t, e.Key, "unschedulePost(id: $id)", id3, "", nil)
		require.Empty(t, r.Errors)
		require.Equal(t, "APPROVED", dig(r.Data, "unschedulePost", "status"))

		e.waitPost(t, id, "PUBLISHED")
		e.waitPost(t, id2, "PUBLISHED")
		time.Sleep(time.Until(old.Add(time.Second)))
		e.waitJobs(t)
		require.Equal(t, "APPROVED", e.post(t, id3)["status"], "an unscheduled post's job is cancelled")
		require.Empty(t, e.act(t, e.Key, "schedulePost(id: $id)", id3, "", nil).Errors)
		e.waitPost(t, id3, "PUBLISHED")
		e.waitJobs(t)
		for _, text := range []string{"Opening at noon", "Rescheduled post", "Unscheduled post"} {
			require.Len(t, postsWithText(e.Meta.PublishedPosts(), text), 1, text)
		}

		list := e.gql(t, `query($ch: ID) { posts(first: 10, where: {status: PUBLISHED, hasTargetsWith: {status: PUBLISHED, channelID: $ch}}, orderBy: {field: SCHEDULED_AT, direction: DESC}) {
			totalCount edges { node { id text } } } }`, map[string]any{"ch": page})
		require.EqualValues(t, 3, dig(list, "posts", "totalCount"))
		var ids []string
		for _, edge := range dig(list, "posts", "edges").([]any) {
			ids = append(ids, dig(edge, "node", "id").(string))
		}
		require.ElementsMatch(t, []string{id, id2, id3}, ids)
	})
}

// A 429 with Retry-After, then success: one post, two attempts. A
// permanent failure is FAILED with the platform's message, the post
// PARTIALLY_PUBLISHED; retryPostTarget publishes it.
func TestPublishRetriesAndFailures(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		page, ig := e.connectMeta(t)

		e.Meta.FailNextRetryAfter(1, http.StatusTooManyRequests, 4, "(#4) Application request limit reached", time.Second)
		id, r := e.createPost(t, e.Key, map[string]any{"text": "Rate limited once", "targets": []any{map[string]any{"channelId": page}}})
		require.Empty(t, r.Errors)
		require.Empty(t, e.act(t, e.Key, "submitPost(id: $id)", id, "", nil).Errors)
		require.Empty(t, e.act(t, e.Key, "approvePost(id: $id)", id, "", nil).Errors)
		p := e.waitPost(t, id, "PUBLISHED")
		require.EqualValues(t, 2, dig(p, "targets", 0, "attempts"))
		require.Len(t, postsWithText(e.Meta.PublishedPosts(), "Rate limited once"), 1)

		// The Instagram target fails for good (the media cannot be fetched);
		// the Page post goes through.
		id, r = e.createPost(t, e.Key, map[string]any{"text": "One of two", "media": []any{map[string]any{"url": "https://cdn.example.com/a.jpg"}},
			"targets": []any{map[string]any{"channelId": page}, map[string]any{"channelId": ig}}})
		require.Empty(t, r.Errors)
		e.Meta.FailNextContainer("ERROR")
		require.Empty(t, e.act(t, e.Key, "submitPost(id: $id)", id, "", nil).Errors)
		require.Empty(t, e.act(t, e.Key, "approvePost(id: $id)", id, "", nil).Errors)
		p = e.waitPost(t, id, "PARTIALLY_PUBLISHED")
		var failed map[string]any
		for _, tg := range p["targets"].([]any) {
			if tg.(map[string]any)["status"] == "FAILED" {
				failed = tg.(map[string]any)
			}
		}
		require.NotNil(t, failed)
		require.Equal(t, "instagram", failed["platform"])
		require.Contains(t, failed["errorMessage"], "media could not be fetched")
		require.Contains(t, failed["errorCode"], "permanent")

		agent := e.keyAs(t, tenant.RoleAgent)
		rt := e.gqlAs(t, agent, `mutation($id: ID!) { retryPostTarget(id: $id) { status } }`, map[string]any{"id": failed["id"]})
		require.Equal(t, "FORBIDDEN", rt.Code())
		rt = e.gqlAs(t, e.Key, `mutation($id: ID!) { retryPostTarget(id: $id) { status } }`, map[string]any{"id": failed["id"]})
		require.Empty(t, rt.Errors)
		require.Equal(t, "PENDING", dig(rt.Data, "retryPostTarget", "status"))
		e.waitPost(t, id, "PUBLISHED")
		require.Len(t, postsWithText(e.Meta.PublishedPosts(), "One of two"), 2)
	})
}

// Bad input is refused with a clear code and field, and queues nothing.
func TestPublishBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		page, ig := e.connectMeta(t)
		_, otherKey := e.newWorkspace(t, "Other")
		other := e.gqlAs(t, otherKey, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"connector": "meta", "externalId": "1000000000009", "name": "Other page", "platform": "facebook",
				"credentials": map[string]any{"accessToken": "other-token"}}})
		otherPage, _ := dig(other.Data, "connectChannel", "id").(string)
		if otherPage == "" {
			e.Meta.AddPage("1000000000009", "Other page", "other-token")
			other = e.gqlAs(t, otherKey, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"connector": "meta", "externalId": "1000000000009", "name": "Other page", "platform": "facebook",
					"credentials": map[string]any{"accessToken": "other-token"}}})
			otherPage = dig(other.Data, "connectChannel", "id").(string)
		}
		img := []any{map[string]any{"url": "https://cdn.example.com/a.jpg"}}
		cases := []struct {
			name, code, field string
			in                map[string]any
		}{
			{"in the past", "BAD_USER_INPUT", "scheduledAt", map[string]any{"text": "x", "scheduledAt": time.Now().Add(-time.Minute).Format(time.RFC3339),
				"targets": []any{map[string]any{"channelId": page}}}},
			{"another workspace's channel", "NOT_FOUND", "targets[0].channelId", map[string]any{"text": "x", "targets": []any{map[string]any{"channelId": otherPage}}}},
			{"no publish capability", "BAD_USER_INPUT", "targets[0].channelId", map[string]any{"text": "x", "targets": []any{map[string]any{"channelId": e.WAChannel}}}},
			{"private media host", "BAD_USER_INPUT", "media[0].url", map[string]any{"text": "x", "media": []any{map[string]any{"url": "http://192.168.1.10/a.jpg"}},
				"targets": []any{map[string]any{"channelId": page}}}},
			{"instagram without media", "BAD_USER_INPUT", "media", map[string]any{"text": "x", "targets": []any{map[string]any{"channelId": ig}}}},
			{"instagram text over the limit", "BAD_USER_INPUT", "targets[0].text", map[string]any{"media": img,
				"targets": []any{map[string]any{"channelId": ig, "text": strings.Repeat("é", 2201)}}}},
			{"31 hashtags", "BAD_USER_INPUT", "text", map[string]any{"text": strings.Repeat("#tag ", 31), "media": img,
				"targets": []any{map[string]any{"channelId": ig}}}},
			{"unknown format", "BAD_USER_INPUT", "targets[0].options.format", map[string]any{"text": "x", "media": img,
				"targets": []any{map[string]any{"channelId": ig, "options": map[string]any{"format": "hologram"}}}}},
			{"reel with an image", "BAD_USER_INPUT", "media[0]", map[string]any{"text": "x", "media": img,
				"targets": []any{map[string]any{"channelId": ig, "options": map[string]any{"format": "reel"}}}}},
			{"unknown option", "BAD_USER_INPUT", "targets[0].options.color", map[string]any{"text": "x",
				"targets": []any{map[string]any{"channelId": page, "options": map[string]any{"color": "red"}}}}},
			{"no targets", "BAD_USER_INPUT", "targets", map[string]any{"text": "x", "targets": []any{}}},
		}
		for _, c := range cases {
			_, r := e.createPost(t, e.Key, c.in)
			require.Equal(t, c.code, r.Code(), c.name)
			require.Equal(t, c.field, r.Errors[0].Extensions["field"], c.name)
			require.NotEmpty(t, r.Errors[0].Message, c.name)
		}

		// A disconnected channel.
		id, r := e.createPost(t, e.Key, map[string]any{"text": "x", "targets": []any{map[string]any{"channelId": page}}})
		require.Empty(t, r.Errors)
		require.Empty(t, e.gqlAs(t, e.Key, `mutation($id: ID!) { disconnectChannel(id: $id) { status } }`, map[string]any{"id": page}).Errors)
		r = e.act(t, e.Key, "submitPost(id: $id)", id, "", nil)
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "DISCONNECTED")

		// Admins may not approve their own post; an unapproved post is not published.
		admin := e.keyAs(t, tenant.RoleAdmin)
		id, r = e.createPost(t, admin, map[string]any{"text": "mine", "media": img, "targets": []any{map[string]any{"channelId": ig}}})
		require.Empty(t, r.Errors)
		require.Equal(t, "CONFLICT", e.act(t, admin, "schedulePost(id: $id)", id, "", nil).Code(), "publishing an unapproved post")
		require.Empty(t, e.act(t, admin, "submitPost(id: $id)", id, "", nil).Errors)
		require.Equal(t, "FORBIDDEN", e.act(t, admin, "approvePost(id: $id)", id, "", nil).Code())
		require.Equal(t, "FORBIDDEN", e.act(t, e.keyAs(t, tenant.RoleAnalyst), "commentOnPost(id: $id, comment: \"hi\")", id, "", nil).Code())

		var jobs int
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM river_job WHERE kind IN ('post.publish', 'post.status')`).Scan(&jobs))
		require.Zero(t, jobs, "bad input queues nothing")
		require.Empty(t, e.Meta.PublishedPosts())
	})
}

// Signed media URLs: served with their type to whoever holds a valid link;
// a tampered link is 403, an expired one 410.
func TestPublishMediaURLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel(), withPublicURL(""))
	content := pngBytes(t)
	up := e.uploadMedia(t, e.Key, "a.png", content)
	require.Empty(t, up.Errors)
	id := dig(up.Data, "uploadMedia", "id").(string)
	u := dig(up.Data, "uploadMedia", "url").(string)
	require.True(t, strings.HasPrefix(u, "/media/"+id+"?"), "no public URL: the path only")
	resp, err := http.Get(e.URL + u)
	require.NoError(t, err)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	require.Equal(t, content, got)

	for _, bad := range []string{strings.Replace(u, "sig=", "sig=x", 1), "/media/" + id, strings.Replace(u, "exp=", "exp=9", 1)} {
		resp, err := http.Get(e.URL + bad)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, bad)
	}
	ms := e.App.GraphDeps.Media
	ms.Now = func() time.Time { return time.Now().Add(-48 * time.Hour) }
	expired := ms.URL(pulid.ID(id))
	ms.Now = nil
	resp, err = http.Get(e.URL + expired)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusGone, resp.StatusCode)

	bad := e.uploadMedia(t, e.Key, "notes.txt", []byte("just some text, not an image"))
	require.Equal(t, "BAD_USER_INPUT", bad.Code())
}

// generatePost writes one variant per channel within its limits from the
// knowledge base (cited), and fills a draft; nothing is published.
func TestPublishGenerate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	page, ig := e.connectMeta(t)
	e.gql(t, `mutation { addKnowledgeDocument(input: {title: "Menu", content: "Our pumpkin spice latte is back from October 1st. It costs 4.50 euros."}) { id } }`, nil)
	e.waitJobs(t)
	id, r := e.createPost(t, e.Key, map[string]any{"text": "placeholder", "media": []any{map[string]any{"url": "https://cdn.example.com/a.jpg"}},
		"targets": []any{map[string]any{"channelId": page}, map[string]any{"channelId": ig}}})
	require.Empty(t, r.Errors)
	brief := "Announce that the pumpkin spice latte is back " + strings.Repeat("with cinnamon and cream ", 100)
	g := e.gql(t, `mutation($in: GeneratePostInput!) { generatePost(input: $in) { model variants { channelId platform text hashtags }
		citations { title snippet } post { status targets { text } } } }`,
		map[string]any{"in": map[string]any{"brief": brief, "channelIds": []any{page, ig}, "postId": id}})
	vs := dig(g, "generatePost", "variants").([]any)
	require.Len(t, vs, 2)
	for _, v := range vs {
		v := v.(map[string]any)
		require.NotEmpty(t, v["text"])
		if v["platform"] == "instagram" {
			require.LessOrEqual(t, len([]rune(v["text"].(string))), 2200)
		}
	}
	require.NotEmpty(t, dig(g, "generatePost", "citations"))
	require.Equal(t, "DRAFT", dig(g, "generatePost", "post", "status"))
	require.Empty(t, e.Meta.PublishedPosts())
}

// postUpdated streams a post's transitions.
func TestPublishSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	page, _ := e.connectMeta(t)
	id, r := e.createPost(t, e.Key, map[string]any{"text": "Live", "targets": []any{map[string]any{"channelId": page}}})
	require.Empty(t, r.Errors)
	sub := e.subscribeWS(t, e.Key)
	sub.subscribe("p", `subscription { postUpdated(postId: "`+id+`") { id status } }`)
	e.waitSubscribers(t, 1)
	require.Empty(t, e.act(t, e.Key, "submitPost(id: $id)", id, "", nil).Errors)
	got := sub.results("p")
	require.Equal(t, id, dig(got["p"], "postUpdated", "id"))
}
