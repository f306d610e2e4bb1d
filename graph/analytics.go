package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/neksio/neksio/core/analytics"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/graph/model"
)

// ExportURLTTL is how long an analytics export's link works.
const ExportURLTTL = 15 * time.Minute

func analyticsRequest(rg model.AnalyticsRangeInput, f *model.AnalyticsFilterInput, businessHours *bool) analytics.Request {
	req := analytics.Request{Range: analytics.Range{From: rg.From, To: rg.To}}
	if rg.Timezone != nil {
		req.Range.Timezone = *rg.Timezone
	}
	if businessHours != nil {
		req.BusinessHours = *businessHours
	}
	if f != nil {
		req.Filter = analytics.Filter{ChannelIDs: f.ChannelIds, Platforms: f.Platforms, LabelIDs: f.LabelIds, AssigneeIDs: f.AssigneeIds}
		for _, k := range f.Kinds {
			req.Filter.Kinds = append(req.Filter.Kinds, string(k))
		}
	}
	return req
}

func (r *Resolver) openAnalytics(ctx context.Context, req analytics.Request) (*model.Analytics, error) {
	if r.deps.Analytics == nil {
		return nil, apperr.New(apperr.CodeUnavailable, "analytics are not configured")
	}
	rep, err := r.deps.Analytics.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &model.Analytics{From: req.Range.From, To: req.Range.To, Timezone: rep.Location().String(), Report: rep}, nil
}

// camel turns FIRST_RESPONSE_TIME_P90 into firstResponseTimeP90.
func camel(name string) string {
	parts := strings.Split(strings.ToLower(name), "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// summaryModel fills the summary type from the core's figures by name.
func summaryModel(s analytics.Summary) (*model.AnalyticsSummary, error) {
	m := map[string]*model.AnalyticsFigure{}
	for name, f := range s {
		m[camel(name)] = &model.AnalyticsFigure{Value: f.Value, Previous: f.Previous, Change: f.Change}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := &model.AnalyticsSummary{}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(out); err != nil {
		return nil, fmt.Errorf("analytics: summary: %w", err)
	}
	return out, nil
}

func seriesModel(ss []analytics.Series) []*model.AnalyticsSeries {
	out := make([]*model.AnalyticsSeries, len(ss))
	for i, s := range ss {
		ps := make([]*model.AnalyticsPoint, len(s.Points))
		for j, p := range s.Points {
			ps[j] = &model.AnalyticsPoint{Start: p.Start, End: p.End, Value: p.Value}
		}
		out[i] = &model.AnalyticsSeries{Metric: model.AnalyticsMetric(s.Metric), Points: ps}
	}
	return out
}

// exportAnalytics writes the CSV to the media store and returns its
// signed link. Audited: the figures leave the product.
func (r *Resolver) exportAnalytics(ctx context.Context, in model.ExportAnalyticsInput) (*model.AnalyticsExport, error) {
	if r.deps.Media == nil {
		return nil, apperr.New(apperr.CodeUnavailable, "the media store is not configured")
	}
	a, err := r.openAnalytics(ctx, analyticsRequest(*in.Range, in.Filter, in.BusinessHours))
	if err != nil {
		return nil, err
	}
	g := analytics.Day
	if in.Granularity != nil {
		g = analytics.Granularity(*in.Granularity)
	}
	var buf bytes.Buffer
	if err := a.Report.CSV(ctx, &buf, g); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("analytics-%s-%s.csv", a.From.In(a.Report.Location()).Format("2006-01-02"), a.To.In(a.Report.Location()).Format("2006-01-02"))
	id, err := r.deps.Media.StoreGenerated(ctx, name, "text/csv", "export", buf.Bytes())
	if err != nil {
		return nil, err
	}
	v := tenant.FromContext(ctx)
	if err := audit.RecordFor(ctx, r.deps.Store.Ent, v.WorkspaceID, v.Actor(), "analytics.export", "Media", string(id),
		map[string]string{"from": a.From.Format(time.RFC3339), "to": a.To.Format(time.RFC3339), "granularity": string(g)}); err != nil {
		return nil, err
	}
	url, exp := r.deps.Media.URLFor(id, ExportURLTTL)
	return &model.AnalyticsExport{URL: url, ExpiresAt: exp}, nil
}
