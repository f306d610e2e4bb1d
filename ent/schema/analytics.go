package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// AnalyticsRollup is one hourly counter of core/analytics: the facts of
// one metric (and one value of its dimension: a member, a handoff reason,
// a rating) in one hour of one channel and conversation kind. Rows are
// derived from the base tables by the analytics.rollup job and can be
// rebuilt from them at any time (`neksio analytics rebuild`).
type AnalyticsRollup struct{ ent.Schema }

func (AnalyticsRollup) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("arl"), TenantMixin{}}
}

func (AnalyticsRollup) Fields() []ent.Field {
	return []ent.Field{
		// Hour is the start of the hour in Unix seconds (UTC): an integer
		// groups and compares the same on every engine.
		field.Int64("hour").Immutable(),
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		field.String("kind").Immutable(),
		field.String("metric").Immutable(),
		field.String("dim").Default("").Immutable(),
		field.Int64("count").Default(0).Immutable(),
		// Sum and BusinessSum add up the facts' values (seconds for times,
		// the rating for reviews, micro-units for sentiment scores).
		field.Int64("sum").Default(0).Immutable(),
		field.Int64("business_sum").Default(0).Immutable(),
	}
}

func (AnalyticsRollup) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "metric", "hour")}
}

func (AnalyticsRollup) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// AnalyticsDuration is one timed fact (a first response, a reply, a
// resolution) of a rolled-up hour, kept one row each so medians and 90th
// percentiles are exact. Bounded by the events it counts: at most one first
// response and one resolution per conversation and resolution, one reply
// per answered customer message.
type AnalyticsDuration struct{ ent.Schema }

func (AnalyticsDuration) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("adu"), TenantMixin{}}
}

func (AnalyticsDuration) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("hour").Immutable(),
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		field.String("kind").Immutable(),
		field.String("metric").Immutable(),
		field.String("dim").Default("").Immutable(),
		field.Int64("seconds").Immutable(),
		field.Int64("business_seconds").Immutable(),
	}
}

func (AnalyticsDuration) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "metric", "hour")}
}

func (AnalyticsDuration) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// AnalyticsWatermark says up to where a workspace's rollups are complete:
// hours before RolledUntil are read from rollups, later ones from the
// base tables.
type AnalyticsWatermark struct{ ent.Schema }

func (AnalyticsWatermark) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("awm"), TimeMixin{}, TenantMixin{}}
}

func (AnalyticsWatermark) Fields() []ent.Field {
	return []ent.Field{
		// RolledUntil is an hour boundary in Unix seconds.
		field.Int64("rolled_until").Default(0),
	}
}

func (AnalyticsWatermark) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id").Unique().StorageKey("analyticswatermark_workspace_unique")}
}

func (AnalyticsWatermark) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
