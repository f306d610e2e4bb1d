// Package analytics answers the admins' questions about a workspace:
// volumes, response and resolution times, what the AI did, sentiment,
// review ratings and publishing outcomes (docs/analytics.md).
//
// Every figure is derived from facts: one per event of the base tables
// (a conversation opened, a message in or out, a first response, a reply,
// a resolution, an agent run, a draft approved, a review, a post
// published), each with a time, a channel, a conversation kind, a metric,
// an optional dimension (a member, a handoff reason, a rating, a
// sentiment) and a value. collect derives the facts of a time window from
// the base tables; the analytics.rollup job stores them per hour in
// AnalyticsRollup (counts and sums, so averages are exact) and
// AnalyticsHistogram (durations per logarithmic bucket, for percentiles
// within 1%: sketch.go) and advances a watermark. A query
// reads rollups for the whole hours before the watermark and collects the
// rest (the tail since the last roll, partial hours at the range's ends)
// from the base tables, so answers are current and equal to what the base
// tables alone would give. Nothing here runs inside the webhook ingest
// transaction.
package analytics
