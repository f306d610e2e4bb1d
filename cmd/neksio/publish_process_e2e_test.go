package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/plugins/meta/sandbox"
)

// A server killed with -9 while a target is PUBLISHING — the platform has
// created the post but its answer has not arrived — is restarted: the
// rescued job asks the platform before publishing again, finds the post
// and records it. The emulator holds exactly one post.
func TestPublishKilledWhilePublishing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		meta := sandbox.New(sandbox.WithAppSecret(testMetaSecret))
		meta.AddPage(testPageID, "Acme Page", testPageToken)
		metaSrv := httptest.NewServer(meta)
		t.Cleanup(metaSrv.Close)
		dataDir := t.TempDir()
		env := []string{"NEKSIO_CONNECTORS=meta", "NEKSIO_META_APP_SECRET=" + testMetaSecret, "NEKSIO_META_API_BASE_URL=" + metaSrv.URL}
		if d == storetest.Postgres {
			env = append(env, "NEKSIO_DATABASE_URL="+storetest.NewPostgresDB(t))
		}
		addr := freeAddr(t)
		start := func() *exec.Cmd {
			self, err := os.Executable()
			require.NoError(t, err)
			cmd := exec.Command(self, "serve")
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NEKSIO_ADDR=" + addr,
				"NEKSIO_DATA_DIR=" + dataDir, "NEKSIO_LOG_LEVEL=warn", "NEKSIO_METRICS_ADDR=off", "NEKSIO_MASTER_KEY=" + testMasterKey}, env...)
			if os.Getenv("NEKSIO_TEST_LOG") != "" {
				cmd.Stderr = os.Stderr
			}
			require.NoError(t, cmd.Start())
			require.Eventually(t, func() bool { return httpStatus("http://"+addr+"/readyz") == http.StatusOK }, 60*time.Second, 50*time.Millisecond)
			return cmd
		}
		proc := start()
		t.Cleanup(func() { _ = proc.Process.Signal(os.Interrupt); _ = proc.Wait() })
		keyBytes, err := os.ReadFile(filepath.Join(dataDir, ownerKeyFile))
		require.NoError(t, err)
		key := strings.TrimSpace(string(keyBytes))
		gql := func(query string, vars map[string]any) map[string]any {
			body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var out gqlResponse
			require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
			require.Empty(t, out.Errors, "%s", raw)
			return out.Data
		}
		ch := gql(`mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"connector": "meta", "externalId": testPageID, "name": "Acme Page", "platform": "facebook",
			"credentials": map[string]any{"accessToken": testPageToken}}})
		post := gql(`mutation($in: CreatePostInput!) { createPost(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"text": "Exactly once, whatever happens", "targets": []any{map[string]any{"channelId": dig(ch, "connectChannel", "id")}}}})
		id := dig(post, "createPost", "id").(string)
		gql(`mutation($id: ID!) { submitPost(id: $id) { status } }`, map[string]any{"id": id})

		meta.SlowPublish(time.Hour)
		gql(`mutation($id: ID!) { approvePost(id: $id) { status } }`, map[string]any{"id": id})
		require.Eventually(t, func() bool { return len(meta.PublishedPosts()) == 1 }, 60*time.Second, 20*time.Millisecond)
		status := func() (string, string) {
			p := gql(`query($id: ID!) { node(id: $id) { ... on Post { status targets { status externalID } } } }`, map[string]any{"id": id})
			s, _ := dig(p, "node", "targets", 0, "status").(string)
			x, _ := dig(p, "node", "targets", 0, "externalID").(string)
			return s, x
		}
		st, _ := status()
		require.Equal(t, "PUBLISHING", st)
		require.NoError(t, proc.Process.Kill()) // -9: no shutdown, the answer never arrives
		_ = proc.Wait()
		meta.SlowPublish(0)

		proc = start()
		require.Eventually(t, func() bool { st, _ := status(); return st == "PUBLISHED" }, 150*time.Second, 200*time.Millisecond)
		_, ext := status()
		posts := meta.PublishedPosts()
		require.Len(t, posts, 1, "the post exists once at the platform")
		require.Equal(t, posts[0].ID, ext, "the platform's id was found by the lookup")
	})
}
