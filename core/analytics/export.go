package analytics

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSV writes the report as one CSV table with a section column: the
// summary (every figure, previous period and change), the timeseries of
// every metric at granularity g, and every metric by channel. The file is
// for spreadsheets: one header, one fact per row.
func (r *Report) CSV(ctx context.Context, w io.Writer, g Granularity) error {
	sum, err := r.Summary(ctx)
	if err != nil {
		return err
	}
	names := make([]Metric, len(Metrics))
	for i, d := range Metrics {
		names[i] = d.Name
	}
	series, err := r.Timeseries(ctx, names, g)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	write := func(rec ...string) error {
		for i, v := range rec {
			rec[i] = safeCell(v)
		}
		return cw.Write(rec)
	}
	tz := r.loc.String()
	if err := write("section", "metric", "start", "end", "group", "value", "previous", "change"); err != nil {
		return err
	}
	from, to := r.req.Range.From.In(r.loc).Format(time.RFC3339), r.req.Range.To.In(r.loc).Format(time.RFC3339)
	for _, d := range Metrics {
		for _, suffix := range []string{"", "_MEDIAN", "_P90"} {
			f, ok := sum[string(d.Name)+suffix]
			if !ok {
				continue
			}
			if err := write("summary", string(d.Name)+suffix, from, to, "", fnum(f.Value), fnum(f.Previous), fnum(f.Change)); err != nil {
				return err
			}
		}
	}
	for _, s := range series {
		for _, p := range s.Points {
			if err := write("timeseries", string(s.Metric), p.Start.In(r.loc).Format(time.RFC3339), p.End.In(r.loc).Format(time.RFC3339),
				"", fnum(p.Value), "", ""); err != nil {
				return err
			}
		}
	}
	for _, d := range Metrics {
		if d.Agg == AggOpen {
			continue
		}
		rows, err := r.Breakdown(ctx, d.Name, ByChannel)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := write("by_channel", string(d.Name), from, to, row.Label, fnum(row.Value), "", ""); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("analytics: writing CSV (%s): %w", tz, err)
	}
	return nil
}

func fnum(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// safeCell keeps a spreadsheet from reading a cell (a channel's or
// member's name) as a formula.
func safeCell(v string) string {
	if v != "" && strings.ContainsAny(v[:1], "=+-@\t\r") {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "'" + v
		}
	}
	return v
}
