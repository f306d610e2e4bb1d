package vector

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Dialects accepted by NewEmbedded.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// DefaultCacheBytes bounds the in-memory vectors of an Embedded store unless
// WithCacheBytes says otherwise: about 700k vectors of 384 dimensions.
const DefaultCacheBytes = 1 << 30

// Embedded is the default Store: vectors persist in the application database
// (tables vector_records and vector_versions, created by Migrate) and are
// searched exactly, in memory, one workspace at a time.
//
// Each workspace's vectors are loaded on its first search into one contiguous
// slice of unit-length vectors. Writes through this store update that cache
// after they commit, so a search sees them at once. Every write also bumps a
// per-workspace version row in the same transaction; each search reads that
// row (one primary-key lookup) and reloads the workspace when another process
// sharing the database has written since the cache was filled. Processes thus
// see each other's writes on their next search, with no TTL to tune.
type Embedded struct {
	db      *sql.DB
	dialect string
	limit   int64

	mu      sync.Mutex
	entries map[string]*cacheEntry
	clock   atomic.Int64 // logical clock for least-recently-used eviction
	closed  atomic.Bool
}

// EmbeddedOption configures NewEmbedded.
type EmbeddedOption func(*Embedded)

// WithCacheBytes bounds the memory the vector cache may hold; the least
// recently searched workspaces are dropped beyond it (and reloaded from the
// database when searched again). A workspace larger than the bound is still
// searched, then dropped.
func WithCacheBytes(n int64) EmbeddedOption {
	return func(s *Embedded) { s.limit = n }
}

// NewEmbedded returns a store on db, whose dialect is DialectSQLite
// (modernc.org/sqlite) or DialectPostgres (pgx stdlib). Call Migrate once
// before use. The store does not own db.
func NewEmbedded(db *sql.DB, dialect string, opts ...EmbeddedOption) (*Embedded, error) {
	if db == nil {
		return nil, errors.New("vector: NewEmbedded: nil *sql.DB")
	}
	if dialect != DialectSQLite && dialect != DialectPostgres {
		return nil, fmt.Errorf("vector: NewEmbedded: unknown dialect %q (want %q or %q)", dialect, DialectSQLite, DialectPostgres)
	}
	s := &Embedded{db: db, dialect: dialect, limit: DefaultCacheBytes, entries: map[string]*cacheEntry{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Migrate creates the store's tables and index if they do not exist. It is
// safe to run on every start.
func (s *Embedded) Migrate(ctx context.Context) error {
	blob := "BLOB"
	if s.dialect == DialectPostgres {
		blob = "BYTEA"
	}
	stmts := []string{
		// The workspace is part of the key so a record of one workspace can
		// never overwrite another's, whatever IDs callers pass.
		`CREATE TABLE IF NOT EXISTS vector_records (
			space        TEXT    NOT NULL,
			workspace_id TEXT    NOT NULL,
			id           TEXT    NOT NULL,
			document_id  TEXT    NOT NULL,
			dim          INTEGER NOT NULL,
			vec          ` + blob + ` NOT NULL,
			PRIMARY KEY (space, workspace_id, id)
		)`,
		`CREATE INDEX IF NOT EXISTS vector_records_document ON vector_records (space, workspace_id, document_id)`,
		// Bumped by every write in the write's transaction; searches compare it
		// with their cache. Rows are kept after a workspace is deleted so a
		// version never repeats (a repeat would let a stale cache pass).
		`CREATE TABLE IF NOT EXISTS vector_versions (
			space        TEXT   NOT NULL,
			workspace_id TEXT   NOT NULL,
			version      BIGINT NOT NULL,
			PRIMARY KEY (space, workspace_id)
		)`,
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("vector: migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if s.dialect == DialectPostgres {
		// Concurrent CREATE ... IF NOT EXISTS races on PostgreSQL (replicas
		// starting together); a transaction-scoped advisory lock orders them.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('neksio.vector.migrate'))`); err != nil {
			return fmt.Errorf("vector: migrate: lock: %w", err)
		}
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("vector: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("vector: migrate: %w", err)
	}
	return nil
}

// Close drops the in-memory cache. Later calls fail.
func (s *Embedded) Close() error {
	s.closed.Store(true)
	s.mu.Lock()
	s.entries = map[string]*cacheEntry{}
	s.mu.Unlock()
	return nil
}

var errClosed = errors.New("vector: store closed")

// Upsert implements Store.
func (s *Embedded) Upsert(ctx context.Context, space Space, records []Record) error {
	if s.closed.Load() {
		return errClosed
	}
	records, err := prepareUpsert(space, records)
	if err != nil || len(records) == 0 {
		return err
	}
	byWS := map[string][]Record{}
	for _, r := range records {
		byWS[r.WorkspaceID] = append(byWS[r.WorkspaceID], r)
	}
	versions, err := s.write(ctx, space, sortedKeys(byWS), func(tx *sql.Tx) (bool, error) {
		return true, s.insertRecords(ctx, tx, space, records)
	})
	if err != nil {
		return fmt.Errorf("vector: upsert into %s: %w", space.Key(), err)
	}
	for ws, recs := range byWS {
		s.apply(space, ws, versions[ws], func(e *cacheEntry) { e.upsert(recs) })
	}
	return nil
}

// DeleteDocument implements Store.
func (s *Embedded) DeleteDocument(ctx context.Context, space Space, workspaceID, documentID string) error {
	if err := s.checkScope(space, workspaceID); err != nil {
		return err
	}
	if err := validateID("document ID", documentID); err != nil {
		return err
	}
	versions, err := s.write(ctx, space, []string{workspaceID}, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM vector_records WHERE space = ? AND workspace_id = ? AND document_id = ?`),
			space.Key(), workspaceID, documentID)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n > 0, err
	})
	if err != nil {
		return fmt.Errorf("vector: delete document %s: %w", documentID, err)
	}
	if v, ok := versions[workspaceID]; ok {
		s.apply(space, workspaceID, v, func(e *cacheEntry) { e.deleteDocument(documentID) })
	}
	return nil
}

// DeleteWorkspace implements Store.
func (s *Embedded) DeleteWorkspace(ctx context.Context, space Space, workspaceID string) error {
	if err := s.checkScope(space, workspaceID); err != nil {
		return err
	}
	versions, err := s.write(ctx, space, []string{workspaceID}, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM vector_records WHERE space = ? AND workspace_id = ?`), space.Key(), workspaceID)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n > 0, err
	})
	if err != nil {
		return fmt.Errorf("vector: delete workspace %s: %w", workspaceID, err)
	}
	if v, ok := versions[workspaceID]; ok {
		s.apply(space, workspaceID, v, func(e *cacheEntry) { e.reset() })
	}
	return nil
}

// ForgetWorkspace deletes every record of the workspace in every space and
// its version rows, for a workspace purged for good: its ID never comes
// back, so no version can repeat and no cache of it is searched again.
// Call DeleteWorkspace for each known space first, so this process's
// caches are dropped too.
func (s *Embedded) ForgetWorkspace(ctx context.Context, workspaceID string) error {
	if err := validateID("workspace ID", workspaceID); err != nil {
		return err
	}
	for _, q := range []string{`DELETE FROM vector_records WHERE workspace_id = ?`, `DELETE FROM vector_versions WHERE workspace_id = ?`} {
		if _, err := s.db.ExecContext(ctx, s.q(q), workspaceID); err != nil {
			return fmt.Errorf("vector: forgetting workspace: %w", err)
		}
	}
	return nil
}

// Search implements Store.
func (s *Embedded) Search(ctx context.Context, space Space, workspaceID string, query []float32, k int, filter Filter) ([]Hit, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	k, norm, err := prepareSearch(space, workspaceID, query, k, filter)
	if err != nil {
		return nil, err
	}
	if k == 0 || norm == 0 {
		return nil, nil
	}
	v, err := s.version(ctx, space, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("vector: search %s: %w", space.Key(), err)
	}
	if v == 0 {
		return nil, nil // never written
	}
	q := make([]float32, len(query))
	normalizeInto(q, query, norm)

	e := s.entry(space, workspaceID)
	e.mu.RLock()
	if e.loaded && e.version >= v {
		hits := e.search(q, k, filter)
		e.mu.RUnlock()
		return hits, nil
	}
	e.mu.RUnlock()

	e.mu.Lock()
	if !e.loaded || e.version < v {
		if err := s.load(ctx, e, space, workspaceID); err != nil {
			e.mu.Unlock()
			return nil, fmt.Errorf("vector: search %s: load workspace %s: %w", space.Key(), workspaceID, err)
		}
	}
	hits := e.search(q, k, filter)
	e.mu.Unlock()
	s.evict(e)
	return hits, nil
}

func (s *Embedded) checkScope(space Space, workspaceID string) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := space.Validate(); err != nil {
		return err
	}
	return validateID("workspace ID", workspaceID)
}

// q rewrites ? placeholders as $n for PostgreSQL.
func (s *Embedded) q(query string) string {
	if s.dialect != DialectPostgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// write runs fn in a transaction that first bumps the version of each
// workspace (sorted, so concurrent writers lock version rows in one order and
// cannot deadlock on PostgreSQL; the row lock also serializes writers of a
// workspace). If fn reports no change the transaction rolls back and no
// versions are returned.
func (s *Embedded) write(ctx context.Context, space Space, workspaces []string, fn func(*sql.Tx) (bool, error)) (map[string]int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	versions := make(map[string]int64, len(workspaces))
	bump := s.q(`INSERT INTO vector_versions (space, workspace_id, version) VALUES (?, ?, 1)
		ON CONFLICT (space, workspace_id) DO UPDATE SET version = vector_versions.version + 1
		RETURNING version`)
	for _, ws := range workspaces {
		var v int64
		if err := tx.QueryRowContext(ctx, bump, space.Key(), ws).Scan(&v); err != nil {
			return nil, fmt.Errorf("bump version: %w", err)
		}
		versions[ws] = v
	}
	changed, err := fn(tx)
	if err != nil {
		return nil, err
	}
	if !changed {
		return nil, nil
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return versions, nil
}

// insertBatch rows per statement keeps the parameter count (6 per row) far
// below SQLite's and PostgreSQL's limits.
const insertBatch = 200

func (s *Embedded) insertRecords(ctx context.Context, tx *sql.Tx, space Space, records []Record) error {
	key := space.Key()
	for start := 0; start < len(records); start += insertBatch {
		batch := records[start:min(start+insertBatch, len(records))]
		var b strings.Builder
		b.WriteString(`INSERT INTO vector_records (space, workspace_id, id, document_id, dim, vec) VALUES `)
		args := make([]any, 0, len(batch)*6)
		for i, r := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, key, r.WorkspaceID, r.ID, r.DocumentID, len(r.Vector), encodeVector(r.Vector))
		}
		b.WriteString(` ON CONFLICT (space, workspace_id, id) DO UPDATE SET
			document_id = excluded.document_id, dim = excluded.dim, vec = excluded.vec`)
		if _, err := tx.ExecContext(ctx, s.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

func (s *Embedded) version(ctx context.Context, space Space, workspaceID string) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT version FROM vector_versions WHERE space = ? AND workspace_id = ?`),
		space.Key(), workspaceID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// load fills e from the database; the caller holds e.mu for writing. The
// version is read before the rows, so the rows are at least as new as the
// version recorded: a write racing the load makes the next search reload
// rather than miss it.
func (s *Embedded) load(ctx context.Context, e *cacheEntry, space Space, workspaceID string) error {
	v, err := s.version(ctx, space, workspaceID)
	if err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, document_id, dim, vec FROM vector_records WHERE space = ? AND workspace_id = ?`),
		space.Key(), workspaceID)
	if err != nil {
		return err
	}
	defer rows.Close()
	e.reset()
	e.loaded = false
	var (
		id, doc string
		dim     int
		raw     []byte
		buf     = make([]float32, space.Dimension)
	)
	for rows.Next() {
		if err := rows.Scan(&id, &doc, &dim, &raw); err != nil {
			return err
		}
		if dim != space.Dimension || len(raw) != 4*dim {
			return fmt.Errorf("record %s: stored vector has %d bytes, want %d", id, len(raw), 4*space.Dimension)
		}
		decodeVector(buf, raw)
		e.put(id, doc, buf)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	e.loaded = true
	e.version = v
	e.storeSize()
	return nil
}

func (s *Embedded) entry(space Space, workspaceID string) *cacheEntry {
	key := space.Key() + "\x00" + workspaceID
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		e = &cacheEntry{key: key, dim: space.Dimension}
		s.entries[key] = e
	}
	e.used.Store(s.clock.Add(1))
	return e
}

// apply brings a cached workspace up to version v after this process's own
// write. It applies the change in place only when the cache holds exactly the
// version before v; otherwise another writer came in between, and the entry
// is marked stale so the next search reloads it.
func (s *Embedded) apply(space Space, workspaceID string, v int64, change func(*cacheEntry)) {
	s.mu.Lock()
	e, ok := s.entries[space.Key()+"\x00"+workspaceID]
	s.mu.Unlock()
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.loaded {
		return
	}
	if e.version != v-1 {
		e.loaded = false
		e.reset()
		e.storeSize()
		return
	}
	change(e)
	e.version = v
	e.storeSize()
}

// evict drops least recently used workspaces while the cache is over its
// bound. keep was just searched; it goes last.
func (s *Embedded) evict(keep *cacheEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	for _, e := range s.entries {
		total += e.size.Load()
	}
	for total > s.limit && len(s.entries) > 0 {
		var victim *cacheEntry
		for _, e := range s.entries {
			if e == keep && len(s.entries) > 1 {
				continue
			}
			if victim == nil || e.used.Load() < victim.used.Load() {
				victim = e
			}
		}
		delete(s.entries, victim.key)
		total -= victim.size.Load()
	}
}

// cacheEntry is one workspace's vectors in one space.
type cacheEntry struct {
	key  string
	dim  int
	used atomic.Int64 // clock value of the last search
	size atomic.Int64 // approximate bytes held

	mu      sync.RWMutex
	loaded  bool
	version int64
	ids     []string
	docs    []string
	vecs    []float32 // unit vectors, dim per record, in ids order
	pos     map[string]int
}

func (e *cacheEntry) reset() {
	e.ids, e.docs, e.vecs, e.pos = nil, nil, nil, map[string]int{}
}

func (e *cacheEntry) storeSize() {
	var n int64
	for i := range e.ids {
		n += int64(len(e.ids[i]) + len(e.docs[i]) + 64) // strings, headers, map slot
	}
	e.size.Store(n + int64(cap(e.vecs))*4)
}

// put inserts or replaces one vector, normalizing it.
func (e *cacheEntry) put(id, doc string, v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	norm := math.Sqrt(sum)
	if i, ok := e.pos[id]; ok {
		e.docs[i] = doc
		normalizeInto(e.vecs[i*e.dim:(i+1)*e.dim], v, norm)
		return
	}
	e.pos[id] = len(e.ids)
	e.ids = append(e.ids, id)
	e.docs = append(e.docs, doc)
	e.vecs = slices.Grow(e.vecs, e.dim)[:len(e.vecs)+e.dim]
	normalizeInto(e.vecs[len(e.vecs)-e.dim:], v, norm)
}

func (e *cacheEntry) upsert(records []Record) {
	for _, r := range records {
		e.put(r.ID, r.DocumentID, r.Vector)
	}
}

// deleteDocument compacts the entry, keeping records of other documents.
func (e *cacheEntry) deleteDocument(documentID string) {
	w := 0
	for i := range e.ids {
		if e.docs[i] == documentID {
			delete(e.pos, e.ids[i])
			continue
		}
		if w != i {
			e.ids[w], e.docs[w] = e.ids[i], e.docs[i]
			copy(e.vecs[w*e.dim:(w+1)*e.dim], e.vecs[i*e.dim:(i+1)*e.dim])
			e.pos[e.ids[w]] = w
		}
		w++
	}
	clear(e.ids[w:])
	clear(e.docs[w:])
	e.ids, e.docs, e.vecs = e.ids[:w], e.docs[:w], e.vecs[:w*e.dim]
}

// search scans every vector of the workspace; q is a unit vector, so the dot
// product is the cosine similarity.
func (e *cacheEntry) search(q []float32, k int, filter Filter) []Hit {
	var allow map[string]struct{}
	if len(filter.DocumentIDs) > 0 {
		allow = make(map[string]struct{}, len(filter.DocumentIDs))
		for _, d := range filter.DocumentIDs {
			allow[d] = struct{}{}
		}
	}
	top := newTopK(k, e.ids)
	th := top.threshold()
	for i := range e.ids {
		score := dot(q, e.vecs[i*e.dim:(i+1)*e.dim])
		if score < th {
			continue
		}
		if allow != nil {
			if _, ok := allow[e.docs[i]]; !ok {
				continue
			}
		}
		top.push(cand{idx: i, score: score})
		th = top.threshold()
	}
	best := top.sorted()
	if len(best) == 0 {
		return nil
	}
	hits := make([]Hit, len(best))
	for i, c := range best {
		hits[i] = Hit{ID: e.ids[c.idx], DocumentID: e.docs[c.idx], Score: c.score}
	}
	return hits
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(dst []float32, b []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var _ Store = (*Embedded)(nil)
