package privacy

import (
	"archive/zip"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/schema/field"
	"gocloud.dev/blob"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entexport "github.com/neksio/neksio/ent/export"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// exportPrefix is where archives live in the bucket: exports/<ws>/<id>.zip.
const exportPrefix = "exports/"

// RequestExport queues an export of the workspace, or of one contact
// (owners and admins; agents and analysts are FORBIDDEN).
func (s *Service) RequestExport(ctx context.Context, scope entexport.Scope, contactID *pulid.ID) (*ent.Export, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if entexport.ScopeValidator(scope) != nil {
		return nil, apperr.Invalid("scope", "scope must be WORKSPACE or CONTACT")
	}
	if scope == entexport.ScopeContact && (contactID == nil || *contactID == "") {
		return nil, apperr.Invalid("contactId", "a CONTACT export needs contactId")
	}
	if scope == entexport.ScopeWorkspace && contactID != nil {
		return nil, apperr.Invalid("contactId", "a WORKSPACE export takes no contactId")
	}
	var out *ent.Export
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		create := tx.Ent.Export.Create().SetScope(scope).SetRequestedBy(v.Actor())
		if contactID != nil {
			if _, err := tx.Ent.Contact.Get(ctx, *contactID); ent.IsNotFound(err) {
				return apperr.NotFound("contact")
			} else if err != nil {
				return err
			}
			create.SetContactID(*contactID)
		}
		var err error
		if out, err = create.Save(ctx); err != nil {
			return fmt.Errorf("privacy: recording export: %w", err)
		}
		if err := tx.InsertJob(ctx, jobargs.ExportBuild{WorkspaceID: v.WorkspaceID, ExportID: string(out.ID)}, nil); err != nil {
			return err
		}
		meta := map[string]string{"scope": string(scope)}
		if contactID != nil {
			meta["contact_id"] = string(*contactID)
		}
		return audit.Record(ctx, tx.Ent, "export.request", "Export", string(out.ID), meta)
	})
	return out, err
}

// BuildExport runs an export job: the archive is written to the bucket
// and the export marked READY. A failure to write it is returned, for the
// job layer to retry.
func (s *Service) BuildExport(ctx context.Context, ws, id string) error {
	return s.buildExport(ctx, ws, id, false)
}

// BuildExportLastAttempt is BuildExport when no retry follows (the job's
// last attempt): a failure to write the archive marks the export FAILED,
// with the reason, instead.
func (s *Service) BuildExportLastAttempt(ctx context.Context, ws, id string) error {
	return s.buildExport(ctx, ws, id, true)
}

func (s *Service) buildExport(ctx context.Context, ws, id string, lastAttempt bool) error {
	sys := tenant.NewContext(ctx, tenant.System(ws, "export"))
	ex, err := s.Store.Ent.Export.Get(sys, pulid.ID(id))
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ex.Status != entexport.StatusPending && ex.Status != entexport.StatusRunning {
		return nil
	}
	if err := ex.Update().SetStatus(entexport.StatusRunning).Exec(sys); err != nil {
		return err
	}
	key := exportPrefix + ws + "/" + id + ".zip"
	size, err := s.writeToBucket(sys, key, func(w io.Writer) error {
		return s.WriteArchive(sys, ws, ex.Scope, ex.ContactID, w)
	})
	if err != nil {
		if !lastAttempt {
			return err
		}
		s.log().Error("privacy: export failed", "export", id, "err", err)
		return ex.Update().SetStatus(entexport.StatusFailed).SetError("the archive could not be written").
			SetFinishedAt(s.now()).Exec(sys)
	}
	now := s.now()
	return ex.Update().SetStatus(entexport.StatusReady).SetStorageKey(key).SetSize(size).
		SetFinishedAt(now).SetExpiresAt(now.Add(ExportTTL)).Exec(sys)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *Service) writeToBucket(ctx context.Context, key string, fill func(io.Writer) error) (int64, error) {
	if s.Bucket == nil {
		return 0, errors.New("privacy: no bucket for archives")
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.Bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/zip"})
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: w}
	if err := fill(cw); err != nil {
		cancel()
		_ = w.Close()
		return 0, err
	}
	return cw.n, w.Close()
}

// Manifest opens every archive (manifest.json).
type Manifest struct {
	Workspace string         `json:"workspace"`
	Scope     string         `json:"scope"`
	Contact   string         `json:"contact,omitempty"`
	CreatedAt time.Time      `json:"createdAt"`
	Tables    map[string]int `json:"tables"`
	Files     int            `json:"files"`
	Excluded  []string       `json:"excluded"`
}

// WriteArchive writes the zip archive of a scope to w: one JSON-lines
// file per table (<table>.jsonl, one object per row, column names as
// keys, secret columns left out), the media files under media/, and
// manifest.json.
func (s *Service) WriteArchive(ctx context.Context, ws string, scope entexport.Scope, contactID *pulid.ID, w io.Writer) error {
	e := s.engine()
	zw := zip.NewWriter(w)
	man := Manifest{Workspace: ws, Scope: string(scope), CreatedAt: s.now().UTC(), Tables: map[string]int{}}
	var set rowset
	if scope == entexport.ScopeContact {
		if contactID == nil {
			return errors.New("privacy: contact export without a contact")
		}
		man.Contact = string(*contactID)
		var err error
		set, err = e.closure(ctx, s.Store.DB, ws, rowset{"contacts": {string(*contactID): true}})
		if err != nil {
			return err
		}
		if err := e.attachedMedia(ctx, s.Store.DB, ws, set); err != nil {
			return err
		}
	}
	for _, t := range e.g.order {
		if t.NoExport || t.Scope == Platform {
			if t.Reason != "" {
				man.Excluded = append(man.Excluded, t.Name+": "+t.Reason)
			}
			continue
		}
		queries, args := e.exportQueries(t, ws, set)
		if len(queries) == 0 {
			continue
		}
		f, err := zw.Create(t.Name + ".jsonl")
		if err != nil {
			return err
		}
		n := 0
		for i, q := range queries {
			c, err := e.writeRows(ctx, s.Store.DB, t, q, args[i], f)
			if err != nil {
				return fmt.Errorf("privacy: exporting %s: %w", t.Name, err)
			}
			n += c
		}
		man.Tables[t.Name] = n
	}
	// Media files.
	var mq string
	var margs [][]any
	if set == nil {
		mq = "SELECT id, storage_key, filename FROM media WHERE workspace_id = " + e.d.ph(1)
		margs = [][]any{{ws}}
	} else {
		for _, part := range chunks(set.ids("media")) {
			margs = append(margs, append([]any{ws}, anys(part)...))
		}
	}
	for _, a := range margs {
		q := mq
		if set != nil {
			q = "SELECT id, storage_key, filename FROM media WHERE workspace_id = " + e.d.ph(1) + " AND " + e.d.in("id", 2, len(a)-1)
		}
		n, err := s.archiveMedia(ctx, zw, q, a)
		if err != nil {
			return err
		}
		man.Files += n
	}
	sort.Strings(man.Excluded)
	mf, err := zw.Create("manifest.json")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(mf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(man); err != nil {
		return err
	}
	return zw.Close()
}

func (s *Service) archiveMedia(ctx context.Context, zw *zip.Writer, q string, args []any) (int, error) {
	rows, err := s.Store.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("privacy: listing media: %w", err)
	}
	type file struct{ id, key, name string }
	var files []file
	for rows.Next() {
		var f file
		if err := rows.Scan(&f.id, &f.key, &f.name); err != nil {
			rows.Close()
			return 0, err
		}
		files = append(files, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		if s.Bucket == nil {
			break
		}
		r, err := s.Bucket.NewReader(ctx, f.key, nil)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("privacy: reading media: %w", err)
		}
		name := "media/" + f.id
		if base := safeName(f.name); base != "" {
			name += "-" + base
		}
		zf, err := zw.Create(name)
		if err == nil {
			_, err = io.Copy(zf, r)
		}
		r.Close()
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 32 {
			return '_'
		}
		return r
	}, s)
	if s == "." || s == ".." {
		return ""
	}
	return s
}

// exportQueries are the SELECTs of a table's rows in scope.
func (e *engine) exportQueries(t table, ws string, set rowset) ([]string, [][]any) {
	sel := "SELECT * FROM " + quote(t.Name) + " WHERE "
	if set != nil { // one contact
		switch t.Scope {
		case Tenant:
			var qs []string
			var as [][]any
			for _, part := range chunks(set.ids(t.Name)) {
				qs = append(qs, sel+"workspace_id = "+e.d.ph(1)+" AND "+e.d.in("id", 2, len(part)))
				as = append(as, append([]any{ws}, anys(part)...))
			}
			return qs, as
		case Join:
			var qs []string
			var as [][]any
			for _, fk := range t.ForeignKeys {
				if len(fk.Columns) != 1 || len(set[fk.RefTable.Name]) == 0 {
					continue
				}
				for _, part := range chunks(set.ids(fk.RefTable.Name)) {
					qs = append(qs, sel+e.d.in(quote(fk.Columns[0].Name), 1, len(part)))
					as = append(as, anys(part))
				}
				break // one key is enough to find a join row
			}
			return qs, as
		}
		return nil, nil
	}
	switch t.Scope {
	case Tenant:
		return []string{sel + "workspace_id = " + e.d.ph(1)}, [][]any{{ws}}
	case WorkspaceRoot:
		return []string{sel + "id = " + e.d.ph(1)}, [][]any{{ws}}
	case Members:
		col := "id"
		if t.has("user_id") {
			col = "user_id"
		}
		return []string{sel + quote(col) + " IN (SELECT user_id FROM memberships WHERE workspace_id = " + e.d.ph(1) + ")"}, [][]any{{ws}}
	case Join:
		for _, fk := range t.ForeignKeys {
			if len(fk.Columns) == 1 && e.g.byName[fk.RefTable.Name].Scope == Tenant {
				return []string{sel + quote(fk.Columns[0].Name) + " IN (SELECT id FROM " + quote(fk.RefTable.Name) +
					" WHERE workspace_id = " + e.d.ph(1) + ")"}, [][]any{{ws}}
			}
		}
	}
	return nil, nil
}

// writeRows writes the rows of q as JSON lines, without secret columns.
func (e *engine) writeRows(ctx context.Context, db *sql.DB, t table, q string, args []any, w io.Writer) (int, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	jsonCol := map[string]bool{}
	for _, c := range t.Columns {
		if c.Type == field.TypeJSON {
			jsonCol[c.Name] = true
		}
	}
	enc := json.NewEncoder(w)
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		obj := make(map[string]any, len(cols))
		for i, c := range cols {
			if t.secret(c) {
				continue
			}
			obj[c] = jsonValue(vals[i], jsonCol[c])
		}
		if err := enc.Encode(obj); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func jsonValue(v any, isJSON bool) any {
	var s string
	switch x := v.(type) {
	case []byte:
		if !utf8.Valid(x) {
			return base64.StdEncoding.EncodeToString(x)
		}
		s = string(x)
	case string:
		s = x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return v
	}
	if isJSON && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return s
}

// Exports lists the workspace's exports, newest first (owners and admins).
func (s *Service) Exports(ctx context.Context) ([]*ent.Export, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	return s.Store.Ent.Export.Query().Order(ent.Desc(entexport.FieldCreatedAt), ent.Desc(entexport.FieldID)).Limit(100).All(ctx)
}

// ExpireExports deletes archives past their expiry and marks them EXPIRED.
func (s *Service) ExpireExports(ctx context.Context) (int, error) {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("export expiry"))
	due, err := s.Store.Ent.Export.Query().Where(entexport.StatusEQ(entexport.StatusReady), entexport.ExpiresAtLTE(s.now())).All(pctx)
	if err != nil {
		return 0, err
	}
	for _, ex := range due {
		if ex.StorageKey != "" && s.Bucket != nil {
			if err := s.Bucket.Delete(ctx, ex.StorageKey); err != nil && !isNotFound(err) {
				return 0, fmt.Errorf("privacy: deleting archive: %w", err)
			}
		}
		if err := ex.Update().SetStatus(entexport.StatusExpired).ClearStorageKey().SetSize(0).Exec(pctx); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}

// DownloadURL is a signed link to a READY export's archive, valid for
// DownloadURLTTL and never past the archive's expiry; empty otherwise.
func (s *Service) DownloadURL(ex *ent.Export) string {
	if ex.Status != entexport.StatusReady || ex.ExpiresAt == nil {
		return ""
	}
	exp := s.now().Add(DownloadURLTTL)
	if ex.ExpiresAt.Before(exp) {
		exp = *ex.ExpiresAt
	}
	e := exp.Unix()
	return strings.TrimSuffix(s.PublicURL, "/") + "/exports/" + url.PathEscape(string(ex.ID)) +
		"?exp=" + strconv.FormatInt(e, 10) + "&sig=" + s.sign(string(ex.ID), e)
}

func (s *Service) sign(id string, exp int64) string {
	return secret.SignLink(s.SignKey, "export", id, exp)
}

// Errors of VerifyDownload.
var (
	ErrBadSignature = errors.New("privacy: bad signature")
	ErrExpired      = errors.New("privacy: link expired")
)

// VerifyDownload checks a download link's parameters.
func (s *Service) VerifyDownload(id, exp, sig string) error {
	switch err := secret.VerifyLink(s.SignKey, "export", id, exp, sig, s.now()); {
	case errors.Is(err, secret.ErrLinkExpired):
		return ErrExpired
	case err != nil:
		return ErrBadSignature
	}
	return nil
}

// ServeHTTP serves GET /exports/{id}?exp=…&sig=…: the archive, for whoever
// holds a valid link. A bad signature is 403, an expired link or archive 410.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	switch err := s.VerifyDownload(id, q.Get("exp"), q.Get("sig")); {
	case errors.Is(err, ErrExpired):
		http.Error(w, "link expired", http.StatusGone)
		return
	case err != nil:
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	ctx := tenant.NewContext(r.Context(), tenant.PlatformViewer("export: signed link"))
	ex, err := s.Store.Ent.Export.Get(ctx, pulid.ID(id))
	if ent.IsNotFound(err) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if ex.Status != entexport.StatusReady || ex.ExpiresAt == nil || !s.now().Before(*ex.ExpiresAt) || s.Bucket == nil {
		http.Error(w, "export expired", http.StatusGone)
		return
	}
	rd, err := s.Bucket.NewReader(ctx, ex.StorageKey, nil)
	if err != nil {
		http.Error(w, "export expired", http.StatusGone)
		return
	}
	defer rd.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.FormatInt(ex.Size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="neksio-`+string(ex.ID)+`.zip"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.Copy(w, rd)
}
