package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/neksio/neksio/core/connector"
	metasandbox "github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
)

const (
	benchPageID    = "1000000000001"
	benchPageToken = "bench-page-token"
	benchMetaKey   = "bench-meta-secret"
	// publishWorkers is the publish queue's concurrency (jobs.Queues); the
	// baseline calls the connector with as many goroutines.
	publishWorkers = 20
)

// benchPublishing: N Page posts scheduled for the same instant, approved
// and due at once, published by `neksio serve` (River jobs, the target
// state machine, the Meta plugin) — time from the due instant until the
// emulator holds all N — against N direct Publish calls through the same
// plugin, with the same concurrency as the publish queue.
func benchPublishing(ctx context.Context, e *runEnv, r *Result) error {
	r.Title = "scheduled posts due at once, published through River and the Meta plugin"
	r.Baseline = fmt.Sprintf("the same number of Publish calls on the Meta plugin (go-plugin, same emulator), %d at a time", publishWorkers)
	n := e.cfg.sized(1000, 5)
	r.param("targets", n)
	r.param("workers", publishWorkers)

	meta := metasandbox.New(metasandbox.WithAppSecret(benchMetaKey))
	meta.AddPage(benchPageID, "Bench Page", benchPageToken)
	metaSrv := httptest.NewServer(meta)
	defer metaSrv.Close()

	dbURL, err := e.newDB(ctx)
	if err != nil {
		return err
	}
	srv, err := e.startServer(ctx, dbURL, "NEKSIO_CONNECTORS=whatsapp,meta", "NEKSIO_META_APP_SECRET="+benchMetaKey,
		"NEKSIO_META_API_BASE_URL="+metaSrv.URL)
	if err != nil {
		return err
	}
	data, err := srv.gql(ctx, srv.Key, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"connector": "meta", "externalId": benchPageID, "name": "Bench Page", "platform": "facebook",
			"credentials": map[string]any{"accessToken": benchPageToken}}})
	if err != nil {
		return fmt.Errorf("connectChannel: %w", err)
	}
	page, _ := dig(data, "connectChannel", "id").(string)
	if _, err := srv.gql(ctx, srv.Key, `mutation { updatePublishingSettings(input: {requirePostApproval: false}) { requirePostApproval } }`, nil); err != nil {
		return err
	}
	// Every post is due at the same instant, far enough ahead for all of
	// them to be written and scheduled first.
	due := time.Now().Add(e.cfg.timed(60*time.Second, 4*time.Second)).Truncate(time.Second).Add(time.Second)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			d, err := srv.gql(gctx, srv.Key, `mutation($in: CreatePostInput!) { createPost(input: $in) { id } }`, map[string]any{"in": map[string]any{
				"text": fmt.Sprintf("Bench post %d", i), "scheduledAt": due.Format(time.RFC3339Nano),
				"targets": []any{map[string]any{"channelId": page}}}})
			if err != nil {
				return fmt.Errorf("createPost: %w", err)
			}
			_, err = srv.gql(gctx, srv.Key, `mutation($id: ID!) { submitPost(id: $id) { status } }`, map[string]any{"id": dig(d, "createPost", "id")})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if time.Now().After(due) {
		return fmt.Errorf("scheduling %d posts took past their due time: raise the lead", n)
	}
	time.Sleep(time.Until(due))
	t0 := time.Now()
	for len(meta.PublishedPosts()) < n {
		if time.Since(t0) > 10*time.Minute {
			return fmt.Errorf("only %d of %d posts published after 10 minutes", len(meta.PublishedPosts()), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	neksio := time.Since(t0)
	if got := len(meta.PublishedPosts()); got != n {
		return fmt.Errorf("the emulator holds %d posts, want exactly %d", got, n)
	}

	// Where the time goes: a job's own run, and its wait in the queue.
	if conn, err := pgx.Connect(ctx, dbURL); err == nil {
		var work, firstStart, lastStart float64
		if err := conn.QueryRow(ctx, `SELECT avg(extract(epoch FROM finalized_at - attempted_at)),
			min(extract(epoch FROM attempted_at - scheduled_at)), max(extract(epoch FROM attempted_at - scheduled_at))
			FROM river_job WHERE kind = 'post.publish' AND state = 'completed'`).Scan(&work, &firstStart, &lastStart); err == nil {
			r.detail("job_run_mean_ms", round3(work*1000))
			r.detail("first_job_start_after_due_s", round3(firstStart))
			r.detail("last_job_start_after_due_s", round3(lastStart))
		}
		conn.Close(ctx)
	}

	// Baseline: the same Publish calls straight on the plugin.
	mgr := connector.New(connector.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	bin := e.bin
	if err := mgr.Register("meta", func() *exec.Cmd { return exec.Command(bin, "connector", "serve", "meta") }); err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("starting the plugin: %w", err)
	}
	defer mgr.Close()
	conn, err := mgr.Get("meta")
	if err != nil {
		return err
	}
	app := sdk.App{APIBaseURL: metaSrv.URL, ClientSecret: benchMetaKey}
	publish := func(i int) error {
		_, err := conn.Publish(ctx, &sdk.PublishRequest{App: app, Credentials: sdk.Credentials{AccessToken: benchPageToken},
			AccountID: benchPageID, Platform: "facebook", Post: sdk.Post{Format: "feed", Text: fmt.Sprintf("Baseline post %d", i)}})
		return err
	}
	if err := publish(-1); err != nil { // warm
		return fmt.Errorf("baseline publish: %w", err)
	}
	var next sync.Mutex
	i := 0
	t1 := time.Now()
	bg, _ := errgroup.WithContext(ctx)
	for range publishWorkers {
		bg.Go(func() error {
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= n {
					return nil
				}
				if err := publish(j); err != nil {
					return fmt.Errorf("baseline publish: %w", err)
				}
			}
		})
	}
	if err := bg.Wait(); err != nil {
		return err
	}
	baseline := time.Since(t1)
	r.metric("time until all published", "s", "lower", neksio.Seconds(), baseline.Seconds())
	r.metric("posts per second", "posts/s", "higher", float64(n)/neksio.Seconds(), float64(n)/baseline.Seconds())
	return nil
}
