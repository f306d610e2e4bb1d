package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/analyticsduration"
	"github.com/neksio/neksio/ent/analyticsrollup"
	"github.com/neksio/neksio/ent/conversation"
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
			_, err := tx.Ent.AnalyticsDuration.Delete().Where(analyticsduration.Or(
				analyticsduration.HourLT(start.Unix()), analyticsduration.HourGTE(until.Unix()))).Exec(ctx)
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
			return setWatermark(ctx, tx.Ent, ws, until)
		})
		if err != nil {
			return res, err
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
	for _, f := range fs {
		k := key{f.At.Truncate(time.Hour).Unix(), f.ChannelID, f.Kind, f.Metric, f.Dim}
		c := sums[k]
		if c == nil {
			c = &cell{}
			sums[k] = c
			order = append(order, k)
		}
		c.add(f.Count, f.Sum, f.BusinessSum)
	}
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, "analytics:"+ws); err != nil {
			return err
		}
		if _, err := tx.Ent.AnalyticsRollup.Delete().Where(analyticsrollup.HourGTE(a.Unix()), analyticsrollup.HourLT(b.Unix())).Exec(ctx); err != nil {
			return fmt.Errorf("analytics: clearing rollups: %w", err)
		}
		if _, err := tx.Ent.AnalyticsDuration.Delete().Where(analyticsduration.HourGTE(a.Unix()), analyticsduration.HourLT(b.Unix())).Exec(ctx); err != nil {
			return fmt.Errorf("analytics: clearing durations: %w", err)
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
		var ds []*ent.AnalyticsDurationCreate
		for _, f := range fs {
			if !timed[f.Metric] {
				continue
			}
			ds = append(ds, tx.Ent.AnalyticsDuration.Create().SetWorkspaceID(wsID).SetHour(f.At.Truncate(time.Hour).Unix()).
				SetChannelID(f.ChannelID).SetKind(f.Kind).SetMetric(f.Metric).SetDim(f.Dim).
				SetSeconds(f.Sum).SetBusinessSeconds(f.BusinessSum))
			if len(ds) == batch {
				if err := tx.Ent.AnalyticsDuration.CreateBulk(ds...).Exec(ctx); err != nil {
					return fmt.Errorf("analytics: writing durations: %w", err)
				}
				ds = ds[:0]
			}
		}
		if len(ds) > 0 {
			if err := tx.Ent.AnalyticsDuration.CreateBulk(ds...).Exec(ctx); err != nil {
				return fmt.Errorf("analytics: writing durations: %w", err)
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

// firstFact is the time of the workspace's earliest fact: facts of
// conversations start with the conversation (messages imported with older
// times are caught by the earliest message), posts with their targets.
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
	m, err := client.Message.Query().Order(ent.Asc("sent_at")).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return first, fmt.Errorf("analytics: first message: %w", err)
	}
	if m != nil {
		earlier(m.SentAt)
	}
	t, err := client.PostTarget.Query().Order(ent.Asc(posttarget.FieldCreatedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return first, fmt.Errorf("analytics: first post: %w", err)
	}
	if t != nil {
		earlier(t.CreatedAt)
	}
	return first, nil
}
