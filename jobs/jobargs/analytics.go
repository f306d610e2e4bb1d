package jobargs

import "github.com/riverqueue/river"

// AnalyticsRollup rolls every workspace's analytics facts up into hourly
// rows (core/analytics).
type AnalyticsRollup struct{}

// Kind implements river.JobArgs.
func (AnalyticsRollup) Kind() string { return "analytics.rollup" }

// InsertOpts keeps one pass queued or running at a time: a tick that
// comes while a pass runs adds none. (River requires the running state in
// a unique set: without it the periodic insert was refused every time,
// and the rollup never ran on its schedule.)
func (AnalyticsRollup) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 3, UniqueOpts: uniqueWhileQueued}
}
