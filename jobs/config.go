package jobs

import (
	"time"

	"github.com/riverqueue/river"
)

// How long jobs may run, and when a job whose process died is taken up
// again.
const (
	// JobTimeout is the timeout of workers that set none of their own.
	JobTimeout = 30 * time.Second
	// OutboundTimeout bounds one delivery run (see OutboundWorker.Timeout).
	OutboundTimeout = 20 * time.Second
	// RescueStuckJobsAfter: a job still marked running this long after it
	// started lost its process (kill -9, a crash, a lost machine) and runs
	// again. River looks every 30 seconds, so an interrupted delivery
	// resumes within about a minute (River's default waits an hour). A kind
	// whose Timeout is longer (indexing, the agent, sync) is left alone
	// until that has passed too, so no job is ever run twice at once.
	RescueStuckJobsAfter = 30 * time.Second
)

// Configure sets the job timeout and rescue window of a worker process on c.
func Configure(c *river.Config) *river.Config {
	c.JobTimeout = JobTimeout
	c.RescueStuckJobsAfter = RescueStuckJobsAfter
	return c
}
