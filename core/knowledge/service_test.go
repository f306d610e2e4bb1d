package knowledge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent/knowledgechunk"
	"github.com/neksio/neksio/ent/knowledgedocument"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

type testBundle struct {
	store *store.Store
	svc   *knowledge.Service
	wsA   string
	wsB   string
	ctxA  context.Context
	ctxB  context.Context
}

func setup(t *testing.T, d storetest.Dialect) *testBundle {
	t.Helper()
	ctx := context.Background()
	s := storetest.Open(t, d)
	vd := vector.DialectSQLite
	if s.Dialect == dialect.Postgres {
		vd = vector.DialectPostgres
	}
	vs, err := vector.NewEmbedded(s.DB, vd)
	require.NoError(t, err)
	require.NoError(t, vs.Migrate(ctx))
	a, err := workspace.Create(ctx, s, "A")
	require.NoError(t, err)
	b, err := workspace.Create(ctx, s, "B")
	require.NoError(t, err)
	return &testBundle{
		store: s,
		svc:   &knowledge.Service{Store: s, Provider: builtin.New(), Vectors: vs},
		wsA:   string(a.ID), wsB: string(b.ID),
		ctxA: tenant.NewContext(ctx, tenant.Member(string(a.ID), tenant.RoleAdmin, "key_a", "")),
		ctxB: tenant.NewContext(ctx, tenant.Member(string(b.ID), tenant.RoleAdmin, "key_b", "")),
	}
}

// runJobs works every queued kb.index job the way the worker does, and
// returns how many ran.
func (b *testBundle) runJobs(t *testing.T) int {
	t.Helper()
	args := "args::text"
	if b.store.Dialect != dialect.Postgres {
		args = "json(args)" // riversqlite stores JSONB
	}
	rows, err := b.store.DB.Query(`SELECT id, ` + args + ` FROM river_job WHERE kind = 'kb.index' ORDER BY id`)
	require.NoError(t, err)
	type job struct {
		id   int64
		args jobargs.KBIndex
	}
	var jobs []job
	for rows.Next() {
		var j job
		var raw []byte
		require.NoError(t, rows.Scan(&j.id, &raw))
		require.NoError(t, json.Unmarshal(raw, &j.args))
		jobs = append(jobs, j)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	for _, j := range jobs {
		ctx := tenant.NewContext(context.Background(), tenant.System(j.args.WorkspaceID, "kb.index"))
		require.NoError(t, b.svc.Index(ctx, j.args))
		_, err := b.store.DB.Exec(fmt.Sprintf(`DELETE FROM river_job WHERE id = %d`, j.id))
		require.NoError(t, err)
	}
	return len(jobs)
}

func (b *testBundle) vectorCount(t *testing.T, docID pulid.ID) int {
	t.Helper()
	var n int
	require.NoError(t, b.store.DB.QueryRow(fmt.Sprintf(`SELECT count(*) FROM vector_records WHERE document_id = '%s'`, docID)).Scan(&n))
	return n
}

const hoursDoc = `# Opening hours

## Riverside
Tuesday to Friday: 8am to 4pm. Closed on Mondays.

## Old Town
Every day from 7am to 7pm.

# Delivery
We deliver within 5 miles for a fee of £3.50. Orders over £25 are delivered free.
`

func TestKnowledgeLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		ctx := b.ctxA

		doc, err := b.svc.Add(ctx, knowledge.DocumentInput{Title: "Crumb & Co", Content: hoursDoc, Format: knowledge.FormatMarkdown})
		require.NoError(t, err)
		require.Equal(t, knowledgedocument.StatusPending, doc.Status)
		require.Equal(t, 1, storetest.CountJobs(t, b.store.DB, "kb.index"), "the job is queued with the write")

		require.Equal(t, 1, b.runJobs(t))
		doc, err = b.store.Ent.KnowledgeDocument.Get(ctx, doc.ID)
		require.NoError(t, err)
		require.Equal(t, knowledgedocument.StatusIndexed, doc.Status)
		require.Positive(t, doc.ChunkCount)
		require.NotNil(t, doc.IndexedAt)
		chunks, err := b.store.Ent.KnowledgeChunk.Query().Where(knowledgechunk.DocumentID(doc.ID)).All(ctx)
		require.NoError(t, err)
		require.Len(t, chunks, doc.ChunkCount)
		require.Equal(t, doc.ChunkCount, b.vectorCount(t, doc.ID))

		ans, err := b.svc.Ask(ctx, "how much is delivery?")
		require.NoError(t, err)
		require.False(t, ans.Refused)
		require.Contains(t, ans.Text, "£3.50")
		require.NotEmpty(t, ans.Citations)
		require.Equal(t, doc.ID, ans.Citations[0].DocumentID)
		require.NotEmpty(t, ans.Citations[0].Snippet)

		// An update re-indexes: new chunks and vectors replace the old ones.
		newContent := strings.Replace(hoursDoc, "£3.50", "£4.20", 1)
		doc, err = b.svc.Update(ctx, doc.ID, knowledge.DocumentUpdate{Content: &newContent})
		require.NoError(t, err)
		require.Equal(t, 2, doc.Version)
		require.Equal(t, knowledgedocument.StatusPending, doc.Status)
		require.Equal(t, 1, b.runJobs(t))
		for _, c := range chunks {
			ok, err := b.store.Ent.KnowledgeChunk.Query().Where(knowledgechunk.ID(c.ID)).Exist(ctx)
			require.NoError(t, err)
			require.False(t, ok, "old chunk %s still there", c.ID)
		}
		doc, err = b.store.Ent.KnowledgeDocument.Get(ctx, doc.ID)
		require.NoError(t, err)
		require.Equal(t, knowledgedocument.StatusIndexed, doc.Status)
		require.Equal(t, doc.ChunkCount, b.vectorCount(t, doc.ID))
		ans, err = b.svc.Ask(ctx, "how much is delivery?")
		require.NoError(t, err)
		require.Contains(t, ans.Text, "£4.20")
		require.NotContains(t, ans.Text, "£3.50")

		// An unchanged update queues nothing.
		same := "Crumb & Co"
		_, err = b.svc.Update(ctx, doc.ID, knowledge.DocumentUpdate{Title: &same})
		require.NoError(t, err)
		require.Equal(t, 0, storetest.CountJobs(t, b.store.DB, "kb.index"))

		// A delete removes chunks and vectors at once; the job finishes the job.
		require.NoError(t, b.svc.Delete(ctx, doc.ID))
		require.Equal(t, 0, b.vectorCount(t, doc.ID))
		n, err := b.store.Ent.KnowledgeChunk.Query().Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, 1, b.runJobs(t))
		ans, err = b.svc.Ask(ctx, "how much is delivery?")
		require.NoError(t, err)
		require.True(t, ans.Refused)
		require.Empty(t, ans.Citations)
		require.ErrorContains(t, b.svc.Delete(ctx, doc.ID), "not found")
	})
}

func TestKnowledgeStaleJobDoesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		ctx := b.ctxA
		doc, err := b.svc.Add(ctx, knowledge.DocumentInput{Title: "Hours", Content: "We open at 9am every day."})
		require.NoError(t, err)
		content := "We open at 10am every day."
		_, err = b.svc.Update(ctx, doc.ID, knowledge.DocumentUpdate{Content: &content})
		require.NoError(t, err)

		sys := tenant.NewContext(context.Background(), tenant.System(b.wsA, "test"))
		require.NoError(t, b.svc.Index(sys, jobargs.KBIndex{WorkspaceID: b.wsA, DocumentID: string(doc.ID), Version: 1}))
		got, err := b.store.Ent.KnowledgeDocument.Get(ctx, doc.ID)
		require.NoError(t, err)
		require.Equal(t, knowledgedocument.StatusPending, got.Status, "the version-1 job must not index version 2")
		require.Zero(t, got.ChunkCount)

		require.Equal(t, 2, b.runJobs(t))
		ans, err := b.svc.Ask(ctx, "what time do you open?")
		require.NoError(t, err)
		require.Contains(t, ans.Text, "10am")
	})
}

func TestKnowledgeTenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		secret, err := b.svc.Add(b.ctxA, knowledge.DocumentInput{Title: "Secret recipe", Content: "Our secret croissant recipe uses saffron butter from Cornwall."})
		require.NoError(t, err)
		_, err = b.svc.Add(b.ctxB, knowledge.DocumentInput{Title: "Hours", Content: "The bakery opens at 9am."})
		require.NoError(t, err)
		require.Equal(t, 2, b.runJobs(t))

		ans, err := b.svc.Ask(b.ctxB, "what does the secret croissant recipe use?")
		require.NoError(t, err)
		require.NotContains(t, ans.Text, "saffron")
		for _, c := range ans.Citations {
			require.NotEqual(t, secret.ID, c.DocumentID)
		}
		ans, err = b.svc.Ask(b.ctxA, "what does the secret croissant recipe use?")
		require.NoError(t, err)
		require.Contains(t, ans.Text, "saffron")

		// B cannot see, change or delete A's document.
		title := "mine now"
		_, err = b.svc.Update(b.ctxB, secret.ID, knowledge.DocumentUpdate{Title: &title})
		require.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))
		require.Equal(t, apperr.CodeNotFound, apperr.CodeOf(b.svc.Delete(b.ctxB, secret.ID)))
		n, err := b.store.Ent.KnowledgeDocument.Query().Count(b.ctxB)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Positive(t, b.vectorCount(t, secret.ID))
	})
}

func TestKnowledgeValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, storetest.SQLite)
	ctx := b.ctxA
	field := func(err error) string {
		var ae *apperr.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, apperr.CodeBadUserInput, ae.Code)
		return ae.Field
	}
	_, err := b.svc.Add(ctx, knowledge.DocumentInput{Title: "  ", Content: "x"})
	require.Equal(t, "title", field(err))
	_, err = b.svc.Add(ctx, knowledge.DocumentInput{Title: strings.Repeat("t", 301), Content: "x"})
	require.Equal(t, "title", field(err))
	_, err = b.svc.Add(ctx, knowledge.DocumentInput{Title: "t", Content: " \n "})
	require.Equal(t, "content", field(err))
	_, err = b.svc.Add(ctx, knowledge.DocumentInput{Title: "t", Content: "x", Format: "PDF"})
	require.Equal(t, "format", field(err))
	_, err = b.svc.AddUpload(ctx, knowledge.Upload{Filename: "big.md", Size: knowledge.MaxContentBytes + 1,
		Content: bytes.NewReader(make([]byte, 10))})
	require.Equal(t, "file", field(err))
	_, err = b.svc.AddUpload(ctx, knowledge.Upload{Filename: "big.md", Size: -1,
		Content: bytes.NewReader(bytes.Repeat([]byte("a"), knowledge.MaxContentBytes+1))})
	require.Equal(t, "file", field(err), "the size is checked on the bytes too")
	_, err = b.svc.AddUpload(ctx, knowledge.Upload{Filename: "menu.pdf", Content: strings.NewReader("%PDF-1.7")})
	require.Equal(t, "format", field(err))
	_, err = b.svc.AddUpload(ctx, knowledge.Upload{Filename: "menu.txt", Content: bytes.NewReader([]byte{0xff, 0x00, 0x01})})
	require.Equal(t, "file", field(err))
	_, err = b.svc.Ask(ctx, " ")
	require.Equal(t, "question", field(err))
	n, err := b.store.Ent.KnowledgeDocument.Query().Count(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "bad input changes nothing")
	require.Zero(t, storetest.CountJobs(t, b.store.DB, "kb.index"))

	// An upload takes its title and format from the file.
	doc, err := b.svc.AddUpload(ctx, knowledge.Upload{Filename: "faq.html", ContentType: "text/html",
		Content: strings.NewReader("<h1>FAQ</h1><p>We open at 9am.</p>")})
	require.NoError(t, err)
	require.Equal(t, "faq", doc.Title)
	require.Equal(t, knowledgedocument.FormatHTML, doc.Format)

	// Analysts may ask but not write.
	analyst := tenant.NewContext(context.Background(), tenant.Member(b.wsA, tenant.RoleAnalyst, "key_an", ""))
	_, err = b.svc.Add(analyst, knowledge.DocumentInput{Title: "t", Content: "x"})
	require.ErrorIs(t, err, tenant.ErrForbidden)
	_, err = b.svc.Ask(analyst, "when do you open")
	require.NoError(t, err)
}

// The knowledge base is managed by admins and owners: agents and analysts
// list and ask, and their writes are refused and change nothing.
func TestKnowledgeWritersAreAdmins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		doc, err := b.svc.Add(b.ctxA, knowledge.DocumentInput{Title: "Hours", Content: "We open at 9am every day."})
		require.NoError(t, err)
		require.Equal(t, 1, b.runJobs(t))
		owner := tenant.NewContext(context.Background(), tenant.Member(b.wsA, tenant.RoleOwner, "key_o", ""))
		_, err = b.svc.Add(owner, knowledge.DocumentInput{Title: "Delivery", Content: "We deliver within 5 miles."})
		require.NoError(t, err)
		require.Equal(t, 1, b.runJobs(t))

		for _, role := range []tenant.Role{tenant.RoleAgent, tenant.RoleAnalyst} {
			ctx := tenant.NewContext(context.Background(), tenant.Member(b.wsA, role, "key_"+string(role), ""))
			_, err := b.svc.Add(ctx, knowledge.DocumentInput{Title: "t", Content: "x"})
			require.ErrorIs(t, err, tenant.ErrForbidden, role)
			_, err = b.svc.AddUpload(ctx, knowledge.Upload{Filename: "faq.md", Content: strings.NewReader("# FAQ")})
			require.ErrorIs(t, err, tenant.ErrForbidden, role)
			title := "changed"
			_, err = b.svc.Update(ctx, doc.ID, knowledge.DocumentUpdate{Title: &title})
			require.ErrorIs(t, err, tenant.ErrForbidden, role)
			require.ErrorIs(t, b.svc.Delete(ctx, doc.ID), tenant.ErrForbidden, role)

			docs, err := b.store.Ent.KnowledgeDocument.Query().All(ctx)
			require.NoError(t, err, role)
			require.Len(t, docs, 2, role)
			ans, err := b.svc.Ask(ctx, "what time do you open?")
			require.NoError(t, err, role)
			require.Contains(t, ans.Text, "9am", role)
		}
		got, err := b.store.Ent.KnowledgeDocument.Get(b.ctxA, doc.ID)
		require.NoError(t, err)
		require.Equal(t, "Hours", got.Title)
		require.Equal(t, 1, got.Version)
		require.Zero(t, storetest.CountJobs(t, b.store.DB, "kb.index"), "refused writes queue nothing")
	})
}
