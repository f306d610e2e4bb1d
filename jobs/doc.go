// Package jobs holds the River workers. They are thin: decode the job's
// arguments, bind a system viewer to the job's workspace, call core.
package jobs
