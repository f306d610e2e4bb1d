package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"gocloud.dev/blob"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// Defaults.
const (
	// DefaultGrace is how long a deleted workspace can be restored before
	// it is purged (NEKSIO_WORKSPACE_DELETE_GRACE).
	DefaultGrace = 7 * 24 * time.Hour
	// ExportTTL is how long an export's archive is kept.
	ExportTTL = 7 * 24 * time.Hour
	// DownloadURLTTL bounds one signed download link (never past the
	// archive's own expiry).
	DownloadURLTTL = time.Hour
	// RetentionBatch is how many conversations one retention transaction
	// purges, so ingest never waits long on it.
	RetentionBatch = 50
)

// Disconnector disconnects a channel, revoking its token at the platform
// (core/channel).
type Disconnector interface {
	Disconnect(ctx context.Context, id pulid.ID) (*ent.Channel, error)
}

// SessionRevoker ends a person's sessions in a transaction (core/auth).
type SessionRevoker interface {
	RevokeUserSessionsTx(ctx context.Context, tx *store.Tx, userID pulid.ID) error
}

// Service runs export, erasure, workspace deletion and retention.
type Service struct {
	Store *store.Store
	// Bucket is the media store's bucket: files of messages and posts, and
	// export archives (under exports/).
	Bucket *blob.Bucket
	// LocalDir is the bucket's directory when it is one (the default
	// media store under the data dir): a purge removes the workspace's
	// emptied directories too, whose names carry its ID.
	LocalDir string
	// Vectors is the vector store; nil when none is configured.
	Vectors vector.Store
	// Spaces lists the embedding spaces in use besides those recorded on
	// knowledge documents (the configured provider's).
	Spaces func() []vector.Space
	// Channels disconnects channels when a workspace is deleted.
	Channels Disconnector
	// Sessions ends members' sessions when a workspace is deleted.
	Sessions SessionRevoker
	// SignKey signs export download links; PublicURL prefixes them.
	SignKey   []byte
	PublicURL string
	// Grace is the delay before a deleted workspace is purged.
	Grace time.Duration
	Now   func() time.Time
	Log   *slog.Logger
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

func (s *Service) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return DefaultGrace
}

func (s *Service) engine() *engine { return newEngine(s.Store.Dialect) }

// Erased says what an erasure removed.
type Erased struct {
	Rows  int
	Files int
	Jobs  int
}

// EraseContact forgets a contact at the request of an owner or admin: the
// contact, their conversations, messages (notes and drafts included),
// agent runs and sentiment, attachments and their files, vectors derived
// from them, and River jobs naming any of these. The audit entry names the
// contact's ID only. Another workspace's contact is NOT_FOUND.
func (s *Service) EraseContact(ctx context.Context, id pulid.ID) (*Erased, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	var out *Erased
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		c, err := tx.Ent.Contact.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFound("contact")
		}
		if err != nil {
			return err
		}
		out, err = s.EraseTx(ctx, tx, string(c.WorkspaceID), "contacts", []string{string(c.ID)})
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Ent, "contact.erase", "Contact", string(id), map[string]string{"rows": strconv.Itoa(out.Rows)})
	})
	return out, err
}

// EraseContactAsSystem erases a contact for a platform's deletion request
// (Meta's data deletion callback), auditing actor as the one who asked.
func (s *Service) EraseContactAsSystem(ctx context.Context, ws string, id pulid.ID, actor string) (*Erased, error) {
	sys := tenant.NewContext(ctx, tenant.System(ws, "privacy"))
	var out *Erased
	err := s.Store.InTx(sys, func(tx *store.Tx) error {
		var err error
		out, err = s.EraseTx(sys, tx, ws, "contacts", []string{string(id)})
		if err != nil {
			return err
		}
		return audit.RecordFor(sys, tx.Ent, ws, actor, "contact.erase", "Contact", string(id), map[string]string{"rows": strconv.Itoa(out.Rows)})
	})
	return out, err
}

// EraseTx erases the given rows of table in workspace ws and everything
// hanging off them, inside tx. Files and vectors go once tx commits.
func (s *Service) EraseTx(ctx context.Context, tx *store.Tx, ws, table string, ids []string) (*Erased, error) {
	seeds := rowset{}
	for _, id := range ids {
		seeds.add(table, id)
	}
	return s.eraseSet(ctx, tx, ws, seeds)
}

func (s *Service) eraseSet(ctx context.Context, tx *store.Tx, ws string, seeds rowset) (*Erased, error) {
	e := s.engine()
	set, err := e.lockedClosure(ctx, tx.SQL, ws, seeds)
	if err != nil {
		return nil, err
	}
	if err := e.attachedMedia(ctx, tx.SQL, ws, set); err != nil {
		return nil, err
	}
	keys, err := e.deleteSet(ctx, tx.SQL, ws, set)
	if err != nil {
		return nil, err
	}
	jobs, err := e.scrubJobs(ctx, tx.SQL, ws, set.all(), false)
	if err != nil {
		return nil, err
	}
	spaces, err := s.spaces(ctx, tx.SQL, ws)
	if err != nil {
		return nil, err
	}
	// Vectors derived from a person's text are filed under the contact or
	// conversation they came from.
	docs := append(set.ids("contacts"), set.ids("conversations")...)
	tx.AfterCommit(func() {
		bg := context.WithoutCancel(ctx)
		s.deleteFiles(bg, keys)
		s.deleteVectorDocs(bg, spaces, ws, docs)
	})
	return &Erased{Rows: set.count(), Files: len(keys), Jobs: jobs}, nil
}

func (s *Service) deleteFiles(ctx context.Context, keys []string) {
	if s.Bucket == nil {
		return
	}
	for _, k := range keys {
		if err := s.Bucket.Delete(ctx, k); err != nil && !isNotFound(err) {
			s.log().Error("privacy: deleting a file", "key", k, "err", err)
		}
	}
}

func (s *Service) deleteVectorDocs(ctx context.Context, spaces []vector.Space, ws string, docs []string) {
	if s.Vectors == nil {
		return
	}
	for _, sp := range spaces {
		for _, d := range docs {
			if err := s.Vectors.DeleteDocument(ctx, sp, ws, d); err != nil {
				s.log().Error("privacy: deleting vectors", "space", sp.Key(), "err", err)
			}
		}
	}
}

// spaces lists the embedding spaces the workspace may have vectors in.
func (s *Service) spaces(ctx context.Context, q querier, ws string) ([]vector.Space, error) {
	seen := map[string]bool{}
	var out []vector.Space
	addSpace := func(sp vector.Space) {
		if sp.Validate() == nil && !seen[sp.Key()] {
			seen[sp.Key()] = true
			out = append(out, sp)
		}
	}
	if s.Spaces != nil {
		for _, sp := range s.Spaces() {
			addSpace(sp)
		}
	}
	e := s.engine()
	rows, err := q.QueryContext(ctx, "SELECT DISTINCT embedding_model, embedding_dimension FROM knowledge_documents WHERE workspace_id = "+
		e.d.ph(1)+" AND embedding_model IS NOT NULL AND embedding_dimension IS NOT NULL", ws)
	if err != nil {
		return nil, fmt.Errorf("privacy: reading embedding spaces: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var model string
		var dim int
		if err := rows.Scan(&model, &dim); err != nil {
			return nil, err
		}
		addSpace(vector.Space{Model: model, Dimension: dim})
	}
	return out, rows.Err()
}
