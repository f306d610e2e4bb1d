package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/internal/sqlpage"
)

// nodeReader is ent's driver on PostgreSQL, outside transactions, with
// the statements that load ent's nodes (the queries' sqlAll, marked by
// sqlpage.WithNodeScan) read through the pgx pool itself rather than
// database/sql over pgx's stdlib: there every column of every row is
// decoded into a driver.Value (a string or a time boxed in an interface:
// an allocation each) and converted again by database/sql into the scan
// destination. Here a column is decoded straight into ent's destination
// (sql.NullString, sql.NullTime, pulid.ID, …) with the pgx plan for that
// destination (pgxRows.Scan); the values are the ones database/sql gave
// (the same result formats, the same decoding). Everything else — writes,
// counts, aggregates, transactions (store.Tx has its own driver) — goes
// through database/sql as before. Same pool, same connections, same
// statement (and so the same privacy filter: it is in the SQL).
type nodeReader struct {
	*entsql.Driver
	pool *pgxpool.Pool
}

// Query implements dialect.Driver.
func (d nodeReader) Query(ctx context.Context, query string, args, v any) error {
	rows, ok := v.(*entsql.Rows)
	argv, ok2 := args.([]any)
	if !ok || !ok2 || !sqlpage.IsNodeScan(ctx) {
		return d.Driver.Query(ctx, query, args, v)
	}
	qargs := make([]any, 0, len(argv)+1)
	qargs = append(qargs, databaseSQLResultFormats)
	qargs = append(qargs, argv...)
	r, err := d.pool.Query(ctx, query, qargs...)
	if err != nil {
		return err
	}
	*rows = entsql.Rows{ColumnScanner: &pgxRows{rows: r, m: r.Conn().TypeMap()}}
	return nil
}

// databaseSQLResultFormats are the result formats pgx's stdlib asks for
// (binary for the intrinsic types, text for the others), so a column
// decodes to the value database/sql would have scanned.
var databaseSQLResultFormats = pgx.QueryResultFormatsByOID{
	pgtype.BoolOID: 1, pgtype.ByteaOID: 1, pgtype.CIDOID: 1, pgtype.DateOID: 1,
	pgtype.Float4OID: 1, pgtype.Float8OID: 1, pgtype.Int2OID: 1, pgtype.Int4OID: 1,
	pgtype.Int8OID: 1, pgtype.OIDOID: 1, pgtype.TimestampOID: 1, pgtype.TimestamptzOID: 1,
	pgtype.XIDOID: 1,
}

// errNoColumnTypes: database/sql's ColumnType cannot be made outside it.
// ent asks for it only for a column it does not know (sql.ScanTypeOf),
// and then scans it into an any, which pgxRows fills with the value
// database/sql's driver would have returned.
var errNoColumnTypes = errors.New("store: column types are not available on pgx rows")

// pgxRows is ent's ColumnScanner on pgx's rows.
type pgxRows struct {
	rows  pgx.Rows
	m     *pgtype.Map
	cols  []string
	plans []columnPlans

	// Scratch destinations of the plans (a local would escape to the heap
	// on every call, passed to the plan as an any).
	s    string
	tstz pgtype.Timestamptz
	i64  int64
	f64  float64
	b    bool
}

// columnPlans are a column's scan plans, made on first use, one per kind
// of destination.
type columnPlans struct {
	str, tstz, i64, f64, b, bytes pgtype.ScanPlan
	value                         func([]byte) (driver.Value, error)
}

func (r *pgxRows) Close() error                            { r.rows.Close(); return nil }
func (r *pgxRows) ColumnTypes() ([]*sql.ColumnType, error) { return nil, errNoColumnTypes }
func (r *pgxRows) Err() error                              { return r.rows.Err() }
func (r *pgxRows) Next() bool                              { return r.rows.Next() }
func (r *pgxRows) NextResultSet() bool                     { return false }

func (r *pgxRows) Columns() ([]string, error) {
	if r.cols == nil {
		fds := r.rows.FieldDescriptions()
		r.cols = make([]string, len(fds))
		for i, fd := range fds {
			r.cols[i] = fd.Name
		}
	}
	return r.cols, nil
}

// intrinsic reports whether pgx's stdlib decodes a column of the type
// into something else than a string (its valueFuncs): such a column takes
// the general path (value, then the destination's own conversion).
func intrinsic(oid uint32) bool {
	switch oid {
	case pgtype.BoolOID, pgtype.ByteaOID, pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID, pgtype.DateOID,
		pgtype.Float4OID, pgtype.Float8OID, pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID,
		pgtype.JSONOID, pgtype.JSONBOID, pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.XMLOID:
		return true
	}
	return false
}

// Scan implements ColumnScanner: the destinations of ent's generated
// scanValues are filled straight from the column's bytes; any other
// (a sql.Scanner, an any) gets the driver.Value pgx's stdlib would have
// returned, through its own Scan (database/sql's conversions); a
// destination of another type is scanned by pgx.
func (r *pgxRows) Scan(dest ...any) error {
	fds := r.rows.FieldDescriptions()
	raws := r.rows.RawValues()
	if len(dest) != len(fds) {
		return fmt.Errorf("store: %d destinations for %d columns", len(dest), len(fds))
	}
	if r.plans == nil {
		r.plans = make([]columnPlans, len(fds))
	}
	for i, raw := range raws {
		if err := r.scanColumn(i, &fds[i], raw, dest[i]); err != nil {
			return fmt.Errorf("store: scanning column %s: %w", fds[i].Name, err)
		}
	}
	return nil
}

func (r *pgxRows) plan(p *pgtype.ScanPlan, fd *pgconn.FieldDescription, target any) pgtype.ScanPlan {
	if *p == nil {
		*p = r.m.PlanScan(fd.DataTypeOID, fd.Format, target)
	}
	return *p
}

func (r *pgxRows) scanColumn(i int, fd *pgconn.FieldDescription, raw []byte, dst any) error {
	p := &r.plans[i]
	oid := fd.DataTypeOID
	switch d := dst.(type) {
	case sqlpage.Wrapper:
		// A joined column (sqlpage.ScanJoined): NULL leaves the target's
		// destination as it is.
		if inner := d.Unwrap(raw != nil); raw != nil {
			return r.scanColumn(i, fd, raw, inner)
		}
		return nil
	case *sql.NullString:
		if raw == nil {
			*d = sql.NullString{}
			return nil
		}
		if !intrinsic(oid) {
			if err := r.plan(&p.str, fd, &r.s).Scan(raw, &r.s); err != nil {
				return err
			}
			*d = sql.NullString{String: r.s, Valid: true}
			return nil
		}
	case *pulid.ID:
		if raw != nil && !intrinsic(oid) {
			if err := r.plan(&p.str, fd, &r.s).Scan(raw, &r.s); err != nil {
				return err
			}
			*d = pulid.ID(r.s)
			return nil
		}
	case *entsql.NullScanner:
		if raw == nil {
			d.Valid = false
			return nil
		}
		if id, ok := d.S.(*pulid.ID); ok && !intrinsic(oid) {
			d.Valid = true
			return r.scanColumn(i, fd, raw, id)
		}
	case *sql.NullTime:
		if raw == nil {
			*d = sql.NullTime{}
			return nil
		}
		if oid == pgtype.TimestamptzOID {
			if err := r.plan(&p.tstz, fd, &r.tstz).Scan(raw, &r.tstz); err != nil {
				return err
			}
			if t := r.tstz; t.Valid && t.InfinityModifier == pgtype.Finite {
				*d = sql.NullTime{Time: t.Time, Valid: true}
				return nil
			}
		}
	case *sql.NullInt64:
		if raw == nil {
			*d = sql.NullInt64{}
			return nil
		}
		if oid == pgtype.Int8OID || oid == pgtype.Int4OID || oid == pgtype.Int2OID {
			if err := r.plan(&p.i64, fd, &r.i64).Scan(raw, &r.i64); err != nil {
				return err
			}
			*d = sql.NullInt64{Int64: r.i64, Valid: true}
			return nil
		}
	case *sql.NullFloat64:
		if raw == nil {
			*d = sql.NullFloat64{}
			return nil
		}
		if oid == pgtype.Float8OID {
			if err := r.plan(&p.f64, fd, &r.f64).Scan(raw, &r.f64); err != nil {
				return err
			}
			*d = sql.NullFloat64{Float64: r.f64, Valid: true}
			return nil
		}
	case *sql.NullBool:
		if raw == nil {
			*d = sql.NullBool{}
			return nil
		}
		if oid == pgtype.BoolOID {
			if err := r.plan(&p.b, fd, &r.b).Scan(raw, &r.b); err != nil {
				return err
			}
			*d = sql.NullBool{Bool: r.b, Valid: true}
			return nil
		}
	case *[]byte:
		if raw == nil {
			*d = nil
			return nil
		}
		if oid == pgtype.JSONOID || oid == pgtype.JSONBOID || oid == pgtype.ByteaOID {
			var b []byte // a new slice: the node keeps it
			if err := r.plan(&p.bytes, fd, &b).Scan(raw, &b); err != nil {
				return err
			}
			*d = b
			return nil
		}
	}
	// The general path: the value pgx's stdlib would have returned.
	var v driver.Value
	if raw != nil {
		if p.value == nil {
			p.value = stdlibValue(r.m, fd.DataTypeOID, fd.Format)
		}
		var err error
		if v, err = p.value(raw); err != nil {
			return err
		}
	}
	switch d := dst.(type) {
	case sql.Scanner:
		return d.Scan(v)
	case *any:
		*d = v
		return nil
	case *[]byte:
		switch s := v.(type) {
		case nil:
			*d = nil
		case []byte:
			*d = append([]byte(nil), s...)
		case string:
			*d = []byte(s)
		default:
			return fmt.Errorf("cannot scan %T into %T", v, dst)
		}
		return nil
	}
	// Not a destination of ent's node queries: pgx's own scan.
	return r.m.PlanScan(fd.DataTypeOID, fd.Format, dst).Scan(raw, dst)
}

// stdlibValue returns what pgx's stdlib (stdlib.Rows.Next, v5) returns
// for a column of the type in the format: the same plans, the same
// values.
func stdlibValue(m *pgtype.Map, oid uint32, format int16) func([]byte) (driver.Value, error) {
	scan := func(target any) func([]byte) error {
		plan := m.PlanScan(oid, format, target)
		return func(src []byte) error { return plan.Scan(src, target) }
	}
	switch oid {
	case pgtype.BoolOID:
		var d bool
		f := scan(&d)
		return func(src []byte) (driver.Value, error) { err := f(src); return d, err }
	case pgtype.ByteaOID:
		var d []byte
		f := scan(&d)
		return func(src []byte) (driver.Value, error) { err := f(src); return d, err }
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		var d pgtype.Uint32
		f := scan(&d)
		return func(src []byte) (driver.Value, error) {
			if err := f(src); err != nil {
				return nil, err
			}
			return d.Value()
		}
	case pgtype.DateOID:
		var d pgtype.Date
		f := scan(&d)
		return func(src []byte) (driver.Value, error) {
			if err := f(src); err != nil {
				return nil, err
			}
			return d.Value()
		}
	case pgtype.Float4OID:
		var d float32
		f := scan(&d)
		return func(src []byte) (driver.Value, error) { err := f(src); return float64(d), err }
	case pgtype.Float8OID:
		var d float64
		f := scan(&d)
		return func(src []byte) (driver.Value, error) { err := f(src); return d, err }
	case pgtype.Int2OID:
		var d int16
		f := scan(&d)
		return func(src []byte) (driver.Value, error) { err := f(src); return int64(d), err }
	case pgtype.Int4OID:
		var d int32
		f := scan(&d)
		return func(src []byte) (driver.Value, error) { err := f(src); return int64(d), err }
	case pgtype.Int8OID:
		var d int64
		f := scan(&d)
		return func(src []byte) (driver.Value, error) { err := f(src); return d, err }
	case pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		var d []byte
		f := scan(&d)
		return func(src []byte) (driver.Value, error) {
			if err := f(src); err != nil {
				return nil, err
			}
			return d, nil
		}
	case pgtype.TimestampOID:
		var d pgtype.Timestamp
		f := scan(&d)
		return func(src []byte) (driver.Value, error) {
			if err := f(src); err != nil {
				return nil, err
			}
			return d.Value()
		}
	case pgtype.TimestamptzOID:
		var d pgtype.Timestamptz
		f := scan(&d)
		return func(src []byte) (driver.Value, error) {
			if err := f(src); err != nil {
				return nil, err
			}
			return d.Value()
		}
	default:
		var d string
		f := scan(&d)
		return func(src []byte) (driver.Value, error) { err := f(src); return d, err }
	}
}
