package privacy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/privacy"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/jobs/jobargs"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeChannels disconnects like core/channel without a platform: the
// channel is marked disconnected and its secrets wiped.
type fakeChannels struct {
	s     *store.Store
	mu    sync.Mutex
	calls []pulid.ID
}

func (f *fakeChannels) Disconnect(ctx context.Context, id pulid.ID) (*ent.Channel, error) {
	f.mu.Lock()
	f.calls = append(f.calls, id)
	f.mu.Unlock()
	return f.s.Ent.Channel.UpdateOneID(id).SetStatus(channel.StatusDisconnected).ClearCredentials().
		ClearAppSecret().ClearVerifyToken().Save(ctx)
}

type bundle struct {
	s       *store.Store
	svc     *privacy.Service
	bucket  *blob.Bucket
	dir     string
	clock   *clock
	vectors vector.Store
	space   vector.Space
	river   *river.Client[*sql.Tx]
	chans   *fakeChannels
}

func setup(t *testing.T, d storetest.Dialect) *bundle { return setupWith(t, d, nil) }

// setupWith uses vs as the vector store; nil is the embedded store.
func setupWith(t *testing.T, d storetest.Dialect, vs vector.Store) *bundle {
	t.Helper()
	s := storetest.Open(t, d)
	dir := t.TempDir()
	bucket, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bucket.Close() })
	vdia := vector.DialectSQLite
	if s.Dialect == dialect.Postgres {
		vdia = vector.DialectPostgres
	}
	if vs == nil {
		e, err := vector.NewEmbedded(s.DB, vdia)
		require.NoError(t, err)
		require.NoError(t, e.Migrate(context.Background()))
		t.Cleanup(func() { _ = e.Close() })
		vs = e
	}
	rc, err := river.NewClient(s.Driver, &river.Config{})
	require.NoError(t, err)
	c := &clock{t: time.Now()}
	space := vector.Space{Model: "test-model", Dimension: 4}
	chans := &fakeChannels{s: s}
	svc := &privacy.Service{Store: s, Bucket: bucket, LocalDir: dir, Vectors: vs, Spaces: func() []vector.Space { return []vector.Space{space} },
		Channels: chans, Sessions: &auth.Service{Store: s}, SignKey: []byte("0123456789abcdef0123456789abcdef"),
		PublicURL: "https://neksio.example.com", Now: c.Now}
	return &bundle{s: s, svc: svc, bucket: bucket, dir: dir, clock: c, vectors: vs, space: space, river: rc, chans: chans}
}

// person is what a scan must not find once the contact is erased.
type person struct {
	ws, contact, conv, msg, media string
	name, phone, externalID, text string
	fileBody                      string
}

func (p person) needles() []string {
	return []string{p.name, p.phone, p.externalID, p.text, p.fileBody}
}

// secrets seeded into the workspace that no export may contain.
type seeded struct {
	ws      string
	owner   string
	alice   person
	bob     person
	secrets []string
}

// seed fills a workspace with a row in every tenant table, a member with a
// password hash and a session, files, vectors and jobs. tag makes every
// value unique to the workspace.
func seed(t *testing.T, b *bundle, tag string) *seeded {
	t.Helper()
	ctx := context.Background()
	w, err := workspace.Create(ctx, b.s, "Shop "+tag)
	require.NoError(t, err)
	ws := string(w.ID)
	sys := tenant.NewContext(ctx, tenant.System(ws, "seed"))
	plat := tenant.NewContext(ctx, tenant.PlatformViewer("seed"))
	c := b.s.Ent
	out := &seeded{ws: ws}
	secret := func(s string) string { out.secrets = append(out.secrets, s); return s }

	ch := c.Channel.Create().SetConnector("meta").SetPlatform("messenger").SetExternalID("page-" + tag).
		SetName("Page " + tag).SetCredentials([]byte(secret("CREDSECRET-" + tag))).SetAppSecret([]byte(secret("APPSECRET-" + tag))).
		SaveX(sys)
	u := c.User.Create().SetEmail("owner-" + tag + "@example.com").SetName("Owner " + tag).
		SetPasswordHash(secret("$argon2id$HASH-" + tag)).SaveX(plat)
	out.owner = string(u.ID)
	c.Membership.Create().SetWorkspaceID(w.ID).SetUserID(u.ID).SetRole("OWNER").SaveX(plat)
	c.Session.Create().SetUserID(u.ID).SetHash(secret("SESSHASH-" + tag)).SetExpiresAt(time.Now().Add(time.Hour)).SaveX(plat)
	c.APIKey.Create().SetName("k").SetPrefix("nks_" + tag).SetHash(secret("KEYHASH-" + tag)).SetRole("OWNER").SaveX(sys)
	c.Invite.Create().SetEmail("new-" + tag + "@example.com").SetRole("AGENT").SetHash(secret("INVHASH-" + tag)).
		SetExpiresAt(time.Now().Add(time.Hour)).SetInvitedBy("user:" + string(u.ID)).SaveX(sys)
	c.ChannelAuthorization.Create().SetConnector("meta").SetStateHash(secret("STATEHASH-" + tag)).
		SetStateExpiresAt(time.Now().Add(time.Hour)).SetRedirectURI("https://x/cb").SetStartedBy("user:x").
		SetGrant([]byte(secret("GRANT-" + tag))).SetExpiresAt(time.Now().Add(time.Hour)).SaveX(sys)
	c.AgentSettings.Create().SetTone("friendly").SaveX(sys)
	c.PublishingSettings.Create().SaveX(sys)
	c.CannedReply.Create().SetShortcut("hi").SetText("Hello there").SaveX(sys)
	c.PendingStatus.Create().SetChannelID(ch.ID).SetExternalID("mid-pending-" + tag).SetStatus("read").SaveX(sys)
	doc := c.KnowledgeDocument.Create().SetTitle("FAQ " + tag).SetFormat("TEXT").SetContent("Opening hours 9-5").
		SetEmbeddingModel(b.space.Model).SetEmbeddingDimension(b.space.Dimension).SaveX(sys)
	c.KnowledgeChunk.Create().SetDocumentID(doc.ID).SetIndex(0).SetText("Opening hours 9-5").SetStartOffset(0).SetEndOffset(17).SaveX(sys)
	post := c.Post.Create().SetAuthor("user:x").SetText("Our new menu " + tag).SaveX(sys)
	c.PostTarget.Create().SetPostID(post.ID).SetChannelID(ch.ID).SaveX(sys)
	c.PostEvent.Create().SetPostID(post.ID).SetKind("COMMENT").SetActor("user:x").SetComment("ok").SaveX(sys)
	lbl := c.Label.Create().SetName("VIP").SetNameKey("vip").SaveX(sys)
	c.Export.Create().SetScope("WORKSPACE").SetRequestedBy("user:x").SaveX(sys)
	require.NoError(t, b.vectors.Upsert(ctx, b.space, []vector.Record{{ID: "kc-" + tag, WorkspaceID: ws, DocumentID: string(doc.ID), Vector: []float32{1, 0, 0, 0}}}))

	mk := func(who string) person {
		p := person{ws: ws, name: "Zorblatt " + who + " " + tag, phone: "+1555" + who + tag, externalID: "psid-" + who + "-" + tag,
			text: "my secret sentence " + who + " " + tag, fileBody: "FILEBODY-" + who + "-" + tag}
		ct := c.Contact.Create().SetChannelID(ch.ID).SetExternalID(p.externalID).SetName(p.name).SetPhone(p.phone).SaveX(sys)
		cv := c.Conversation.Create().SetChannelID(ch.ID).SetContactID(ct.ID).SetKind("DIRECT_MESSAGE").
			SetThreadID(p.externalID).SetSubject(p.name).SaveX(sys)
		// A customer's file in the media store.
		mid := pulid.New("med")
		key := ws + "/" + string(mid)
		require.NoError(t, b.bucket.WriteAll(ctx, key, []byte(p.fileBody), nil))
		c.Media.Create().SetID(mid).SetKind("DOCUMENT").SetMimeType("text/plain").SetSize(int64(len(p.fileBody))).
			SetSha256("x").SetFilename(p.name + ".txt").SetStorageKey(key).SetSource("inbound").SaveX(sys)
		in := c.Message.Create().SetConversationID(cv.ID).SetChannelID(ch.ID).SetContactID(ct.ID).SetDirection("INBOUND").
			SetAuthorKind("CONTACT").SetText(p.text).SetExternalID("mid-" + who + tag).SetSentimentLabel("NEGATIVE").SetSentimentScore(-0.7).
			SetAttachments([]schematype.Attachment{{Type: "file", MediaID: string(mid), Name: p.name + ".txt"}}).SaveX(sys)
		reply := c.Message.Create().SetConversationID(cv.ID).SetChannelID(ch.ID).SetDirection("OUTBOUND").
			SetAuthorKind("AI").SetText("Sorry to hear that, " + p.name).SetDeliveryStatus("DRAFT").SaveX(sys)
		c.Message.Create().SetConversationID(cv.ID).SetChannelID(ch.ID).SetDirection("INTERNAL").
			SetAuthorKind("AGENT").SetText("note: " + p.phone).SaveX(sys)
		c.AgentRun.Create().SetMessageID(in.ID).SetConversationID(cv.ID).SetDecision("DRAFTED").
			SetAnswer("Sorry to hear that, " + p.name).SetReplyMessageID(reply.ID).SaveX(sys)
		c.Label.UpdateOneID(lbl.ID).AddConversationIDs(cv.ID).ExecX(sys)
		require.NoError(t, audit.RecordFor(ctx, c, ws, "user:x", "conversation.update", "Conversation", string(cv.ID), nil))
		// Jobs naming the message: one queued, one finished.
		err := b.s.InTx(sys, func(tx *store.Tx) error {
			return tx.InsertJob(sys, jobargs.AIReply{WorkspaceID: ws, MessageID: string(in.ID)}, nil)
		})
		require.NoError(t, err)
		err = b.s.InTx(sys, func(tx *store.Tx) error {
			return tx.InsertJob(sys, jobargs.SentimentAnalyze{WorkspaceID: ws, MessageID: string(in.ID)}, nil)
		})
		require.NoError(t, err)
		// Vectors derived from the contact's text are filed under the contact.
		require.NoError(t, b.vectors.Upsert(ctx, b.space, []vector.Record{{ID: "ct-" + string(ct.ID), WorkspaceID: ws, DocumentID: string(ct.ID), Vector: []float32{0, 1, 0, 0}}}))
		p.contact, p.conv, p.msg, p.media = string(ct.ID), string(cv.ID), string(in.ID), string(mid)
		return p
	}
	out.alice = mk("alice")
	out.bob = mk("bob")
	// Finish the sentiment jobs: completed jobs keep their arguments.
	_, err = b.s.DB.ExecContext(ctx, "UPDATE river_job SET state = 'completed', finalized_at = "+nowSQL(b.s)+" WHERE kind = 'sentiment.analyze'")
	require.NoError(t, err)
	return out
}

func nowSQL(s *store.Store) string {
	if s.Dialect == dialect.Postgres {
		return "now()"
	}
	return "datetime('now', 'subsec')"
}

// tables lists every table of the database (ent's, River's, the embedded
// vector store's).
func tables(t *testing.T, s *store.Store) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if s.Dialect == dialect.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	rows, err := s.DB.Query(q)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, out)
	return out
}

// scanDB returns "table: needle" for every row of every table holding a needle.
func scanDB(t *testing.T, s *store.Store, needles ...string) []string {
	t.Helper()
	var found []string
	for _, tbl := range tables(t, s) {
		sel := "SELECT * FROM " + `"` + tbl + `"`
		if tbl == "river_job" {
			sel = "SELECT id, kind, state, json(args) FROM river_job"
			if s.Dialect == dialect.Postgres {
				sel = "SELECT id, kind, state, args::text FROM river_job"
			}
		}
		rows, err := s.DB.Query(sel)
		require.NoError(t, err, tbl)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var line strings.Builder
			for _, v := range vals {
				switch x := v.(type) {
				case []byte:
					line.Write(x)
				default:
					fmt.Fprint(&line, x)
				}
				line.WriteByte('|')
			}
			for _, n := range needles {
				if strings.Contains(line.String(), n) {
					found = append(found, tbl+": "+n)
				}
			}
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return found
}

// scanDir returns files whose name or content holds a needle.
func scanDir(t *testing.T, dir string, needles ...string) []string {
	t.Helper()
	var found []string
	require.NoError(t, filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if strings.Contains(path, n) || bytes.Contains(body, []byte(n)) {
				found = append(found, path+": "+n)
			}
		}
		return nil
	}))
	return found
}

func ownerCtx(ws string) context.Context {
	return tenant.NewContext(context.Background(), tenant.Member(ws, tenant.RoleOwner, "key-test", ""))
}

func roleCtx(ws string, r tenant.Role) context.Context {
	return tenant.NewContext(context.Background(), tenant.Member(ws, r, "key-test", ""))
}

func vectorDocs(t *testing.T, b *bundle, ws string) map[string]bool {
	t.Helper()
	hits, err := b.vectors.Search(context.Background(), b.space, ws, []float32{1, 1, 0, 0}, 100, vector.Filter{})
	require.NoError(t, err)
	out := map[string]bool{}
	for _, h := range hits {
		out[h.DocumentID] = true
	}
	return out
}

func TestEraseContact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		a := seed(t, b, "a1")
		other := seed(t, b, "b2")
		ctx := ownerCtx(a.ws)
		require.Empty(t, scanDB(t, b.s, "nothing-like-this"))
		require.NotEmpty(t, scanDB(t, b.s, a.alice.needles()...), "the scan sees the seeded data")
		require.NotEmpty(t, scanDir(t, b.dir, a.alice.fileBody))

		// Another workspace's contact is NOT_FOUND and nothing changes.
		_, err := b.svc.EraseContact(ctx, pulid.ID(other.alice.contact))
		require.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))
		require.NotEmpty(t, scanDB(t, b.s, other.alice.needles()...))
		// Agents and analysts cannot erase.
		_, err = b.svc.EraseContact(roleCtx(a.ws, tenant.RoleAgent), pulid.ID(a.alice.contact))
		require.ErrorIs(t, err, tenant.ErrForbidden)

		res, err := b.svc.EraseContact(ctx, pulid.ID(a.alice.contact))
		require.NoError(t, err)
		require.Positive(t, res.Rows)
		require.Equal(t, 1, res.Files)
		require.Equal(t, 2, res.Jobs)

		require.Empty(t, scanDB(t, b.s, a.alice.needles()...), "every table, River's jobs and the vector tables")
		require.Empty(t, scanDir(t, b.dir, a.alice.needles()...), "the media directory")
		// Audit entries name objects by ID only and stay; nothing else
		// names the erased conversation or message.
		for _, hit := range scanDB(t, b.s, a.alice.msg, a.alice.conv) {
			require.True(t, strings.HasPrefix(hit, "audit_logs: "), hit)
		}
		require.False(t, vectorDocs(t, b, a.ws)[a.alice.contact], "vectors derived from the contact")
		// Bob, the rest of the workspace and the other workspace stay.
		require.Len(t, scanDB(t, b.s, a.bob.name), len(scanDB(t, b.s, other.bob.name)))
		require.NotEmpty(t, scanDir(t, b.dir, a.bob.fileBody))
		require.True(t, vectorDocs(t, b, a.ws)[a.bob.contact])
		require.NotEmpty(t, scanDB(t, b.s, other.alice.needles()...))
		// The audit entry names the contact's ID only.
		entries := b.s.Ent.AuditLog.Query().AllX(ctx)
		var found bool
		for _, e := range entries {
			if e.Action == "contact.erase" {
				found = true
				require.Equal(t, a.alice.contact, e.TargetID)
			}
		}
		require.True(t, found)
	})
}

func TestWorkspaceDeletionAndPurge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		a := seed(t, b, "c3")
		other := seed(t, b, "d4")
		ctx := ownerCtx(a.ws)

		_, err := b.svc.DeleteWorkspace(ctx, "Shop wrong")
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))
		_, err = b.svc.DeleteWorkspace(roleCtx(a.ws, tenant.RoleAdmin), "Shop c3")
		require.ErrorIs(t, err, tenant.ErrForbidden)
		require.Empty(t, b.chans.calls, "nothing changed")

		w, err := b.svc.DeleteWorkspace(ctx, "Shop c3")
		require.NoError(t, err)
		require.NotNil(t, w.PurgeAfter)
		require.WithinDuration(t, b.clock.Now().Add(privacy.DefaultGrace), *w.PurgeAfter, time.Second)
		require.Len(t, b.chans.calls, 1, "the channel is disconnected")
		sys := tenant.NewContext(context.Background(), tenant.System(a.ws, "t"))
		for _, k := range b.s.Ent.APIKey.Query().AllX(sys) {
			require.NotNil(t, k.RevokedAt, "API keys end at once")
		}
		// Restore before the grace ends, then delete again.
		_, err = b.svc.RestoreWorkspace(ctx)
		require.NoError(t, err)
		purged, err := b.svc.PurgeWorkspace(context.Background(), a.ws)
		require.NoError(t, err)
		require.False(t, purged, "a restored workspace is not purged")
		_, err = b.svc.DeleteWorkspace(ctx, "Shop c3")
		require.NoError(t, err)
		purged, err = b.svc.PurgeWorkspace(context.Background(), a.ws)
		require.NoError(t, err)
		require.False(t, purged, "not before the grace period ends")

		b.clock.Add(privacy.DefaultGrace + time.Minute)
		_, err = b.svc.RestoreWorkspace(ctx)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err), "too late to restore")
		purged, err = b.svc.PurgeWorkspace(context.Background(), a.ws)
		require.NoError(t, err)
		require.True(t, purged)

		// Zero rows of the workspace anywhere: no row of any table, no job,
		// no vector names it or holds its data; no file is left.
		require.Empty(t, scanDB(t, b.s, a.ws))
		require.Empty(t, scanDB(t, b.s, a.alice.needles()...))
		require.Empty(t, scanDB(t, b.s, a.bob.needles()...))
		require.Empty(t, scanDB(t, b.s, a.owner, "owner-c3@example.com"), "its only member is gone with their sessions")
		require.NoDirExists(t, filepath.Join(b.dir, a.ws))
		require.Empty(t, scanDir(t, b.dir, a.ws, a.alice.fileBody, a.bob.fileBody))
		require.Empty(t, vectorDocs(t, b, a.ws))
		// The other workspace is whole.
		require.NotEmpty(t, scanDB(t, b.s, other.alice.needles()...))
		require.NotEmpty(t, vectorDocs(t, b, other.ws))
		require.NotEmpty(t, scanDir(t, b.dir, other.alice.fileBody))
	})
}

func TestRetentionWithFakeClock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		ws, err := workspace.Create(context.Background(), b.s, "Shop r")
		require.NoError(t, err)
		sys := tenant.NewContext(context.Background(), tenant.System(string(ws.ID), "seed"))
		c := b.s.Ent
		ch := c.Channel.Create().SetConnector("meta").SetPlatform("messenger").SetExternalID("page-r").SaveX(sys)
		start := b.clock.Now()
		// 120 old conversations (more than one batch) and one recent.
		for i := 0; i < privacy.RetentionBatch*2+20; i++ {
			ct := c.Contact.Create().SetChannelID(ch.ID).SetExternalID(fmt.Sprintf("old-%d", i)).SetName(fmt.Sprintf("Old Person %d", i)).
				SetCreatedAt(start.AddDate(0, 0, -100)).SetUpdatedAt(start.AddDate(0, 0, -100)).SaveX(sys)
			cv := c.Conversation.Create().SetChannelID(ch.ID).SetContactID(ct.ID).SetKind("DIRECT_MESSAGE").
				SetThreadID(fmt.Sprintf("old-%d", i)).SetLastMessageAt(start.AddDate(0, 0, -40)).SaveX(sys)
			c.Message.Create().SetConversationID(cv.ID).SetChannelID(ch.ID).SetContactID(ct.ID).SetDirection("INBOUND").
				SetAuthorKind("CONTACT").SetText(fmt.Sprintf("old words %d", i)).SaveX(sys)
		}
		fresh := c.Contact.Create().SetChannelID(ch.ID).SetExternalID("fresh").SetName("Fresh Person").SaveX(sys)
		fcv := c.Conversation.Create().SetChannelID(ch.ID).SetContactID(fresh.ID).SetKind("DIRECT_MESSAGE").
			SetThreadID("fresh").SetLastMessageAt(start.AddDate(0, 0, -5)).SaveX(sys)
		c.Message.Create().SetConversationID(fcv.ID).SetChannelID(ch.ID).SetContactID(fresh.ID).SetDirection("INBOUND").
			SetAuthorKind("CONTACT").SetText("fresh words").SaveX(sys)
		c.AuditLog.Create().SetActor("user:x").SetAction("old.thing").SetTargetType("X").SetTargetID("1").
			SetCreatedAt(start.AddDate(-2, 0, 0)).SaveX(sys)
		c.AuditLog.Create().SetActor("user:x").SetAction("recent.thing").SetTargetType("X").SetTargetID("2").
			SetCreatedAt(start.AddDate(0, -6, 0)).SaveX(sys)

		// Nothing is old enough for 60 days.
		res, err := b.svc.ApplyRetention(context.Background(), string(ws.ID), privacy.Retention{MessageDays: 60, AuditDays: 365})
		require.NoError(t, err)
		require.Zero(t, res.Conversations)
		require.Equal(t, 1, res.AuditEntries)
		// Thirty days later by the clock: the 40-day-old ones go, in batches.
		res, err = b.svc.ApplyRetention(context.Background(), string(ws.ID), privacy.Retention{MessageDays: 30, AuditDays: 30})
		require.NoError(t, err)
		require.Equal(t, privacy.RetentionBatch*2+20, res.Conversations)
		require.Equal(t, privacy.RetentionBatch*2+20, res.Contacts)
		require.GreaterOrEqual(t, res.Batches, 3)
		require.Zero(t, res.AuditEntries, "audit entries are kept at least a year")
		require.Empty(t, scanDB(t, b.s, "Old Person", "old words"))
		require.NotEmpty(t, scanDB(t, b.s, "Fresh Person"))
		require.NotEmpty(t, scanDB(t, b.s, "fresh words"))
		// Time passes: the fresh one ages out too.
		b.clock.Add(40 * 24 * time.Hour)
		res, err = b.svc.ApplyRetention(context.Background(), string(ws.ID), privacy.Retention{MessageDays: 30})
		require.NoError(t, err)
		require.Equal(t, 1, res.Conversations)
		require.Empty(t, scanDB(t, b.s, "Fresh Person", "fresh words"))
	})
}

func readZip(t *testing.T, body []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range zr.File {
		r, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		r.Close()
		out[f.Name] = string(b)
	}
	return out
}

func TestExportRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		a := seed(t, b, "e5")
		other := seed(t, b, "f6")
		var buf bytes.Buffer
		sys := tenant.NewContext(context.Background(), tenant.System(a.ws, "t"))
		require.NoError(t, b.svc.WriteArchive(sys, a.ws, "WORKSPACE", nil, &buf))
		files := readZip(t, buf.Bytes())
		// Every table the registry exports is present with rows.
		for name, r := range privacy.Tables {
			if r.NoExport {
				require.NotContains(t, files, name+".jsonl")
				continue
			}
			require.Contains(t, files, name+".jsonl")
			require.NotEmpty(t, files[name+".jsonl"], name)
		}
		all := buf.String()
		for _, f := range files {
			all += f
		}
		for _, p := range []person{a.alice, a.bob} {
			for _, n := range p.needles() {
				require.Contains(t, all, n)
			}
		}
		require.Contains(t, files["users.jsonl"], "owner-e5@example.com")
		for _, s := range a.secrets {
			require.NotContains(t, all, s, "no secret in an export")
		}
		require.NotContains(t, all, other.ws)
		require.NotContains(t, all, other.alice.name)
		require.Contains(t, files, "manifest.json")

		// One contact: their data, nobody else's.
		buf.Reset()
		cid := pulid.ID(a.alice.contact)
		require.NoError(t, b.svc.WriteArchive(sys, a.ws, "CONTACT", &cid, &buf))
		files = readZip(t, buf.Bytes())
		all = ""
		for _, f := range files {
			all += f
		}
		for _, n := range a.alice.needles() {
			require.Contains(t, all, n)
		}
		require.NotContains(t, all, a.bob.name)
		require.NotContains(t, all, a.bob.text)
		require.Contains(t, files, "agent_runs.jsonl")
		require.Contains(t, files, "label_conversations.jsonl")
	})
}

func TestExportRequestAndDownload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		a := seed(t, b, "g7")
		other := seed(t, b, "h8")
		for _, r := range []tenant.Role{tenant.RoleAgent, tenant.RoleAnalyst} {
			_, err := b.svc.RequestExport(roleCtx(a.ws, r), "WORKSPACE", nil)
			require.ErrorIs(t, err, tenant.ErrForbidden, r)
		}
		oc := pulid.ID(other.alice.contact)
		_, err := b.svc.RequestExport(ownerCtx(a.ws), "CONTACT", &oc)
		require.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))
		_, err = b.svc.RequestExport(ownerCtx(a.ws), "CONTACT", nil)
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))

		ex, err := b.svc.RequestExport(roleCtx(a.ws, tenant.RoleAdmin), "WORKSPACE", nil)
		require.NoError(t, err)
		require.Equal(t, "PENDING", string(ex.Status))
		require.Empty(t, b.svc.DownloadURL(ex))
		var n int
		require.NoError(t, b.s.DB.QueryRow("SELECT count(*) FROM river_job WHERE kind = 'export.build'").Scan(&n))
		require.Equal(t, 1, n, "the job is queued with the export")

		require.NoError(t, b.svc.BuildExport(context.Background(), a.ws, string(ex.ID)))
		list, err := b.svc.Exports(ownerCtx(a.ws))
		require.NoError(t, err)
		ex = list[0]
		require.Equal(t, "READY", string(ex.Status))
		require.WithinDuration(t, b.clock.Now().Add(privacy.ExportTTL), *ex.ExpiresAt, time.Second)
		link := b.svc.DownloadURL(ex)
		require.True(t, strings.HasPrefix(link, "https://neksio.example.com/exports/"+string(ex.ID)+"?exp="))

		get := func(u string) (int, []byte) {
			u = strings.TrimPrefix(u, "https://neksio.example.com")
			mux := http.NewServeMux()
			mux.Handle("GET /exports/{id}", b.svc)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
			return rec.Code, rec.Body.Bytes()
		}
		code, body := get(link)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, readZip(t, body)["contacts.jsonl"], a.alice.name)
		// A changed signature, or a link for another export, is refused.
		code, _ = get(link[:len(link)-2] + "xx")
		require.Equal(t, http.StatusForbidden, code)
		code, _ = get(strings.Replace(link, string(ex.ID), "exp_other", 1))
		require.Equal(t, http.StatusForbidden, code)
		// After the link's hour it is gone; after seven days the archive too.
		b.clock.Add(privacy.DownloadURLTTL + time.Minute)
		code, _ = get(link)
		require.Equal(t, http.StatusGone, code)
		b.clock.Add(privacy.ExportTTL)
		n, err = b.svc.ExpireExports(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		list, err = b.svc.Exports(ownerCtx(a.ws))
		require.NoError(t, err)
		require.Equal(t, "EXPIRED", string(list[0].Status))
		require.Empty(t, b.svc.DownloadURL(list[0]))
		require.Empty(t, scanDir(t, filepath.Join(b.dir, "exports"), a.alice.name))
	})
}

// TestSweepFollowsWorkspaceSettings: the periodic sweep applies each
// workspace's messageRetentionDays (a fake clock ages the data), leaves a
// workspace that keeps everything alone, and purges a deleted workspace
// once its grace has ended.
func TestSweepFollowsWorkspaceSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		a := seed(t, b, "s1")
		keep := seed(t, b, "s2")
		gone := seed(t, b, "s3")
		plat := tenant.NewContext(context.Background(), tenant.PlatformViewer("t"))
		b.s.Ent.Workspace.UpdateOneID(pulid.ID(a.ws)).SetMessageRetentionDays(30).ExecX(plat)
		_, err := b.svc.DeleteWorkspace(ownerCtx(gone.ws), "Shop s3")
		require.NoError(t, err)
		policy := privacy.SettingsPolicy(b.s)

		require.NoError(t, b.svc.Sweep(context.Background(), policy))
		require.NotEmpty(t, scanDB(t, b.s, a.alice.text), "nothing is 30 days old yet")

		b.clock.Add(31 * 24 * time.Hour)
		require.NoError(t, b.svc.Sweep(context.Background(), policy))
		require.Empty(t, scanDB(t, b.s, a.alice.needles()...))
		require.Empty(t, scanDB(t, b.s, a.bob.needles()...))
		require.NotEmpty(t, scanDB(t, b.s, keep.alice.text), "no retention set: kept")
		require.Empty(t, scanDB(t, b.s, gone.ws), "the deleted workspace is purged after its grace")
	})
}
