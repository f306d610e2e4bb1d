package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/label"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/user"
)

// MaxRangeDays bounds a query's range.
const MaxRangeDays = 400

// Defaults of the rollup job.
const (
	// DefaultSettle keeps the hour before the current one out of the
	// rollups: late facts (sentiment set by its job, a platform's delayed
	// webhook) land in it for a while. The query reads it from the base
	// tables.
	DefaultSettle = time.Hour
	// DefaultLookback is how far back each pass rebuilds hours already
	// rolled, catching facts that arrived late (synced reviews, retried
	// deliveries). Older late facts need `neksio analytics rebuild`.
	DefaultLookback = 24 * time.Hour
	// rollChunk is how many hours one rollup transaction writes.
	rollChunk = 7 * 24 * time.Hour
)

// Service answers analytics queries and maintains the rollups.
type Service struct {
	Store *store.Store
	Log   *slog.Logger
	// Settle and Lookback tune the rollup job (defaults when zero).
	Settle   time.Duration
	Lookback time.Duration
	// NoRollups answers from the base tables only (tests, benchmarks).
	NoRollups bool
	Now       func() time.Time
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

// Range is a query's period: [From, To) and the time zone of its buckets.
type Range struct {
	From, To time.Time
	Timezone string
}

// Filter narrows the facts. Empty lists filter nothing.
type Filter struct {
	ChannelIDs  []pulid.ID
	Platforms   []string
	Kinds       []string
	LabelIDs    []pulid.ID
	AssigneeIDs []pulid.ID
}

// Request is one analytics query.
type Request struct {
	Range  Range
	Filter Filter
	// BusinessHours counts times (first response, reply, resolution)
	// only within the workspace's business hours.
	BusinessHours bool
}

// Report is a validated request bound to its viewer; its methods compute
// the parts of the answer.
type Report struct {
	s      *Service
	viewer *tenant.Viewer
	client *ent.Client
	req    Request
	loc    *time.Location
	// channels is the allowed channel set (nil: all).
	channels map[pulid.ID]bool
	kinds    map[string]bool
	// convs is the allowed conversation set when labels or assignees
	// filter (nil: all).
	convs     map[pulid.ID]bool
	empty     bool
	watermark time.Time
	hours     businessHours
	// base caches collected facts per window.
	base map[[2]int64][]Fact
}

// Open validates a request and applies the access rules: owners, admins
// and analysts read the workspace's figures; an agent reads only their
// own (the conversations assigned to them).
func (s *Service) Open(ctx context.Context, req Request) (*Report, error) {
	v, err := tenant.Require(ctx, tenant.RoleAnalyst)
	if err != nil {
		return nil, err
	}
	if v.Platform() || v.WorkspaceID == "" {
		return nil, apperr.Forbidden("analytics are read in a workspace")
	}
	r := &Report{s: s, viewer: v, client: s.Store.Ent, req: req, base: map[[2]int64][]Fact{}}
	rg := req.Range
	if rg.From.IsZero() || rg.To.IsZero() {
		return nil, apperr.Invalid("range", "from and to are required")
	}
	if !rg.To.After(rg.From) {
		return nil, apperr.Invalid("range.to", "to must be after from")
	}
	if rg.To.Sub(rg.From) > MaxRangeDays*24*time.Hour {
		return nil, apperr.Invalid("range", "the range is longer than %d days", MaxRangeDays)
	}
	tz := rg.Timezone
	if tz == "" {
		tz = "UTC"
	}
	if tz == "Local" || strings.HasPrefix(tz, "/") {
		return nil, apperr.Invalid("range.timezone", "unknown time zone %q: use an IANA name such as Europe/Berlin", tz)
	}
	if r.loc, err = time.LoadLocation(tz); err != nil {
		return nil, apperr.Invalid("range.timezone", "unknown time zone %q: use an IANA name such as Europe/Berlin", tz)
	}
	if v.Role == tenant.RoleAgent {
		if v.UserID == "" {
			return nil, apperr.Forbidden("an agent's key reads no analytics: agents see their own figures when signed in")
		}
		for _, id := range req.Filter.AssigneeIDs {
			if string(id) != v.UserID {
				return nil, apperr.Forbidden("agents read only their own figures")
			}
		}
		r.req.Filter.AssigneeIDs = []pulid.ID{pulid.ID(v.UserID)}
	}
	if err := r.resolveFilter(ctx); err != nil {
		return nil, err
	}
	if r.hours, err = loadBusinessHours(ctx, r.client); err != nil {
		return nil, err
	}
	if !s.NoRollups {
		wm, err := r.client.AnalyticsWatermark.Query().Only(ctx)
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("analytics: watermark: %w", err)
		default:
			r.watermark = time.Unix(wm.RolledUntil, 0).UTC()
		}
	}
	return r, nil
}

// resolveFilter checks every ID against the viewer's workspace (another
// workspace's ID is NOT_FOUND) and turns the filter into allowed sets.
func (r *Report) resolveFilter(ctx context.Context) error {
	f := r.req.Filter
	if len(f.ChannelIDs) > 0 || len(f.Platforms) > 0 {
		q := r.client.Channel.Query()
		if len(f.ChannelIDs) > 0 {
			ids := slices.Compact(slices.Sorted(slices.Values(f.ChannelIDs)))
			n, err := r.client.Channel.Query().Where(channel.IDIn(ids...)).Count(ctx)
			if err != nil {
				return fmt.Errorf("analytics: channels: %w", err)
			}
			if n != len(ids) {
				return apperr.NotFound("channel")
			}
			q.Where(channel.IDIn(ids...))
		}
		if len(f.Platforms) > 0 {
			ps := make([]string, len(f.Platforms))
			for i, p := range f.Platforms {
				ps[i] = strings.ToLower(strings.TrimSpace(p))
			}
			q.Where(channel.PlatformIn(ps...))
		}
		ids, err := q.IDs(ctx)
		if err != nil {
			return fmt.Errorf("analytics: channels: %w", err)
		}
		r.channels = map[pulid.ID]bool{}
		for _, id := range ids {
			r.channels[id] = true
		}
		r.empty = r.empty || len(ids) == 0
	}
	if len(f.Kinds) > 0 {
		r.kinds = map[string]bool{}
		for _, k := range f.Kinds {
			if err := conversation.KindValidator(conversation.Kind(k)); err != nil {
				return apperr.Invalid("filter.kinds", "unknown kind %q", k)
			}
			r.kinds[k] = true
		}
	}
	if len(f.LabelIDs) == 0 && len(f.AssigneeIDs) == 0 {
		return nil
	}
	q := r.client.Conversation.Query()
	if len(f.LabelIDs) > 0 {
		ids := slices.Compact(slices.Sorted(slices.Values(f.LabelIDs)))
		n, err := r.client.Label.Query().Where(label.IDIn(ids...)).Count(ctx)
		if err != nil {
			return fmt.Errorf("analytics: labels: %w", err)
		}
		if n != len(ids) {
			return apperr.NotFound("label")
		}
		q.Where(conversation.HasLabelsWith(label.IDIn(ids...)))
	}
	if len(f.AssigneeIDs) > 0 {
		ids := slices.Compact(slices.Sorted(slices.Values(f.AssigneeIDs)))
		// The user policy shows only members of the viewer's workspace.
		n, err := r.client.User.Query().Where(user.IDIn(ids...)).Count(ctx)
		if err != nil {
			return fmt.Errorf("analytics: assignees: %w", err)
		}
		if n != len(ids) {
			return apperr.NotFound("member")
		}
		q.Where(conversation.AssigneeIDIn(ids...))
	}
	ids, err := q.IDs(ctx)
	if err != nil {
		return fmt.Errorf("analytics: conversations: %w", err)
	}
	r.convs = map[pulid.ID]bool{}
	for _, id := range ids {
		r.convs[id] = true
	}
	return nil
}

// Location is the time zone of the report's buckets.
func (r *Report) Location() *time.Location { return r.loc }

// Range is the report's period.
func (r *Report) Range() Range { return r.req.Range }

// rollupsUsable reports whether the filter can be answered from rollups:
// labels and assignees change after the facts, so they filter the base
// tables.
func (r *Report) rollupsUsable() bool {
	return !r.s.NoRollups && r.convs == nil && !r.watermark.IsZero()
}
