package knowledge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/knowledgechunk"
	"github.com/neksio/neksio/ent/knowledgedocument"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/jobs/jobargs"
)

// Limits of the knowledge base API.
const (
	MaxTitleChars    = 300
	MaxContentBytes  = 5 << 20
	MaxQuestionChars = 2000
	// DefaultTopK passages are retrieved for an answer.
	DefaultTopK = 5
	// embedBatch bounds one embedding call, so a large document neither
	// builds one huge request nor holds all its vectors twice.
	embedBatch = 64
	// SnippetChars is the length of a citation's snippet.
	SnippetChars = 200
)

// Service is the knowledge base: documents, their indexing into chunks and
// vectors, and grounded answers.
type Service struct {
	Store    *store.Store
	Provider ai.Provider
	Vectors  vector.Store
	Log      *slog.Logger
	Now      func() time.Time
	// TopK passages are retrieved per question; 0 means DefaultTopK.
	TopK int
	// Chunking overrides DefaultOptions when non-zero.
	Chunking Options
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// DocumentInput is what addKnowledgeDocument takes. An empty Format means
// TEXT.
type DocumentInput struct {
	Title   string
	Content string
	Format  Format
}

// DocumentUpdate changes a document; nil fields stay.
type DocumentUpdate struct {
	Title   *string
	Content *string
	Format  *Format
}

func cleanTitle(t string) (string, error) {
	t = strings.TrimSpace(t)
	if t == "" {
		return "", apperr.Invalid("title", "title is required")
	}
	if utf8.RuneCountInString(t) > MaxTitleChars {
		return "", apperr.Invalid("title", "title is longer than %d characters", MaxTitleChars)
	}
	return t, nil
}

func checkContent(c string) error {
	if strings.TrimSpace(c) == "" {
		return apperr.Invalid("content", "content is required")
	}
	if len(c) > MaxContentBytes {
		return apperr.Invalid("content", "content is larger than %d MB", MaxContentBytes>>20)
	}
	return nil
}

func checkFormat(f Format) (Format, error) {
	if f == "" {
		return FormatText, nil
	}
	if knowledgedocument.FormatValidator(knowledgedocument.Format(f)) != nil {
		return "", apperr.Invalid("format", "unknown format %q (want TEXT, MARKDOWN or HTML)", f)
	}
	return f, nil
}

// WriterRole may add, change and delete documents. What the agent tells
// customers comes from them, so they are managed like the workspace's
// other settings: by admins and owners. Agents and analysts list the
// documents and ask the knowledge base.
const WriterRole = tenant.RoleAdmin

// Add stores a document and queues its indexing in the same transaction.
func (s *Service) Add(ctx context.Context, in DocumentInput) (*ent.KnowledgeDocument, error) {
	v, err := tenant.Require(ctx, WriterRole)
	if err != nil {
		return nil, err
	}
	title, err := cleanTitle(in.Title)
	if err != nil {
		return nil, err
	}
	if err := checkContent(in.Content); err != nil {
		return nil, err
	}
	format, err := checkFormat(in.Format)
	if err != nil {
		return nil, err
	}
	var out *ent.KnowledgeDocument
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		out, err = tx.Ent.KnowledgeDocument.Create().
			SetWorkspaceID(pulid.ID(v.WorkspaceID)).
			SetTitle(title).
			SetFormat(knowledgedocument.Format(format)).
			SetContent(in.Content).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("knowledge: storing document: %w", err)
		}
		if err := audit.Record(ctx, tx.Ent, "knowledge.document.create", "KnowledgeDocument", string(out.ID),
			map[string]string{"format": string(format)}); err != nil {
			return err
		}
		return tx.InsertJob(ctx, jobargs.KBIndex{WorkspaceID: v.WorkspaceID, DocumentID: string(out.ID), Version: out.Version}, nil)
	})
	return out, err
}

// Upload is an uploaded file: its name and content type help guess the
// format when none is given.
type Upload struct {
	Filename    string
	ContentType string
	Size        int64
	Content     io.Reader
	Title       string
	Format      Format
}

// AddUpload reads an uploaded .txt, .md or .html file and adds it.
func (s *Service) AddUpload(ctx context.Context, up Upload) (*ent.KnowledgeDocument, error) {
	if _, err := tenant.Require(ctx, WriterRole); err != nil {
		return nil, err
	}
	if up.Size > MaxContentBytes {
		return nil, apperr.Invalid("file", "file is larger than %d MB", MaxContentBytes>>20)
	}
	format := up.Format
	if format == "" {
		var err error
		if format, err = ParseFormat(filepath.Ext(up.Filename)); err != nil {
			if format, err = ParseFormat(up.ContentType); err != nil {
				return nil, apperr.Invalid("format", "cannot tell the format of %q: give format (TEXT, MARKDOWN or HTML)", up.Filename)
			}
		}
	}
	raw, err := io.ReadAll(io.LimitReader(up.Content, MaxContentBytes+1))
	if err != nil {
		return nil, apperr.Invalid("file", "reading the upload: %v", err)
	}
	if len(raw) > MaxContentBytes {
		return nil, apperr.Invalid("file", "file is larger than %d MB", MaxContentBytes>>20)
	}
	// PDFs, images and office files are not text; extracting them would
	// index garbage.
	if !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0 {
		return nil, apperr.Invalid("file", "file must be UTF-8 text (.txt, .md or .html)")
	}
	title := up.Title
	if strings.TrimSpace(title) == "" {
		base := filepath.Base(up.Filename)
		title = strings.TrimSuffix(base, filepath.Ext(base))
	}
	return s.Add(ctx, DocumentInput{Title: title, Content: string(raw), Format: format})
}

// Update changes a document. A change of content, format or title (the
// title is part of every embedded passage) bumps its version and queues a
// re-index; the old chunks keep answering until it is done.
func (s *Service) Update(ctx context.Context, id pulid.ID, in DocumentUpdate) (*ent.KnowledgeDocument, error) {
	v, err := tenant.Require(ctx, WriterRole)
	if err != nil {
		return nil, err
	}
	var title string
	if in.Title != nil {
		if title, err = cleanTitle(*in.Title); err != nil {
			return nil, err
		}
	}
	if in.Content != nil {
		if err := checkContent(*in.Content); err != nil {
			return nil, err
		}
	}
	var format Format
	if in.Format != nil {
		if *in.Format == "" {
			return nil, apperr.Invalid("format", "format must not be empty")
		}
		if format, err = checkFormat(*in.Format); err != nil {
			return nil, err
		}
	}
	var out *ent.KnowledgeDocument
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		doc, err := tx.Ent.KnowledgeDocument.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFound("knowledge document")
		}
		if err != nil {
			return err
		}
		changed := (in.Title != nil && title != doc.Title) ||
			(in.Content != nil && *in.Content != doc.Content) ||
			(in.Format != nil && string(format) != string(doc.Format))
		if !changed {
			out = doc
			return nil
		}
		u := tx.Ent.KnowledgeDocument.UpdateOneID(id).
			AddVersion(1).
			SetStatus(knowledgedocument.StatusPending).
			SetError("")
		if in.Title != nil {
			u.SetTitle(title)
		}
		if in.Content != nil {
			u.SetContent(*in.Content)
		}
		if in.Format != nil {
			u.SetFormat(knowledgedocument.Format(format))
		}
		if out, err = u.Save(ctx); err != nil {
			return fmt.Errorf("knowledge: updating document: %w", err)
		}
		if err := audit.Record(ctx, tx.Ent, "knowledge.document.update", "KnowledgeDocument", string(id),
			map[string]string{"version": strconv.Itoa(out.Version)}); err != nil {
			return err
		}
		return tx.InsertJob(ctx, jobargs.KBIndex{WorkspaceID: v.WorkspaceID, DocumentID: string(id), Version: out.Version}, nil)
	})
	return out, err
}

// Delete removes a document, its chunks and (through a kb.index job queued
// in the same transaction, and right away when possible) its vectors.
func (s *Service) Delete(ctx context.Context, id pulid.ID) error {
	v, err := tenant.Require(ctx, WriterRole)
	if err != nil {
		return err
	}
	var doc *ent.KnowledgeDocument
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		// Locked, so an index job cannot add chunks between their delete
		// and the document's (its insert waits, then finds no document).
		q := tx.Ent.KnowledgeDocument.Query().Where(knowledgedocument.ID(id))
		if s.Store.Dialect == dialect.Postgres { // SQLite: one writer at a time
			q = q.ForUpdate()
		}
		doc, err = q.Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.NotFound("knowledge document")
		}
		if err != nil {
			return err
		}
		if _, err := tx.Ent.KnowledgeChunk.Delete().Where(knowledgechunk.DocumentID(id)).Exec(ctx); err != nil {
			return fmt.Errorf("knowledge: deleting chunks: %w", err)
		}
		if err := tx.Ent.KnowledgeDocument.DeleteOneID(id).Exec(ctx); err != nil {
			return fmt.Errorf("knowledge: deleting document: %w", err)
		}
		if err := audit.Record(ctx, tx.Ent, "knowledge.document.delete", "KnowledgeDocument", string(id), nil); err != nil {
			return err
		}
		return tx.InsertJob(ctx, jobargs.KBIndex{WorkspaceID: v.WorkspaceID, DocumentID: string(id), Version: doc.Version,
			DeletedModel: doc.EmbeddingModel, DeletedDimension: doc.EmbeddingDimension}, nil)
	})
	if err != nil {
		return err
	}
	// The job guarantees the removal; doing it now too means a search right
	// after the delete already misses the document's vectors.
	if doc.EmbeddingModel != "" && doc.EmbeddingDimension > 0 {
		space := vector.Space{Model: doc.EmbeddingModel, Dimension: doc.EmbeddingDimension}
		if err := s.Vectors.DeleteDocument(ctx, space, v.WorkspaceID, string(id)); err != nil {
			s.log().Warn("knowledge: removing vectors now failed; the kb.index job will retry", "document", id, "err", err)
		}
	}
	return nil
}

// IndexJob is what the kb.index worker hands to Index.
type IndexJob = jobargs.KBIndex

// ErrIndexFailed marks a document that cannot be indexed (recorded on the
// document as FAILED); retrying will not help.
var ErrIndexFailed = errors.New("knowledge: indexing failed")

// Index extracts, chunks and embeds a document at the job's version, then
// replaces its vectors and chunks. ctx carries a system viewer of the
// document's workspace. It returns a retryable ai error (ai.Retryable,
// ai.RetryAfter) when the embedder is down, for the job layer to retry; a
// job for an older version does nothing, and a job for a deleted document
// removes its vectors.
func (s *Service) Index(ctx context.Context, job IndexJob) error {
	return s.index(ctx, job, false)
}

// IndexLastAttempt is Index when no retry follows (the job's last
// attempt): an embedder that is still down records the document FAILED.
func (s *Service) IndexLastAttempt(ctx context.Context, job IndexJob) error {
	return s.index(ctx, job, true)
}

func (s *Service) index(ctx context.Context, job IndexJob, giveUp bool) error {
	id := pulid.ID(job.DocumentID)
	doc, err := s.Store.Ent.KnowledgeDocument.Get(ctx, id)
	if ent.IsNotFound(err) {
		if job.DeletedModel == "" || job.DeletedDimension <= 0 {
			return nil // never indexed: no vectors to remove
		}
		space := vector.Space{Model: job.DeletedModel, Dimension: job.DeletedDimension}
		if err := s.Vectors.DeleteDocument(ctx, space, job.WorkspaceID, job.DocumentID); err != nil {
			return fmt.Errorf("knowledge: removing vectors of deleted document: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("knowledge: loading document: %w", err)
	}
	if doc.Version != job.Version {
		return nil // a newer job indexes the newer version
	}
	parsed, err := Extract(Format(doc.Format), doc.Content)
	if err != nil {
		return s.markFailed(ctx, doc, "could not read the document: "+err.Error())
	}
	chunks := ChunkDocument(parsed, s.chunking())
	if len(chunks) == 0 {
		return s.markFailed(ctx, doc, "no text found in the document")
	}
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = c.EmbeddingText(doc.Title)
	}
	// One provider for the whole document: the workspace's choice
	// (core/ai.Chooser), so its vectors and their space agree.
	p, err := ai.Resolve(ctx, s.Provider)
	if err != nil {
		return err
	}
	vecs, err := s.embed(ctx, p, texts)
	if err != nil {
		if ai.Retryable(err) && !giveUp {
			return err
		}
		return s.markFailed(ctx, doc, "embedding failed: "+err.Error())
	}
	space := vector.Space{Model: p.Embedder().Model(), Dimension: len(vecs[0])}
	ids := make([]pulid.ID, len(chunks))
	records := make([]vector.Record, 0, len(chunks))
	for i := range chunks {
		ids[i] = pulid.New("kc")
		if isZero(vecs[i]) {
			continue // nothing to compare: such a chunk is never retrieved
		}
		records = append(records, vector.Record{ID: string(ids[i]), WorkspaceID: job.WorkspaceID, DocumentID: job.DocumentID, Vector: vecs[i]})
	}
	// Vectors first, rows second: a search only returns chunks whose rows
	// exist, so until the rows commit the new vectors are invisible, and the
	// old ones disappear once their rows do.
	if doc.EmbeddingModel != "" && doc.EmbeddingDimension > 0 &&
		(doc.EmbeddingModel != space.Model || doc.EmbeddingDimension != space.Dimension) {
		old := vector.Space{Model: doc.EmbeddingModel, Dimension: doc.EmbeddingDimension}
		if err := s.Vectors.DeleteDocument(ctx, old, job.WorkspaceID, job.DocumentID); err != nil {
			return fmt.Errorf("knowledge: removing vectors of the previous model: %w", err)
		}
	}
	if err := s.Vectors.DeleteDocument(ctx, space, job.WorkspaceID, job.DocumentID); err != nil {
		return fmt.Errorf("knowledge: replacing vectors: %w", err)
	}
	if len(records) > 0 {
		if err := s.Vectors.Upsert(ctx, space, records); err != nil {
			return fmt.Errorf("knowledge: storing vectors: %w", err)
		}
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		n, err := tx.Ent.KnowledgeDocument.Update().
			Where(knowledgedocument.ID(id), knowledgedocument.Version(job.Version)).
			SetStatus(knowledgedocument.StatusIndexed).
			SetChunkCount(len(chunks)).
			SetError("").
			SetIndexedAt(s.now()).
			SetEmbeddingModel(space.Model).
			SetEmbeddingDimension(space.Dimension).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("knowledge: marking indexed: %w", err)
		}
		if n == 0 {
			// The document changed (or went) while this job embedded it, and
			// its vectors were just overwritten with this stale version's: queue
			// the current version again so the last write is the newest.
			cur, err := tx.Ent.KnowledgeDocument.Get(ctx, id)
			if ent.IsNotFound(err) {
				return tx.InsertJob(ctx, jobargs.KBIndex{WorkspaceID: job.WorkspaceID, DocumentID: job.DocumentID,
					Version: job.Version, DeletedModel: space.Model, DeletedDimension: space.Dimension}, nil)
			}
			if err != nil {
				return err
			}
			return tx.InsertJob(ctx, jobargs.KBIndex{WorkspaceID: job.WorkspaceID, DocumentID: job.DocumentID, Version: cur.Version}, nil)
		}
		if _, err := tx.Ent.KnowledgeChunk.Delete().Where(knowledgechunk.DocumentID(id)).Exec(ctx); err != nil {
			return fmt.Errorf("knowledge: removing old chunks: %w", err)
		}
		creates := make([]*ent.KnowledgeChunkCreate, len(chunks))
		for i, c := range chunks {
			creates[i] = tx.Ent.KnowledgeChunk.Create().
				SetID(ids[i]).
				SetWorkspaceID(doc.WorkspaceID).
				SetDocumentID(id).
				SetIndex(c.Index).
				SetHeading(c.Heading).
				SetText(c.Text).
				SetStartOffset(c.Start).
				SetEndOffset(c.End)
		}
		for start := 0; start < len(creates); start += 100 {
			if err := tx.Ent.KnowledgeChunk.CreateBulk(creates[start:min(start+100, len(creates))]...).Exec(ctx); err != nil {
				return fmt.Errorf("knowledge: storing chunks: %w", err)
			}
		}
		return nil
	})
}

func (s *Service) chunking() Options {
	if s.Chunking.MaxChars > 0 {
		return s.Chunking
	}
	return DefaultOptions
}

func (s *Service) markFailed(ctx context.Context, doc *ent.KnowledgeDocument, reason string) error {
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	_, err := s.Store.Ent.KnowledgeDocument.Update().
		Where(knowledgedocument.ID(doc.ID), knowledgedocument.Version(doc.Version)).
		SetStatus(knowledgedocument.StatusFailed).
		SetError(reason).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("knowledge: marking failed: %w", err)
	}
	s.log().Warn("knowledge: document not indexed", "document", doc.ID, "reason", reason)
	return nil
}

func (s *Service) embed(ctx context.Context, p ai.Provider, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += embedBatch {
		vecs, err := p.Embedder().Embed(ctx, texts[start:min(start+embedBatch, len(texts))])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	if len(out) != len(texts) {
		return nil, fmt.Errorf("knowledge: embedder returned %d vectors for %d texts", len(out), len(texts))
	}
	return out, nil
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// Passage is a retrieved chunk with its document.
type Passage struct {
	ai.Passage
	DocumentID pulid.ID
}

// Retrieve returns up to TopK passages of the viewer's workspace closest
// to question, best first. Vectors whose chunk no longer exists (a
// re-index or delete in flight) are skipped.
func (s *Service) Retrieve(ctx context.Context, question string) ([]Passage, ai.Usage, error) {
	p, err := ai.Resolve(ctx, s.Provider)
	if err != nil {
		return nil, ai.Usage{}, err
	}
	return s.retrieve(ctx, p, question)
}

// retrieve searches the space of p's embedding model: a workspace's
// documents are indexed with the provider it uses (see docs/privacy.md).
func (s *Service) retrieve(ctx context.Context, p ai.Provider, question string) ([]Passage, ai.Usage, error) {
	v, err := tenant.Require(ctx, tenant.RoleAnalyst)
	if err != nil {
		return nil, ai.Usage{}, err
	}
	qv, err := p.Embedder().Embed(ctx, []string{question})
	if err != nil {
		return nil, ai.Usage{}, err
	}
	if len(qv) != 1 || len(qv[0]) == 0 {
		return nil, ai.Usage{}, nil
	}
	k := s.TopK
	if k <= 0 {
		k = DefaultTopK
	}
	space := vector.Space{Model: p.Embedder().Model(), Dimension: len(qv[0])}
	hits, err := s.Vectors.Search(ctx, space, v.WorkspaceID, qv[0], k, vector.Filter{})
	if err != nil {
		return nil, ai.Usage{}, fmt.Errorf("knowledge: searching vectors: %w", err)
	}
	if len(hits) == 0 {
		return nil, ai.Usage{}, nil
	}
	ids := make([]pulid.ID, len(hits))
	for i, h := range hits {
		ids[i] = pulid.ID(h.ID)
	}
	// The tenant policy scopes this read too: a vector of another
	// workspace could never turn into a passage here.
	rows, err := s.Store.Ent.KnowledgeChunk.Query().
		Where(knowledgechunk.IDIn(ids...)).
		WithDocument().
		All(ctx)
	if err != nil {
		return nil, ai.Usage{}, fmt.Errorf("knowledge: loading chunks: %w", err)
	}
	byID := make(map[pulid.ID]*ent.KnowledgeChunk, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	out := make([]Passage, 0, len(hits))
	for _, h := range hits {
		c := byID[pulid.ID(h.ID)]
		if c == nil || c.Edges.Document == nil {
			continue
		}
		ch := Chunk{Heading: c.Heading}
		out = append(out, Passage{
			Passage: ai.Passage{
				ID:    string(c.ID),
				Title: ch.Path(c.Edges.Document.Title),
				Text:  c.Text,
				Score: max(0, float64(h.Score)),
			},
			DocumentID: c.DocumentID,
		})
	}
	return out, ai.Usage{}, nil
}

// Answer is a grounded answer with its citations resolved to documents.
type Answer struct {
	Text       string
	Citations  []schematype.Citation
	Confidence float64
	Refused    bool
	// Unsupported are words of the question the answer does not cover
	// (ai.Answer.Unsupported); the agent does not send such an answer on
	// its own.
	Unsupported []string
	Model       string
	// Provider answered: "builtin" (offline) or the external provider's
	// name, as the workspace's aiProcessing allowed.
	Provider string
	Usage    ai.Usage
}

// CheckQuestion validates a question.
func CheckQuestion(q string) (string, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return "", apperr.Invalid("question", "question is required")
	}
	if utf8.RuneCountInString(q) > MaxQuestionChars {
		return "", apperr.Invalid("question", "question is longer than %d characters", MaxQuestionChars)
	}
	return q, nil
}

// Answer retrieves passages for question in the viewer's workspace and
// asks the provider for an answer grounded in them. An empty knowledge
// base gives a refusal, not an error. Provider failures are returned as
// they are (ai.Retryable tells the agent's job whether to retry).
func (s *Service) Answer(ctx context.Context, question, instructions string) (*Answer, error) {
	p, err := ai.Resolve(ctx, s.Provider)
	if err != nil {
		return nil, err
	}
	passages, _, err := s.retrieve(ctx, p, question)
	if err != nil {
		return nil, err
	}
	if len(passages) == 0 {
		return &Answer{Refused: true, Model: p.Name(), Provider: p.Name(), Citations: []schematype.Citation{}}, nil
	}
	req := ai.AnswerRequest{Question: question, Instructions: instructions, Passages: make([]ai.Passage, len(passages))}
	byID := make(map[string]Passage, len(passages))
	for i, p := range passages {
		req.Passages[i] = p.Passage
		byID[p.ID] = p
	}
	ans, err := p.Answer(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &Answer{Text: ans.Text, Confidence: ans.Confidence, Refused: ans.Refused, Unsupported: ans.Unsupported,
		Model: ans.Model, Provider: p.Name(), Usage: ans.Usage, Citations: make([]schematype.Citation, 0, len(ans.Citations))}
	if out.Model == "" {
		out.Model = p.Name()
	}
	for _, id := range ans.Citations {
		p, ok := byID[id]
		if !ok {
			continue
		}
		out.Citations = append(out.Citations, schematype.Citation{
			DocumentID: p.DocumentID, ChunkID: pulid.ID(p.ID), Title: p.Title, Snippet: Snippet(p.Text, SnippetChars),
		})
	}
	return out, nil
}

// Ask answers a question for a member trying the knowledge base; nothing
// is stored or sent.
func (s *Service) Ask(ctx context.Context, question string) (*Answer, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAnalyst); err != nil {
		return nil, err
	}
	q, err := CheckQuestion(question)
	if err != nil {
		return nil, err
	}
	ans, err := s.Answer(ctx, q, "")
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, apperr.Unavailable(err, "the AI provider is unavailable")
	}
	return ans, nil
}

// Snippet returns the first n bytes of s, cut at a word boundary, with an
// ellipsis when cut.
func Snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := s[:n]
	for !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
