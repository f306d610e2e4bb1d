package analytics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/analyticshistogram"
	"github.com/neksio/neksio/ent/analyticsrollup"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// groupBy is what a query groups cells by, besides metric and kind.
type groupBy int

const (
	gNone groupBy = iota
	gTime
	gChannel
	gDim
	gConv
)

type cellKey struct {
	Metric, Kind, Group string
	T                   int64
}

type cell struct{ Count, Sum, BSum int64 }

func (c *cell) add(count, sum, bsum int64) {
	c.Count += count
	c.Sum += sum
	c.BSum += bsum
}

type cells map[cellKey]*cell

func (cs cells) add(k cellKey, count, sum, bsum int64) {
	c := cs[k]
	if c == nil {
		c = &cell{}
		cs[k] = c
	}
	c.add(count, sum, bsum)
}

var epoch = time.Unix(0, 0).UTC()

func ceilHour(t time.Time) time.Time {
	h := t.Truncate(time.Hour)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// plan splits [from, to) into the whole hours read from rollups and the
// windows collected from the base tables.
func (r *Report) plan(from, to time.Time, rollups bool) (ra, rb time.Time, base [][2]time.Time) {
	if !rollups {
		return epoch, epoch, [][2]time.Time{{from, to}}
	}
	a, b := ceilHour(from), to.Truncate(time.Hour)
	if b.After(r.watermark) {
		b = r.watermark
	}
	if !a.Before(b) {
		return epoch, epoch, [][2]time.Time{{from, to}}
	}
	if from.Before(a) {
		base = append(base, [2]time.Time{from, a})
	}
	if b.Before(to) {
		base = append(base, [2]time.Time{b, to})
	}
	return a, b, base
}

// facts collects (once per report) the base-table facts of [a, b).
func (r *Report) facts(ctx context.Context, a, b time.Time) ([]Fact, error) {
	k := [2]int64{a.UnixNano(), b.UnixNano()}
	if fs, ok := r.base[k]; ok {
		return fs, nil
	}
	fs, err := collect(ctx, r.client, r.hours, a, b)
	if err != nil {
		return nil, err
	}
	r.base[k] = fs
	return fs, nil
}

// allow applies the filter to a collected fact.
func (r *Report) allow(f *Fact) bool {
	if r.channels != nil && !r.channels[f.ChannelID] {
		return false
	}
	if r.kinds != nil && !r.kinds[f.Kind] {
		return false
	}
	if r.convs != nil && !r.convs[f.ConversationID] {
		return false
	}
	return true
}

func (r *Report) channelIDs() []pulid.ID {
	ids := make([]pulid.ID, 0, len(r.channels))
	for id := range r.channels {
		ids = append(ids, id)
	}
	return ids
}

func (r *Report) kindList() []string {
	ks := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		ks = append(ks, k)
	}
	return ks
}

// aggregate adds up the facts of metrics in [from, to), grouped by g.
func (r *Report) aggregate(ctx context.Context, from, to time.Time, metrics []string, g groupBy, rollups bool) (cells, error) {
	return r.aggregateIn(ctx, from, to, metrics, g, rollups, nil)
}

// maxCaseBuckets bounds the buckets grouped in SQL (bucketCase).
const maxCaseBuckets = 400

// bucketCase is an SQL expression mapping an hour column to the start of
// its bucket (starts ascending, Unix seconds), so the database returns
// one row per bucket instead of one per hour.
func bucketCase(col string, starts []int64) string {
	var b strings.Builder
	b.WriteString("(CASE")
	for i := 1; i < len(starts); i++ {
		fmt.Fprintf(&b, " WHEN %s < %d THEN %d", col, starts[i], starts[i-1])
	}
	fmt.Fprintf(&b, " ELSE %d END)", starts[len(starts)-1])
	return b.String()
}

// aggregateIn is aggregate; with g == gTime and bucket starts given, the
// rolled-up hours are grouped by bucket in SQL (cell T: the bucket's
// start) rather than by hour.
func (r *Report) aggregateIn(ctx context.Context, from, to time.Time, metrics []string, g groupBy, rollups bool, starts []int64) (cells, error) {
	out := cells{}
	if r.empty || !from.Before(to) {
		return out, nil
	}
	ra, rb, base := r.plan(from, to, rollups && g != gConv)
	if ra.Before(rb) {
		q := r.client.AnalyticsRollup.Query().Where(analyticsrollup.HourGTE(ra.Unix()), analyticsrollup.HourLT(rb.Unix()),
			analyticsrollup.MetricIn(metrics...))
		if r.channels != nil {
			q.Where(analyticsrollup.ChannelIDIn(r.channelIDs()...))
		}
		if r.kinds != nil {
			q.Where(analyticsrollup.KindIn(r.kindList()...))
		}
		fields := []string{analyticsrollup.FieldMetric, analyticsrollup.FieldKind}
		switch g {
		case gTime:
			fields = append(fields, analyticsrollup.FieldHour)
		case gChannel:
			fields = append(fields, analyticsrollup.FieldChannelID)
		case gDim:
			fields = append(fields, analyticsrollup.FieldDim)
		}
		var rows []struct {
			Metric string `json:"metric"`
			Kind   string `json:"kind"`
			Hour   int64  `json:"hour"`
			// BucketStart is the bucket of grouped hours (bucketCase).
			BucketStart int64  `json:"bucket_start"`
			ChannelID   string `json:"channel_id"`
			Dim         string `json:"dim"`
			C           int64  `json:"c"`
			S           int64  `json:"s"`
			B           int64  `json:"b"`
		}
		var err error
		if g == gTime && len(starts) > 1 && len(starts) <= maxCaseBuckets {
			err = q.Modify(func(s *entsql.Selector) {
				t := bucketCase(s.C(analyticsrollup.FieldHour), starts)
				s.Select(s.C(analyticsrollup.FieldMetric), s.C(analyticsrollup.FieldKind), entsql.As(t, "bucket_start"),
					entsql.As(entsql.Sum(s.C(analyticsrollup.FieldCount)), "c"),
					entsql.As(entsql.Sum(s.C(analyticsrollup.FieldSum)), "s"),
					entsql.As(entsql.Sum(s.C(analyticsrollup.FieldBusinessSum)), "b")).
					GroupBy(s.C(analyticsrollup.FieldMetric), s.C(analyticsrollup.FieldKind), t)
			}).Scan(ctx, &rows)
			for i := range rows {
				rows[i].Hour = rows[i].BucketStart
			}
		} else {
			err = q.GroupBy(fields[0], fields[1:]...).Aggregate(
				ent.As(ent.Sum(analyticsrollup.FieldCount), "c"),
				ent.As(ent.Sum(analyticsrollup.FieldSum), "s"),
				ent.As(ent.Sum(analyticsrollup.FieldBusinessSum), "b")).Scan(ctx, &rows)
		}
		if err != nil {
			return nil, fmt.Errorf("analytics: reading rollups: %w", err)
		}
		for _, row := range rows {
			k := cellKey{Metric: row.Metric, Kind: row.Kind}
			switch g {
			case gTime:
				k.T = row.Hour
			case gChannel:
				k.Group = row.ChannelID
			case gDim:
				k.Group = row.Dim
			}
			out.add(k, row.C, row.S, row.B)
		}
	}
	want := map[string]bool{}
	for _, m := range metrics {
		want[m] = true
	}
	for _, w := range base {
		fs, err := r.facts(ctx, w[0], w[1])
		if err != nil {
			return nil, err
		}
		for i := range fs {
			f := &fs[i]
			if !want[f.Metric] || !r.allow(f) {
				continue
			}
			k := cellKey{Metric: f.Metric, Kind: f.Kind}
			switch g {
			case gTime:
				k.T = f.At.Unix()
			case gChannel:
				k.Group = string(f.ChannelID)
			case gDim:
				k.Group = f.Dim
			case gConv:
				k.Group = string(f.ConversationID)
			}
			out.add(k, f.Count, f.Sum, f.BusinessSum)
		}
	}
	return out, nil
}

// durations are the histograms of the timed metrics' facts in [from,
// to), per metric and conversation kind: the rolled-up hours' buckets
// merged in one SQL query, plus the facts collected from the base tables
// put through the same buckets.
func (r *Report) durations(ctx context.Context, from, to time.Time) (map[[2]string]histogram, error) {
	out := map[[2]string]histogram{}
	if r.empty {
		return out, nil
	}
	add := func(metric, kind string, bucket int64, b bin) {
		k := [2]string{metric, kind}
		if out[k] == nil {
			out[k] = histogram{}
		}
		out[k].add(bucket, b)
	}
	ra, rb, base := r.plan(from, to, r.rollupsUsable())
	if ra.Before(rb) {
		q := r.client.AnalyticsHistogram.Query().Where(analyticshistogram.MetricIn(timedMetrics...),
			analyticshistogram.Business(r.req.BusinessHours),
			analyticshistogram.HourGTE(ra.Unix()), analyticshistogram.HourLT(rb.Unix()))
		if r.channels != nil {
			q.Where(analyticshistogram.ChannelIDIn(r.channelIDs()...))
		}
		if r.kinds != nil {
			q.Where(analyticshistogram.KindIn(r.kindList()...))
		}
		var rows []struct {
			Metric string `json:"metric"`
			Kind   string `json:"kind"`
			Bucket int64  `json:"bucket"`
			N      int64  `json:"n"`
			Lo     int64  `json:"lo"`
			Hi     int64  `json:"hi"`
		}
		if err := q.GroupBy(analyticshistogram.FieldMetric, analyticshistogram.FieldKind, analyticshistogram.FieldBucket).
			Aggregate(ent.As(ent.Sum(analyticshistogram.FieldCount), "n"),
				ent.As(ent.Min(analyticshistogram.FieldMinValue), "lo"),
				ent.As(ent.Max(analyticshistogram.FieldMaxValue), "hi")).Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("analytics: reading histograms: %w", err)
		}
		for _, row := range rows {
			add(row.Metric, row.Kind, row.Bucket, bin{row.N, row.Lo, row.Hi})
		}
	}
	for _, w := range base {
		fs, err := r.facts(ctx, w[0], w[1])
		if err != nil {
			return nil, err
		}
		for i := range fs {
			f := &fs[i]
			if !timed[f.Metric] || !r.allow(f) {
				continue
			}
			v := f.Sum
			if r.req.BusinessHours {
				v = f.BusinessSum
			}
			add(f.Metric, f.Kind, bucketOf(v), bin{1, v, v})
		}
	}
	return out, nil
}

// histogramOf merges the histograms of a timed metric's facts.
func histogramOf(hs map[[2]string]histogram, d MetricDef) histogram {
	out := histogram{}
	for k, h := range hs {
		if k[0] != d.Fact || (d.Kind != "" && k[1] != d.Kind) {
			continue
		}
		for k, b := range h {
			out.add(k, b)
		}
	}
	return out
}

// Percentile is the nearest-rank percentile of sorted values: the
// smallest value with at least p of them at or below it (the median of
// an even count is the lower middle value).
func Percentile(sorted []int64, p float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	v := float64(sorted[i])
	return &v
}

// value is a metric's figure from cells (filtered by match).
func (r *Report) value(d MetricDef, cs cells, match func(cellKey) bool) *float64 {
	var c cell
	for k, v := range cs {
		if k.Metric != d.Fact || (d.Kind != "" && k.Kind != d.Kind) || (match != nil && !match(k)) {
			continue
		}
		c.add(v.Count, v.Sum, v.BSum)
	}
	return r.figure(d, c)
}

func (r *Report) figure(d MetricDef, c cell) *float64 {
	var v float64
	switch d.Agg {
	case AggCount:
		v = float64(c.Count)
	case AggOpen:
		v = float64(c.Sum)
	case AggAverage, AggAverageMicro:
		if c.Count == 0 {
			return nil
		}
		sum := c.Sum
		if d.Timed() && r.req.BusinessHours {
			sum = c.BSum
		}
		v = float64(sum) / float64(c.Count)
		if d.Agg == AggAverageMicro {
			v /= 1e6
		}
	}
	return &v
}

func factsOf(defs []MetricDef) []string {
	var ms []string
	for _, d := range defs {
		if !slices.Contains(ms, d.Fact) {
			ms = append(ms, d.Fact)
		}
	}
	return ms
}

// Figure is one summary figure: its value over the range, over the
// previous period of the same length, and the relative change (nil when
// either is missing or the previous is zero).
type Figure struct {
	Value, Previous, Change *float64
}

// Summary maps metric names to figures; timed metrics also have
// "<NAME>_MEDIAN" and "<NAME>_P90".
type Summary map[string]Figure

// openAt counts the conversations open at t.
func (r *Report) openAt(ctx context.Context, t time.Time) (*float64, error) {
	cs, err := r.aggregate(ctx, epoch, t, []string{mOpenDelta}, gNone, r.rollupsUsable())
	if err != nil {
		return nil, err
	}
	d, _ := Lookup("CONVERSATIONS_OPEN")
	return r.value(d, cs, nil), nil
}

// period computes every figure of [from, to); open is the count of
// conversations open at from, to which the period's openings, resolutions
// and reopenings add (facts add up, so this equals openAt(to) without
// reading every hour before from again).
func (r *Report) period(ctx context.Context, from, to time.Time, open *float64) (map[string]*float64, error) {
	cs, err := r.aggregate(ctx, from, to, factsOf(Metrics), gNone, r.rollupsUsable())
	if err != nil {
		return nil, err
	}
	hs, err := r.durations(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := map[string]*float64{}
	for _, d := range Metrics {
		if d.Agg == AggOpen {
			v := *open + *r.value(d, cs, nil)
			out[string(d.Name)] = &v
			continue
		}
		out[string(d.Name)] = r.value(d, cs, nil)
		if d.Timed() && d.Agg == AggAverage {
			h := histogramOf(hs, d)
			out[string(d.Name)+"_MEDIAN"] = h.quantile(0.5)
			out[string(d.Name)+"_P90"] = h.quantile(0.9)
		}
	}
	return out, nil
}

// Summary computes every figure for the range and the period before it.
func (r *Report) Summary(ctx context.Context) (Summary, error) {
	from, to := r.req.Range.From, r.req.Range.To
	prevFrom := from.Add(-to.Sub(from))
	open, err := r.openAt(ctx, prevFrom)
	if err != nil {
		return nil, err
	}
	prev, err := r.period(ctx, prevFrom, from, open)
	if err != nil {
		return nil, err
	}
	cur, err := r.period(ctx, from, to, prev["CONVERSATIONS_OPEN"])
	if err != nil {
		return nil, err
	}
	out := Summary{}
	for k, v := range cur {
		f := Figure{Value: v, Previous: prev[k]}
		if v != nil && f.Previous != nil && *f.Previous != 0 {
			c := (*v - *f.Previous) / math.Abs(*f.Previous)
			f.Change = &c
		}
		out[k] = f
	}
	return out, nil
}

// Granularity is the size of a timeseries bucket.
type Granularity string

// Granularities.
const (
	Hour  Granularity = "HOUR"
	Day   Granularity = "DAY"
	Week  Granularity = "WEEK"
	Month Granularity = "MONTH"
)

// MaxBuckets bounds a timeseries.
const MaxBuckets = 10_000

// Buckets are the boundaries of the range's buckets in its time zone:
// len(result)-1 buckets, the first starting at from and the last ending
// at to (both possibly partial). Days follow the zone's calendar, so a
// day with a daylight-saving change lasts 23 or 25 hours.
func (r *Report) Buckets(g Granularity) ([]time.Time, error) {
	from, to := r.req.Range.From, r.req.Range.To
	lf := from.In(r.loc)
	var start time.Time
	var next func(t time.Time) time.Time
	switch g {
	case Hour:
		start = lf.Truncate(time.Hour)
		if _, off := lf.Zone(); off%3600 != 0 {
			start = time.Date(lf.Year(), lf.Month(), lf.Day(), lf.Hour(), 0, 0, 0, r.loc)
		}
		next = func(t time.Time) time.Time { return t.Add(time.Hour) }
	case Day:
		start = time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, r.loc)
		next = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, r.loc) }
	case Week:
		d := (int(lf.Weekday()) + 6) % 7 // weeks start on Monday
		start = time.Date(lf.Year(), lf.Month(), lf.Day()-d, 0, 0, 0, 0, r.loc)
		next = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day()+7, 0, 0, 0, 0, r.loc) }
	case Month:
		start = time.Date(lf.Year(), lf.Month(), 1, 0, 0, 0, 0, r.loc)
		next = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, r.loc) }
	default:
		return nil, apperr.Invalid("granularity", "unknown granularity %q", g)
	}
	out := []time.Time{from}
	for t := next(start); t.Before(to); t = next(t) {
		if !t.After(out[len(out)-1]) {
			continue
		}
		out = append(out, t)
		if len(out) > MaxBuckets {
			return nil, apperr.Invalid("granularity", "more than %d buckets: choose a coarser granularity", MaxBuckets)
		}
	}
	return append(out, to), nil
}

// Point is one bucket of a series.
type Point struct {
	Start, End time.Time
	Value      *float64
}

// Series is one metric over time.
type Series struct {
	Metric Metric
	Points []Point
}

// Timeseries computes metrics per bucket.
func (r *Report) Timeseries(ctx context.Context, names []Metric, g Granularity) ([]Series, error) {
	defs, err := defsOf(names)
	if err != nil {
		return nil, err
	}
	bounds, err := r.Buckets(g)
	if err != nil {
		return nil, err
	}
	rollups := r.rollupsUsable()
	for _, b := range bounds[1 : len(bounds)-1] {
		// A rolled-up hour must fall in one bucket: zones with offsets
		// of half or quarter hours are answered from the base tables.
		if b.Unix()%3600 != 0 {
			rollups = false
		}
	}
	from, to := bounds[0], bounds[len(bounds)-1]
	starts := make([]int64, len(bounds)-1)
	for i, b := range bounds[:len(bounds)-1] {
		starts[i] = b.Unix()
	}
	cs, err := r.aggregateIn(ctx, from, to, factsOf(defs), gTime, rollups, starts)
	if err != nil {
		return nil, err
	}
	n := len(bounds) - 1
	per := make([]cells, n)
	for i := range per {
		per[i] = cells{}
	}
	for k, v := range cs {
		t := time.Unix(k.T, 0)
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i].After(t) }) - 1
		if i < 0 || i >= n {
			continue
		}
		k.T = 0
		per[i].add(k, v.Count, v.Sum, v.BSum)
	}
	out := make([]Series, len(defs))
	for j, d := range defs {
		s := Series{Metric: d.Name, Points: make([]Point, n)}
		var open float64
		if d.Agg == AggOpen {
			o, err := r.openAt(ctx, from)
			if err != nil {
				return nil, err
			}
			open = *o
		}
		for i := range n {
			p := Point{Start: bounds[i], End: bounds[i+1]}
			p.Value = r.value(d, per[i], nil)
			if d.Agg == AggOpen {
				open += *p.Value
				v := open
				p.Value = &v
			}
			s.Points[i] = p
		}
		out[j] = s
	}
	return out, nil
}

func defsOf(names []Metric) ([]MetricDef, error) {
	if len(names) == 0 {
		return nil, apperr.Invalid("metrics", "name at least one metric")
	}
	defs := make([]MetricDef, 0, len(names))
	for _, n := range names {
		d, ok := Lookup(n)
		if !ok {
			return nil, apperr.Invalid("metrics", "unknown metric %q", n)
		}
		defs = append(defs, d)
	}
	return defs, nil
}
