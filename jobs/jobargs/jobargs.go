// Package jobargs holds the arguments of every River job and nothing
// else, so core can insert jobs without importing the workers.
package jobargs

import "github.com/riverqueue/river"

// Queue names.
const (
	QueueOutbound  = "outbound"
	QueueAI        = "ai"
	QueueSentiment = "sentiment"
	QueueDefault   = "default"
)

// OutboundDeliver sends a stored outbound message through its connector.
type OutboundDeliver struct {
	WorkspaceID string `json:"workspace_id"`
	MessageID   string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (OutboundDeliver) Kind() string { return "outbound.deliver" }

// InsertOpts puts deliveries on their own queue, so slow AI jobs never
// hold up a human's reply.
func (OutboundDeliver) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueOutbound, MaxAttempts: 12}
}

// AIReply runs the agent on an inbound message.
type AIReply struct {
	WorkspaceID string `json:"workspace_id"`
	MessageID   string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (AIReply) Kind() string { return "ai.reply" }

// SentimentAnalyze scores an inbound message's sentiment.
type SentimentAnalyze struct {
	WorkspaceID string `json:"workspace_id"`
	MessageID   string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (SentimentAnalyze) Kind() string { return "sentiment.analyze" }
