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

// AnalyticsHistogram is one bucket of the durations of a rolled-up hour:
// how many timed facts (first responses, replies, resolutions) of one
// channel, conversation kind and metric fell into one logarithmic bucket
// of seconds, with the least and greatest of them (core/analytics
// sketch.go; Business: the times within
// business hours). Percentiles merge the buckets of the range's hours, so
// they cost O(hours), not O(facts), within a documented 1% of the exact
// value (docs/analytics.md, Percentiles).
type AnalyticsHistogram struct{ ent.Schema }

func (AnalyticsHistogram) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ahg"), TenantMixin{}}
}

func (AnalyticsHistogram) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("hour").Immutable(),
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		field.String("kind").Immutable(),
		field.String("metric").Immutable(),
		field.Bool("business").Default(false).Immutable(),
		field.Int64("bucket").Immutable(),
		field.Int64("count").Immutable(),
		// The least and greatest duration in the bucket: a bucket holding
		// one distinct value reads exactly that value.
		field.Int64("min_value").Immutable(),
		field.Int64("max_value").Immutable(),
	}
}

func (AnalyticsHistogram) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "metric", "business", "hour")}
}

func (AnalyticsHistogram) Annotations() []schema.Annotation {
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
