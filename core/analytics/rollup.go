package analytics

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/agentrun"
	"github.com/neksio/neksio/ent/analyticshistogram"
	"github.com/neksio/neksio/ent/analyticsrollup"
	"github.com/neksio/neksio/ent/auditlog"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// RollResult says what a pass did.
type RollResult struct {
	From, To time.Time
	Rows     int
	Facts    int
}

func (s *Service) settle() time.Duration {
	if s.Settle > 0 {
		return s.Settle
	}
	return DefaultSettle
}

func (s *Service) lookback() time.Duration {
	if s.Lookback > 0 {
		return s.Lookback
	}
	return DefaultLookback
}

// RollAll rolls every workspace up (the periodic job).
func (s *Service) RollAll(ctx context.Context) error {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("analytics.rollup"))
	ids, err := s.Store.Ent.Workspace.Query().IDs(pctx)
	if err != nil {
		return fmt.Errorf("analytics: listing workspaces: %w", err)
	}
	for _, id := range ids {
		if _, err := s.Roll(ctx, string(id), false); err != nil {
			return err
		}
	}
	return nil
}

// RebuildAll rebuilds every workspace's rollups (`neksio analytics
// rebuild` without a workspace).
func (s *Service) RebuildAll(ctx context.Context) ([]RollResult, error) {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("analytics.rebuild"))
	ids, err := s.Store.Ent.Workspace.Query().IDs(pctx)
	if err != nil {
		return nil, fmt.Errorf("analytics: listing workspaces: %w", err)
	}
	var out []RollResult
	for _, id := range ids {
		res, err := s.Roll(ctx, string(id), true)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// Roll brings a workspace's rollups up to the hour before the settle
// time: hours since the watermark, plus the lookback before it for late
// facts. rebuild recomputes everything from the first fact. Each chunk of
// hours is replaced in one transaction, so readers see either the old or
// the new rows of an hour, never a mix.
func (s *Service) Roll(ctx context.Context, ws string, rebuild bool) (RollResult, error) {
	ctx = tenant.NewContext(ctx, tenant.System(ws, "analytics.rollup"))
	client := s.Store.Ent
	until := s.now().Add(-s.settle()).Truncate(time.Hour)
	var start time.Time
	wm, err := client.AnalyticsWatermark.Query().Only(ctx)
	switch {
	case ent.IsNotFound(err):
		rebuild = true
	case err != nil:
		return RollResult{}, fmt.Errorf("analytics: watermark: %w", err)
	}
	if rebuild {
		if start, err = firstFact(ctx, client); err != nil {
			return RollResult{}, err
		}
		if start.IsZero() {
			start = until
		}
	} else {
		start = time.Unix(wm.RolledUntil, 0).UTC().Add(-s.lookback())
	}
	start = start.Truncate(time.Hour)
	res := RollResult{From: start, To: until}
	hours, err := loadBusinessHours(ctx, client)
	if err != nil {
		return res, err
	}
	if rebuild {
		// Rows outside the rebuilt span (facts since deleted) go too.
		err := s.Store.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Ent.AnalyticsRollup.Delete().Where(analyticsrollup.Or(
				analyticsrollup.HourLT(start.Unix()), analyticsrollup.HourGTE(until.Unix()))).Exec(ctx); err != nil {
				return err
			}
			_, err := tx.Ent.AnalyticsHistogram.Delete().Where(analyticshistogram.Or(
				analyticshistogram.HourLT(start.Unix()), analyticshistogram.HourGTE(until.Unix()))).Exec(ctx)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("analytics: clearing rollups: %w", err)
		}
	}
	for a := start; a.Before(until); a = a.Add(rollChunk) {
		b := minTime(a.Add(rollChunk), until)
		fs, err := collect(ctx, client, hours, a, b)
		if err != nil {
			return res, err
		}
		res.Facts += len(fs)
		n, err := s.replace(ctx, ws, a, b, fs)
		if err != nil {
			return res, err
		}
		res.Rows += n
	}
	if rebuild || start.Before(until) || wm == nil {
		err := s.Store.InTx(ctx, func(tx *store.Tx) error {
			// replace's lock: two passes at once (the periodic job and
			// `neksio analytics rebuild`) would otherwise both find no
			// watermark and both create one, and the second would fail.
			if err := tx.Lock(ctx, "analytics:"+ws); err != nil {
				return err
			}
			return setWatermark(ctx, tx.Ent, ws, until)
		})
		if err != nil {
			return res, err
		}
	}
	if rebuild && s.Store.Dialect == dialect.Postgres {
		// A rebuild replaces most rows at once: fresh statistics let the
		// planner read a range's rows through the (metric, hour) index
		// instead of guessing from the empty table it last saw.
		if _, err := s.Store.DB.ExecContext(ctx, "ANALYZE analytics_rollups, analytics_histograms"); err != nil {
			return res, fmt.Errorf("analytics: analyze: %w", err)
		}
	}
	s.log().Debug("analytics: rolled up", "workspace", ws, "from", res.From, "to", res.To, "rows", res.Rows)
	return res, nil
}

// replace swaps the rollup rows of [a, b) for the facts' and advances the
// watermark to b when it is behind.
func (s *Service) replace(ctx context.Context, ws string, a, b time.Time, fs []Fact) (int, error) {
	type key struct {
		hour              int64
		channel           pulid.ID
		kind, metric, dim string
	}
	sums := map[key]*cell{}
	var order []key
	type hkey struct {
		hour         int64
		channel      pulid.ID
		kind, metric string
		business     bool
		bucket       int64
	}
	hist := map[hkey]bin{}
	var horder []hkey
	count := func(k hkey, v int64) {
		if _, ok := hist[k]; !ok {
			horder = append(horder, k)
		}
		hist[k] = hist[k].merge(bin{1, v, v})
	}
	for _, f := range fs {
		hour := f.At.Truncate(time.Hour).Unix()
		k := key{hour, f.ChannelID, f.Kind, f.Metric, f.Dim}
		c := sums[k]
		if c == nil {
			c = &cell{}
			sums[k] = c
			order = append(order, k)
		}
		c.add(f.Count, f.Sum, f.BusinessSum)
		if timed[f.Metric] {
			count(hkey{hour, f.ChannelID, f.Kind, f.Metric, false, bucketOf(f.Sum)}, f.Sum)
			count(hkey{hour, f.ChannelID, f.Kind, f.Metric, true, bucketOf(f.BusinessSum)}, f.BusinessSum)
		}
	}
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, "analytics:"+ws); err != nil {
			return err
		}
		if _, err := tx.Ent.AnalyticsRollup.Delete().Where(analyticsrollup.HourGTE(a.Unix()), analyticsrollup.HourLT(b.Unix())).Exec(ctx); err != nil {
			return fmt.Errorf("analytics: clearing rollups: %w", err)
		}
		if _, err := tx.Ent.AnalyticsHistogram.Delete().Where(analyticshistogram.HourGTE(a.Unix()), analyticshistogram.HourLT(b.Unix())).Exec(ctx); err != nil {
			return fmt.Errorf("analytics: clearing histograms: %w", err)
		}
		wsID := pulid.ID(ws)
		const batch = 500
		var rows []*ent.AnalyticsRollupCreate
		flush := func() error {
			if len(rows) == 0 {
				return nil
			}
			err := tx.Ent.AnalyticsRollup.CreateBulk(rows...).Exec(ctx)
			rows = rows[:0]
			return err
		}
		for _, k := range order {
			c := sums[k]
			rows = append(rows, tx.Ent.AnalyticsRollup.Create().SetWorkspaceID(wsID).SetHour(k.hour).SetChannelID(k.channel).
				SetKind(k.kind).SetMetric(k.metric).SetDim(k.dim).SetCount(c.Count).SetSum(c.Sum).SetBusinessSum(c.BSum))
			if len(rows) == batch {
				if err := flush(); err != nil {
					return fmt.Errorf("analytics: writing rollups: %w", err)
				}
			}
		}
		if err := flush(); err != nil {
			return fmt.Errorf("analytics: writing rollups: %w", err)
		}
		var hs []*ent.AnalyticsHistogramCreate
		for _, k := range horder {
			hs = append(hs, tx.Ent.AnalyticsHistogram.Create().SetWorkspaceID(wsID).SetHour(k.hour).SetChannelID(k.channel).
				SetKind(k.kind).SetMetric(k.metric).SetBusiness(k.business).SetBucket(k.bucket).
				SetCount(hist[k].n).SetMinValue(hist[k].lo).SetMaxValue(hist[k].hi))
			if len(hs) == batch {
				if err := tx.Ent.AnalyticsHistogram.CreateBulk(hs...).Exec(ctx); err != nil {
					return fmt.Errorf("analytics: writing histograms: %w", err)
				}
				hs = hs[:0]
			}
		}
		if len(hs) > 0 {
			if err := tx.Ent.AnalyticsHistogram.CreateBulk(hs...).Exec(ctx); err != nil {
				return fmt.Errorf("analytics: writing histograms: %w", err)
			}
		}
		return nil
	})
	return len(order), err
}

// setWatermark records that hours before t are rolled up.
func setWatermark(ctx context.Context, client *ent.Client, ws string, t time.Time) error {
	n, err := client.AnalyticsWatermark.Update().SetRolledUntil(t.Unix()).Save(ctx)
	if err != nil {
		return fmt.Errorf("analytics: watermark: %w", err)
	}
	if n == 0 {
		if err := client.AnalyticsWatermark.Create().SetWorkspaceID(pulid.ID(ws)).SetRolledUntil(t.Unix()).Exec(ctx); err != nil {
			return fmt.Errorf("analytics: watermark: %w", err)
		}
	}
	return nil
}

// firstFact is the time of the workspace's earliest fact, so a rebuild
// starts at it and the hours before it are empty for rollups and base
// tables alike. Each kind of fact is asked for its own time: conversations
// by their start (messages imported with older times by the earliest
// message), agent runs and audited actions by theirs, and post targets by
// when they were published or failed, which is not when the target was
// created (a post planned after the first conversation may be backdated
// by its platform, a failed target counts at its last attempt).
func firstFact(ctx context.Context, client *ent.Client) (time.Time, error) {
	var first time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	c, err := client.Conversation.Query().Order(ent.Asc(conversation.FieldCreatedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return first, fmt.Errorf("analytics: first conversation: %w", err)
	}
	if c != nil {
		earlier(c.CreatedAt)
	}
	m, err := client.Message.Query().Order(ent.Asc(message.FieldSentAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return first, fmt.Errorf("analytics: first message: %w", err)
	}
	if m != nil {
		earlier(m.SentAt)
	}
	run, err := client.AgentRun.Query().Order(ent.Asc(agentrun.FieldCreatedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return first, fmt.Errorf("analytics: first agent run: %w", err)
	}
	if run != nil {
		earlier(run.CreatedAt)
	}
	l, err := client.AuditLog.Query().Where(auditlog.ActionIn(actionResolve, actionApprove, actionDiscard)).
		Order(ent.Asc(auditlog.FieldCreatedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return first, fmt.Errorf("analytics: first audited action: %w", err)
	}
	if l != nil {
		earlier(l.CreatedAt)
	}
	p, err := client.PostTarget.Query().Where(posttarget.StatusEQ(posttarget.StatusPublished), posttarget.PublishedAtNotNil()).
		Order(ent.Asc(posttarget.FieldPublishedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return first, fmt.Errorf("analytics: first published post: %w", err)
	}
	if p != nil {
		earlier(*p.PublishedAt)
	}
	p, err = client.PostTarget.Query().Where(posttarget.StatusEQ(posttarget.StatusFailed), posttarget.FailedAtNotNil()).
		Order(ent.Asc(posttarget.FieldFailedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return first, fmt.Errorf("analytics: first failed post: %w", err)
	}
	if p != nil {
		earlier(*p.FailedAt)
	}
	return first, nil
}
