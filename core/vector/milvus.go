package vector

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"

	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
)

// MilvusConfig configures NewMilvus (from core/config's NEKSIO_MILVUS_*
// settings, mapped in cmd/neksio). Only Address is required.
type MilvusConfig struct {
	// Address is host:port of the Milvus gRPC endpoint, e.g. "milvus:19530".
	Address string
	// Token authenticates: "user:password" or an API key. Empty means none.
	Token string
	// DBName selects a Milvus database; empty means "default".
	DBName string
	// CollectionPrefix starts every collection name; default "neksio_". It
	// lets several deployments share one Milvus.
	CollectionPrefix string
	// Consistency is the level searches read at: "strong" (default: a search
	// sees every write acknowledged before it, from any process), "session"
	// (sees this client's own writes), "bounded" or "eventually".
	Consistency string
	// IndexType of the vector field: "AUTOINDEX" (default, lets the server
	// choose; HNSW on a cluster), "FLAT", "IVF_FLAT" or "HNSW". Milvus Lite
	// accepts only FLAT, IVF_FLAT and AUTOINDEX. The metric is always COSINE.
	IndexType string
	// UsePartitionKey declares workspace_id a partition key, so a search
	// scans only its workspace's partition. Off by default: Milvus Lite fails
	// filters on a partition-key field ("invalid expr"). It applies to
	// collections created afterwards.
	UsePartitionKey bool
}

// Milvus field names. The primary key joins workspace and chunk ID so a
// record of one workspace can never replace another's, as in the embedded
// store's key.
const (
	fieldPK        = "id"
	fieldChunkID   = "chunk_id"
	fieldWorkspace = "workspace_id"
	fieldDocument  = "document_id"
	fieldVector    = "vector"
)

// Milvus is a Store on a Milvus server (2.5 or later, or Milvus Lite). Each
// Space gets its own collection, created and loaded on first write.
type Milvus struct {
	client      *milvusclient.Client
	prefix      string
	consistency entity.ConsistencyLevel
	index       index.Index
	partition   bool

	mu    sync.Mutex // serializes collection creation in this process
	ready sync.Map   // collection name -> struct{}, once known to exist and be loaded
}

// NewMilvus connects to Milvus. The connection is checked before it returns.
func NewMilvus(ctx context.Context, cfg MilvusConfig) (*Milvus, error) {
	if cfg.Address == "" {
		return nil, errors.New("vector: NewMilvus: empty address")
	}
	m := &Milvus{prefix: cfg.CollectionPrefix, partition: cfg.UsePartitionKey}
	if m.prefix == "" {
		m.prefix = "neksio_"
	}
	if !validCollectionPrefix(m.prefix) {
		return nil, fmt.Errorf("vector: NewMilvus: collection prefix %q must match [A-Za-z_][A-Za-z0-9_]*", m.prefix)
	}
	switch strings.ToLower(cfg.Consistency) {
	case "", "strong":
		m.consistency = entity.ClStrong
	case "session":
		m.consistency = entity.ClSession
	case "bounded":
		m.consistency = entity.ClBounded
	case "eventually":
		m.consistency = entity.ClEventually
	default:
		return nil, fmt.Errorf("vector: NewMilvus: unknown consistency %q", cfg.Consistency)
	}
	switch strings.ToUpper(cfg.IndexType) {
	case "", "AUTOINDEX":
		m.index = index.NewAutoIndex(entity.COSINE)
	case "FLAT":
		m.index = index.NewFlatIndex(entity.COSINE)
	case "IVF_FLAT":
		m.index = index.NewIvfFlatIndex(entity.COSINE, 128)
	case "HNSW":
		m.index = index.NewHNSWIndex(entity.COSINE, 16, 200)
	default:
		return nil, fmt.Errorf("vector: NewMilvus: unsupported index type %q", cfg.IndexType)
	}
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{
		Address: cfg.Address,
		APIKey:  cfg.Token,
		DBName:  cfg.DBName,
	})
	if err != nil {
		return nil, fmt.Errorf("vector: connect to milvus at %s: %w", cfg.Address, err)
	}
	m.client = c
	return m, nil
}

// Close implements Store.
func (m *Milvus) Close() error {
	if err := m.client.Close(context.Background()); err != nil {
		return fmt.Errorf("vector: close milvus client: %w", err)
	}
	return nil
}

// CollectionName is the collection holding the space.
func (m *Milvus) CollectionName(space Space) string { return MilvusCollectionName(m.prefix, space) }

// MilvusCollectionName is the collection name for a space under prefix: the
// prefix, the model name reduced to [a-z0-9_], the dimension, and a hash of
// the exact model name so models that reduce alike do not share a collection.
func MilvusCollectionName(prefix string, space Space) string {
	var b strings.Builder
	for _, r := range strings.ToLower(space.Model) {
		if b.Len() >= 96 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	h := fnv.New32a()
	h.Write([]byte(space.Model))
	return fmt.Sprintf("%s%s_%d_%08x", prefix, b.String(), space.Dimension, h.Sum32())
}

// Upsert implements Store.
func (m *Milvus) Upsert(ctx context.Context, space Space, records []Record) error {
	records, err := prepareUpsert(space, records)
	if err != nil || len(records) == 0 {
		return err
	}
	name, err := m.ensure(ctx, space, true)
	if err != nil {
		return err
	}
	// Batches keep each request far below the gRPC message limit.
	const batch = 1000
	for start := 0; start < len(records); start += batch {
		part := records[start:min(start+batch, len(records))]
		pks := make([]string, len(part))
		ids := make([]string, len(part))
		wss := make([]string, len(part))
		docs := make([]string, len(part))
		vecs := make([][]float32, len(part))
		for i, r := range part {
			pks[i] = milvusPK(r.WorkspaceID, r.ID)
			ids[i], wss[i], docs[i], vecs[i] = r.ID, r.WorkspaceID, r.DocumentID, r.Vector
		}
		opt := milvusclient.NewColumnBasedInsertOption(name).
			WithVarcharColumn(fieldPK, pks).
			WithVarcharColumn(fieldChunkID, ids).
			WithVarcharColumn(fieldWorkspace, wss).
			WithVarcharColumn(fieldDocument, docs).
			WithFloatVectorColumn(fieldVector, space.Dimension, vecs)
		if _, err := m.client.Upsert(ctx, opt); err != nil {
			return fmt.Errorf("vector: milvus upsert into %s: %w", name, err)
		}
	}
	return nil
}

// Search implements Store.
func (m *Milvus) Search(ctx context.Context, space Space, workspaceID string, query []float32, k int, filter Filter) ([]Hit, error) {
	k, norm, err := prepareSearch(space, workspaceID, query, k, filter)
	if err != nil {
		return nil, err
	}
	if k == 0 || norm == 0 {
		return nil, nil
	}
	name, err := m.ensure(ctx, space, false)
	if err != nil || name == "" {
		return nil, err
	}
	expr := fieldWorkspace + " == " + quoteExpr(workspaceID)
	if len(filter.DocumentIDs) > 0 {
		quoted := make([]string, len(filter.DocumentIDs))
		for i, d := range filter.DocumentIDs {
			quoted[i] = quoteExpr(d)
		}
		expr += " && " + fieldDocument + " in [" + strings.Join(quoted, ", ") + "]"
	}
	opt := milvusclient.NewSearchOption(name, k, []entity.Vector{entity.FloatVector(query)}).
		WithANNSField(fieldVector).
		WithFilter(expr).
		WithOutputFields(fieldChunkID, fieldDocument).
		WithConsistencyLevel(m.consistency)
	rss, err := m.client.Search(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("vector: milvus search %s: %w", name, err)
	}
	if len(rss) == 0 {
		return nil, nil
	}
	rs := rss[0]
	if rs.Err != nil {
		return nil, fmt.Errorf("vector: milvus search %s: %w", name, rs.Err)
	}
	if rs.ResultCount == 0 {
		return nil, nil
	}
	idCol, docCol := rs.GetColumn(fieldChunkID), rs.GetColumn(fieldDocument)
	if idCol == nil || docCol == nil {
		return nil, fmt.Errorf("vector: milvus search %s: result lacks output fields", name)
	}
	hits := make([]Hit, rs.ResultCount)
	for i := range hits {
		id, err := idCol.GetAsString(i)
		if err != nil {
			return nil, fmt.Errorf("vector: milvus search %s: %w", name, err)
		}
		doc, err := docCol.GetAsString(i)
		if err != nil {
			return nil, fmt.Errorf("vector: milvus search %s: %w", name, err)
		}
		hits[i] = Hit{ID: id, DocumentID: doc, Score: rs.Scores[i]}
	}
	return hits, nil
}

// DeleteDocument implements Store.
func (m *Milvus) DeleteDocument(ctx context.Context, space Space, workspaceID, documentID string) error {
	if err := validateID("document ID", documentID); err != nil {
		return err
	}
	return m.delete(ctx, space, workspaceID,
		fieldDocument+" == "+quoteExpr(documentID)+" && "+fieldWorkspace+" == "+quoteExpr(workspaceID))
}

// DeleteWorkspace implements Store.
func (m *Milvus) DeleteWorkspace(ctx context.Context, space Space, workspaceID string) error {
	return m.delete(ctx, space, workspaceID, fieldWorkspace+" == "+quoteExpr(workspaceID))
}

func (m *Milvus) delete(ctx context.Context, space Space, workspaceID, expr string) error {
	if err := space.Validate(); err != nil {
		return err
	}
	if err := validateID("workspace ID", workspaceID); err != nil {
		return err
	}
	name, err := m.ensure(ctx, space, false)
	if err != nil || name == "" {
		return err
	}
	if _, err := m.client.Delete(ctx, milvusclient.NewDeleteOption(name).WithExpr(expr)); err != nil {
		return fmt.Errorf("vector: milvus delete from %s: %w", name, err)
	}
	return nil
}

// ensure returns the space's collection name once it exists and is loaded.
// Without create, a missing collection yields "" and no error: nothing was
// ever written to the space.
func (m *Milvus) ensure(ctx context.Context, space Space, create bool) (string, error) {
	name := m.CollectionName(space)
	if _, ok := m.ready.Load(name); ok {
		return name, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ready.Load(name); ok {
		return name, nil
	}
	has, err := m.client.HasCollection(ctx, milvusclient.NewHasCollectionOption(name))
	if err != nil {
		return "", fmt.Errorf("vector: milvus has collection %s: %w", name, err)
	}
	if !has {
		if !create {
			return "", nil
		}
		if err := m.create(ctx, name, space); err != nil {
			// Another process may have created it first.
			if has2, err2 := m.client.HasCollection(ctx, milvusclient.NewHasCollectionOption(name)); err2 != nil || !has2 {
				return "", err
			}
		}
	}
	state, err := m.client.GetLoadState(ctx, milvusclient.NewGetLoadStateOption(name))
	if err != nil {
		return "", fmt.Errorf("vector: milvus load state of %s: %w", name, err)
	}
	if state.State != entity.LoadStateLoaded {
		task, err := m.client.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(name))
		if err != nil {
			return "", fmt.Errorf("vector: milvus load %s: %w", name, err)
		}
		if err := task.Await(ctx); err != nil {
			return "", fmt.Errorf("vector: milvus load %s: %w", name, err)
		}
	}
	m.ready.Store(name, struct{}{})
	return name, nil
}

func (m *Milvus) create(ctx context.Context, name string, space Space) error {
	ws := entity.NewField().WithName(fieldWorkspace).WithDataType(entity.FieldTypeVarChar).WithMaxLength(MaxIDLength)
	if m.partition {
		ws = ws.WithIsPartitionKey(true)
	}
	schema := entity.NewSchema().WithName(name).
		WithDescription("neksio vectors of model " + space.Model).
		WithField(entity.NewField().WithName(fieldPK).WithDataType(entity.FieldTypeVarChar).
			WithMaxLength(2*MaxIDLength + 1).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName(fieldChunkID).WithDataType(entity.FieldTypeVarChar).WithMaxLength(MaxIDLength)).
		WithField(ws).
		WithField(entity.NewField().WithName(fieldDocument).WithDataType(entity.FieldTypeVarChar).WithMaxLength(MaxIDLength)).
		WithField(entity.NewField().WithName(fieldVector).WithDataType(entity.FieldTypeFloatVector).WithDim(int64(space.Dimension)))
	opt := milvusclient.NewCreateCollectionOption(name, schema).
		WithIndexOptions(milvusclient.NewCreateIndexOption(name, fieldVector, m.index)).
		WithConsistencyLevel(m.consistency)
	if err := m.client.CreateCollection(ctx, opt); err != nil {
		return fmt.Errorf("vector: milvus create collection %s: %w", name, err)
	}
	return nil
}

// milvusPK joins workspace and chunk ID with a control character, which
// validateID keeps out of both, so distinct pairs never share a key.
func milvusPK(workspaceID, id string) string { return workspaceID + "\x1f" + id }

// quoteExpr quotes s as a Milvus expression string literal. Filter templates
// would avoid quoting, but Milvus Lite rejects them and delete has none; IDs
// carry no control characters (validateID), so escaping the backslash and
// the double quote is complete.
func quoteExpr(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

func validCollectionPrefix(p string) bool {
	for i, r := range p {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r == '_'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return len(p) <= 64
}

var _ Store = (*Milvus)(nil)
