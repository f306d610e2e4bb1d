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

// FetchCooldown is River's client-wide FetchCooldown (River's default is
// 100 ms). River uses it twice:
//   - a queue fetches at most once per cooldown, so it starts at most
//     MaxWorkers jobs per cooldown, and a job inserted just after its
//     queue fetched waits for the next fetch;
//   - a client sends a queue's insert notification at most once per
//     cooldown (the client's value, whatever the queue's own): a job
//     inserted within the cooldown of the last notification sends none,
//     and waits until another insert notifies the queue or the queue
//     polls (every second).
//
// Every inbound message used to queue a sentiment job, which at 100 ms
// could not keep pace with ingest (docs/benchmarks.md, "Sentiment queue
// drain"). A reply goes through two queues, ai and outbound: in the agent
// benchmark (150 questions at 5/s), the agent's answer took 42–50 ms at
// p90 with 100 ms and 17–23 ms with 10 ms; at p99 a person's reply took
// 96–108 ms with 100 ms and 18–37 ms with 10 ms. With 10 ms on the reply
// queues alone, the client's notifications kept 100 ms, and one or two
// answers in 150 waited about 200 ms for the next question's notification
// (p99 214 and 221 ms in two of four runs; 24–36 ms in five runs with the
// client-wide value).
const FetchCooldown = 10 * time.Millisecond

// Configure sets the job timeout, rescue window and fetch cooldown of a
// River client on c.
func Configure(c *river.Config) *river.Config {
	c.JobTimeout = JobTimeout
	c.RescueStuckJobsAfter = RescueStuckJobsAfter
	c.FetchCooldown = FetchCooldown
	return c
}
