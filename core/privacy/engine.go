package privacy

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"entgo.io/ent/dialect"
)

// rowset holds the IDs of rows per table.
type rowset map[string]map[string]bool

func (r rowset) add(tbl, id string) bool {
	if r[tbl] == nil {
		r[tbl] = map[string]bool{}
	}
	if r[tbl][id] {
		return false
	}
	r[tbl][id] = true
	return true
}

func (r rowset) ids(tbl string) []string {
	out := make([]string, 0, len(r[tbl]))
	for id := range r[tbl] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// all is every ID of the set.
func (r rowset) all() map[string]bool {
	out := map[string]bool{}
	for _, ids := range r {
		for id := range ids {
			out[id] = true
		}
	}
	return out
}

// Count is the number of rows in the set.
func (r rowset) count() int {
	n := 0
	for _, ids := range r {
		n += len(ids)
	}
	return n
}

// querier is a *sql.Tx or *sql.DB.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// sqlDialect builds the few statements that differ between engines.
type sqlDialect string

func (d sqlDialect) ph(n int) string {
	if d == dialect.Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// in is "col IN (p, p, …)" for n values starting at placeholder from.
func (d sqlDialect) in(col string, from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = d.ph(from + i)
	}
	return col + " IN (" + strings.Join(ps, ", ") + ")"
}

func quote(id string) string { return `"` + id + `"` }

// chunkSize bounds IN lists (SQLite allows 32766 parameters, PostgreSQL 65535).
const chunkSize = 500

func chunks(ids []string) [][]string {
	var out [][]string
	for len(ids) > chunkSize {
		out = append(out, ids[:chunkSize])
		ids = ids[chunkSize:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// closure grows seeds with every row of the workspace that references a
// row of the set through a foreign key, until nothing is added: a
// contact's conversations, their messages, the agent runs about them, and
// whatever a later table hangs off these. Join tables are handled when
// deleting or exporting (they have no IDs).
func (e *engine) closure(ctx context.Context, q querier, ws string, seeds rowset) (rowset, error) {
	set := rowset{}
	frontier := rowset{}
	for tbl, ids := range seeds {
		for id := range ids {
			set.add(tbl, id)
			frontier.add(tbl, id)
		}
	}
	for frontier.count() > 0 {
		next := rowset{}
		for _, t := range e.g.order {
			if t.Scope != Tenant || !t.has("id") {
				continue
			}
			for _, fk := range t.ForeignKeys {
				if len(fk.Columns) != 1 || len(frontier[fk.RefTable.Name]) == 0 || fk.RefTable.Name == "workspaces" {
					continue
				}
				col := fk.Columns[0].Name
				for _, part := range chunks(frontier.ids(fk.RefTable.Name)) {
					query := "SELECT id FROM " + quote(t.Name) + " WHERE workspace_id = " + e.d.ph(1) +
						" AND " + e.d.in(quote(col), 2, len(part))
					ids, err := e.strings(ctx, q, query, append([]any{ws}, anys(part)...)...)
					if err != nil {
						return nil, fmt.Errorf("privacy: following %s.%s: %w", t.Name, col, err)
					}
					for _, id := range ids {
						if set.add(t.Name, id) {
							next.add(t.Name, id)
						}
					}
				}
			}
		}
		frontier = next
	}
	return set, nil
}

func (e *engine) strings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		if s.Valid {
			out = append(out, s.String)
		}
	}
	return out, rows.Err()
}

// attachedMedia adds to set the media files the set's messages carry
// (attachments name them by ID in JSON, not by foreign key).
func (e *engine) attachedMedia(ctx context.Context, q querier, ws string, set rowset) error {
	for _, part := range chunks(set.ids("messages")) {
		query := "SELECT attachments FROM messages WHERE workspace_id = " + e.d.ph(1) + " AND " + e.d.in("id", 2, len(part))
		rows, err := e.strings(ctx, q, query, append([]any{ws}, anys(part)...)...)
		if err != nil {
			return fmt.Errorf("privacy: reading attachments: %w", err)
		}
		for _, raw := range rows {
			var atts []struct {
				MediaID string `json:"mediaId"`
			}
			if json.Unmarshal([]byte(raw), &atts) != nil {
				continue
			}
			for _, a := range atts {
				if a.MediaID != "" {
					set.add("media", a.MediaID)
				}
			}
		}
	}
	return nil
}

// deleteSet deletes the set's rows, children first, and the join rows
// referencing them. It returns the media storage keys to delete from the
// bucket once the transaction commits.
// lockedClosure is closure made stable against concurrent writers on
// PostgreSQL: it locks every row of the set FOR UPDATE and grows the set
// again, until locking added nothing. A transaction inserting a row that
// references a locked row (an agent run, a message, a sentiment job's
// write) waits for this one, so nothing new can hang off the set between
// computing it and deleting it (the delete would otherwise fail on that
// row's foreign key). SQLite has one writer at a time: closure suffices.
func (e *engine) lockedClosure(ctx context.Context, q querier, ws string, seeds rowset) (rowset, error) {
	set, err := e.closure(ctx, q, ws, seeds)
	if err != nil || e.d != dialect.Postgres {
		return set, err
	}
	locked := rowset{}
	for range 10 {
		grew := false
		// Parents before children (the schema order reversed), ids sorted:
		// the order writers take the same rows in (a conversation's row,
		// then its messages), so erasure waits for them instead of
		// deadlocking with them.
		for i := len(e.g.order) - 1; i >= 0; i-- {
			tbl := e.g.order[i].Name
			if len(set[tbl]) == 0 {
				continue
			}
			var fresh []string
			for _, id := range set.ids(tbl) {
				if locked.add(tbl, id) {
					fresh = append(fresh, id)
				}
			}
			for _, part := range chunks(fresh) {
				grew = true
				query := "SELECT id FROM " + quote(tbl) + " WHERE workspace_id = " + e.d.ph(1) + " AND " + e.d.in("id", 2, len(part)) + " FOR UPDATE"
				if _, err := e.strings(ctx, q, query, append([]any{ws}, anys(part)...)...); err != nil {
					return nil, fmt.Errorf("privacy: locking %s: %w", tbl, err)
				}
			}
		}
		if !grew {
			return set, nil
		}
		if set, err = e.closure(ctx, q, ws, set); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("privacy: the rows to erase kept growing while being locked")
}

func (e *engine) deleteSet(ctx context.Context, q querier, ws string, set rowset) ([]string, error) {
	var keys []string
	for _, part := range chunks(set.ids("media")) {
		query := "SELECT storage_key FROM media WHERE workspace_id = " + e.d.ph(1) + " AND " + e.d.in("id", 2, len(part))
		k, err := e.strings(ctx, q, query, append([]any{ws}, anys(part)...)...)
		if err != nil {
			return nil, fmt.Errorf("privacy: reading media keys: %w", err)
		}
		keys = append(keys, k...)
	}
	for _, t := range e.g.order {
		switch t.Scope {
		case Join:
			for _, fk := range t.ForeignKeys {
				if len(fk.Columns) != 1 || len(set[fk.RefTable.Name]) == 0 {
					continue
				}
				for _, part := range chunks(set.ids(fk.RefTable.Name)) {
					query := "DELETE FROM " + quote(t.Name) + " WHERE " + e.d.in(quote(fk.Columns[0].Name), 1, len(part))
					if _, err := q.ExecContext(ctx, query, anys(part)...); err != nil {
						return nil, fmt.Errorf("privacy: deleting from %s: %w", t.Name, err)
					}
				}
			}
		case Tenant:
			for _, part := range chunks(set.ids(t.Name)) {
				query := "DELETE FROM " + quote(t.Name) + " WHERE workspace_id = " + e.d.ph(1) + " AND " + e.d.in("id", 2, len(part))
				if _, err := q.ExecContext(ctx, query, append([]any{ws}, anys(part)...)...); err != nil {
					return nil, fmt.Errorf("privacy: deleting from %s: %w", t.Name, err)
				}
			}
		}
	}
	return keys, nil
}

// engine runs the generic statements on one database engine.
type engine struct {
	g *graph
	d sqlDialect
}

func newEngine(dia string) *engine { return &engine{g: schemaGraph, d: sqlDialect(dia)} }

// jobArgs is the expression reading river_job.args as JSON text
// (riversqlite stores SQLite's binary JSON).
func (e *engine) jobArgs() string {
	if e.d == dialect.Postgres {
		return "args::text"
	}
	return "json(args)"
}

func (e *engine) emptyArgs() string {
	if e.d == dialect.Postgres {
		return "'{}'::jsonb"
	}
	return "jsonb('{}')"
}

// scrubJobs deals with River's jobs of the workspace whose arguments name
// an ID of ids: finished ones (completed, cancelled, discarded) are
// deleted; queued ones (available, scheduled, retryable, pending) are
// cancelled and their arguments emptied; a running one keeps running (its
// object is gone, so it ends with nothing to do) with its stored arguments
// emptied. With all set, every job mentioning the workspace is treated so.
func (e *engine) scrubJobs(ctx context.Context, q querier, ws string, ids map[string]bool, all bool) (int, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, state, "+e.jobArgs()+" FROM river_job WHERE "+e.jobArgs()+" LIKE "+e.d.ph(1),
		"%"+ws+"%")
	if err != nil {
		return 0, fmt.Errorf("privacy: reading jobs: %w", err)
	}
	type job struct {
		id    int64
		state string
	}
	var hit []job
	for rows.Next() {
		var j job
		var args string
		if err := rows.Scan(&j.id, &j.state, &args); err != nil {
			rows.Close()
			return 0, err
		}
		if all || mentions(args, ids) {
			hit = append(hit, j)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, j := range hit {
		var query string
		switch j.state {
		case "completed", "cancelled", "discarded":
			query = "DELETE FROM river_job WHERE id = " + e.d.ph(1)
		case "running":
			query = "UPDATE river_job SET args = " + e.emptyArgs() + " WHERE id = " + e.d.ph(1)
		default:
			query = "UPDATE river_job SET args = " + e.emptyArgs() + ", state = 'cancelled', finalized_at = " +
				e.now() + " WHERE id = " + e.d.ph(1)
		}
		if _, err := q.ExecContext(ctx, query, j.id); err != nil {
			return 0, fmt.Errorf("privacy: scrubbing job %d: %w", j.id, err)
		}
	}
	return len(hit), nil
}

func (e *engine) now() string {
	if e.d == dialect.Postgres {
		return "now()"
	}
	return "datetime('now', 'subsec')"
}

// mentions reports whether any string in the JSON document is one of ids.
func mentions(doc string, ids map[string]bool) bool {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case string:
			return ids[x]
		case []any:
			for _, y := range x {
				if walk(y) {
					return true
				}
			}
		case map[string]any:
			for _, y := range x {
				if walk(y) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}
