package jobargs

import (
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// AnalyticsRollup rolls every workspace's analytics facts up into hourly
// rows (core/analytics).
type AnalyticsRollup struct{}

// Kind implements river.JobArgs.
func (AnalyticsRollup) Kind() string { return "analytics.rollup" }

// InsertOpts keeps one pass queued at a time.
func (AnalyticsRollup) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled, rivertype.JobStateRetryable}}}
}
