package vector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Store keeps embedding vectors of knowledge chunks and finds the nearest ones
// to a query vector by cosine similarity. Every read and delete is scoped to
// one workspace: a search never returns another workspace's vectors.
//
// Implementations are safe for concurrent use.
type Store interface {
	// Upsert inserts the records, replacing any record of the same workspace
	// with the same ID. A record is visible to Search in this process as soon
	// as Upsert returns (read-your-writes).
	Upsert(ctx context.Context, space Space, records []Record) error
	// Search returns up to k hits of the workspace, best first. Asking for more
	// than the workspace holds returns what it holds; an empty workspace, or a
	// zero query vector (which has no direction), returns no hits and no error.
	Search(ctx context.Context, space Space, workspaceID string, query []float32, k int, filter Filter) ([]Hit, error)
	// DeleteDocument removes every record of the document in the workspace.
	DeleteDocument(ctx context.Context, space Space, workspaceID, documentID string) error
	// DeleteWorkspace removes every record of the workspace in the space.
	DeleteWorkspace(ctx context.Context, space Space, workspaceID string) error
	// Close releases connections and caches. It does not close a *sql.DB handed
	// to the store.
	Close() error
}

// Space is one embedding space: vectors of one model at one dimension. Vectors
// of different models are not comparable, so each space is stored apart (a
// table partition in the embedded store, a collection in Milvus).
type Space struct {
	// Model names the embedding model, e.g. "text-embedding-3-small" or
	// "offline-ngram-v1".
	Model string
	// Dimension is the vector length the model produces.
	Dimension int
}

// MaxDimension is the largest dimension accepted; it is Milvus's limit for a
// float vector field, applied to both stores so they accept the same input.
const MaxDimension = 32768

// MaxIDLength bounds IDs, workspace IDs, document IDs and model names, in
// bytes, so the same records fit both stores (Milvus VarChar needs a bound).
const MaxIDLength = 256

// MaxK is the largest k a search honours; larger values are clamped. It is
// Milvus's top-k limit, applied to both stores for the same behaviour.
const MaxK = 16384

// Key is the space's stable name, e.g. "text-embedding-3-small/1536".
func (s Space) Key() string { return s.Model + "/" + strconv.Itoa(s.Dimension) }

// Validate reports whether the space can be stored.
func (s Space) Validate() error {
	if err := validateID("space model", s.Model); err != nil {
		return err
	}
	if s.Dimension <= 0 || s.Dimension > MaxDimension {
		return fmt.Errorf("%w: space %q dimension %d out of range 1..%d", ErrInvalid, s.Model, s.Dimension, MaxDimension)
	}
	return nil
}

// Record is one chunk's vector. The chunk's text and metadata stay in the
// application database (core/knowledge): the store keeps only what search
// needs, so there is one source of truth for content.
type Record struct {
	// ID identifies the chunk; unique within the workspace and space.
	ID          string
	WorkspaceID string
	DocumentID  string
	// Vector must have the space's dimension and a non-zero norm. It need not
	// be normalized.
	Vector []float32
}

// Filter narrows a search inside the workspace. The zero value matches every
// record of the workspace.
type Filter struct {
	// DocumentIDs, when not empty, restricts hits to these documents.
	DocumentIDs []string
}

// Hit is one search result.
type Hit struct {
	ID         string
	DocumentID string
	// Score is the cosine similarity to the query, in [-1, 1]; higher is closer.
	Score float32
}

var (
	// ErrInvalid marks input a store rejects: empty or overlong IDs, bad
	// dimensions, zero or non-finite vectors.
	ErrInvalid = errors.New("vector: invalid input")
	// ErrDimensionMismatch marks a vector whose length is not the space's
	// dimension. It wraps ErrInvalid too.
	ErrDimensionMismatch = fmt.Errorf("%w: dimension mismatch", ErrInvalid)
)

// DimensionError reports a vector of the wrong length for its space.
type DimensionError struct {
	Space Space
	// What names the offending vector: "query" or "record <id>".
	What string
	Got  int
}

func (e *DimensionError) Error() string {
	return fmt.Sprintf("vector: %s has dimension %d, space %q expects %d", e.What, e.Got, e.Space.Model, e.Space.Dimension)
}

// Is makes errors.Is(err, ErrDimensionMismatch) and errors.Is(err, ErrInvalid)
// hold for a *DimensionError.
func (e *DimensionError) Is(target error) bool {
	return target == ErrDimensionMismatch || target == ErrInvalid
}

func validateID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, what, MaxIDLength)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	// Control characters are refused so IDs can be quoted safely into Milvus
	// filter expressions, which do not accept template parameters on every
	// server (Milvus Lite rejects them).
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s contains a control character", ErrInvalid, what)
		}
	}
	return nil
}

// checkVector validates v against the space and returns its Euclidean norm.
func checkVector(space Space, what string, v []float32) (float64, error) {
	if len(v) != space.Dimension {
		return 0, &DimensionError{Space: space, What: what, Got: len(v)}
	}
	var sum float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%w: %s has a non-finite component", ErrInvalid, what)
		}
		sum += f * f
	}
	return math.Sqrt(sum), nil
}

// prepareUpsert validates records and drops earlier duplicates of the same
// (workspace, ID), so "last one wins" holds in both stores (Milvus refuses
// duplicate primary keys in one upsert).
func prepareUpsert(space Space, records []Record) ([]Record, error) {
	if err := space.Validate(); err != nil {
		return nil, err
	}
	type key struct{ ws, id string }
	last := make(map[key]int, len(records))
	for i, r := range records {
		if err := validateID("record ID", r.ID); err != nil {
			return nil, err
		}
		if err := validateID("workspace ID of record "+r.ID, r.WorkspaceID); err != nil {
			return nil, err
		}
		if err := validateID("document ID of record "+r.ID, r.DocumentID); err != nil {
			return nil, err
		}
		norm, err := checkVector(space, "record "+r.ID, r.Vector)
		if err != nil {
			return nil, err
		}
		if norm == 0 {
			// Cosine similarity is undefined for a zero vector; callers should
			// skip chunks that embed to nothing.
			return nil, fmt.Errorf("%w: record %s has a zero vector", ErrInvalid, r.ID)
		}
		last[key{r.WorkspaceID, r.ID}] = i
	}
	if len(last) == len(records) {
		return records, nil
	}
	out := make([]Record, 0, len(last))
	for i, r := range records {
		if last[key{r.WorkspaceID, r.ID}] == i {
			out = append(out, r)
		}
	}
	return out, nil
}

// prepareSearch validates a search and returns the clamped k and the query
// norm (zero means: no hits).
func prepareSearch(space Space, workspaceID string, query []float32, k int, filter Filter) (int, float64, error) {
	if err := space.Validate(); err != nil {
		return 0, 0, err
	}
	if err := validateID("workspace ID", workspaceID); err != nil {
		return 0, 0, err
	}
	for _, d := range filter.DocumentIDs {
		if err := validateID("filter document ID", d); err != nil {
			return 0, 0, err
		}
	}
	if k < 0 {
		return 0, 0, fmt.Errorf("%w: k is negative", ErrInvalid)
	}
	norm, err := checkVector(space, "query", query)
	if err != nil {
		return 0, 0, err
	}
	return min(k, MaxK), norm, nil
}
