// Package jobargs holds the arguments of every River job and nothing
// else, so core can insert jobs without importing the workers.
package jobargs

import (
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

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

// SentimentAnalyze scores an inbound message's sentiment (MessageID set:
// an edited message, and jobs queued before conversations were batched),
// or every inbound message of a conversation that has no score yet
// (ConversationID only: new messages queue one per conversation, not one
// each; see core/sentiment and SentimentConversationOpts).
type SentimentAnalyze struct {
	WorkspaceID    string `json:"workspace_id" river:"unique"`
	MessageID      string `json:"message_id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty" river:"unique"`
}

// SentimentConversationOpts are the insert options of a conversation's
// sentiment job: one waits per conversation at a time (a message arriving
// while one waits or runs adds none: the worker reads the conversation's
// unscored messages under the row lock the ingesting transaction holds,
// and completes its job in its own transaction). retryable is left out,
// so a failing job never stops new ones.
func SentimentConversationOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: QueueSentiment, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRunning, rivertype.JobStateScheduled},
	}}
}

// Kind implements river.JobArgs.
func (SentimentAnalyze) Kind() string { return "sentiment.analyze" }

// InsertOpts puts agent runs on the AI queue, where a slow model only
// holds up other AI work.
func (AIReply) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueAI, MaxAttempts: 8}
}

// InsertOpts puts sentiment on its own queue.
func (SentimentAnalyze) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSentiment, MaxAttempts: 5}
}

// KBIndex (re)indexes a knowledge document at a version, or removes a
// deleted document's vectors.
type KBIndex struct {
	WorkspaceID string `json:"workspace_id"`
	DocumentID  string `json:"document_id"`
	// Version the job was queued for; a job for an older version does
	// nothing.
	Version int `json:"version"`
	// The embedding space of a deleted document's vectors.
	DeletedModel     string `json:"deleted_model,omitempty"`
	DeletedDimension int    `json:"deleted_dimension,omitempty"`
}

// Kind implements river.JobArgs.
func (KBIndex) Kind() string { return "kb.index" }

// InsertOpts keeps indexing off the AI queue so a large upload never
// delays a customer's answer.
func (KBIndex) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 10}
}

// ChannelRefreshTokens refreshes channel tokens that expire soon. It runs
// periodically; one pass covers every workspace.
type ChannelRefreshTokens struct{}

// Kind implements river.JobArgs.
func (ChannelRefreshTokens) Kind() string { return "channel.refresh_tokens" }

// InsertOpts keeps a single pass queued at a time.
func (ChannelRefreshTokens) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}

// ChannelSync pulls what platforms do not push, for every channel whose
// connector offers Sync. It runs periodically.
type ChannelSync struct{}

// Kind implements river.JobArgs.
func (ChannelSync) Kind() string { return "channel.sync" }

// InsertOpts keeps a single pass queued at a time.
func (ChannelSync) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}

// QueuePublish holds publishing jobs, so a burst of scheduled posts never
// holds up replies.
const QueuePublish = "publish"

// PostPublish publishes one post target (core/publish). Generation is
// the target's at queueing time: a job of an older generation
// (unscheduled, rescheduled, retried since) does nothing.
type PostPublish struct {
	WorkspaceID string `json:"workspace_id"`
	TargetID    string `json:"target_id"`
	Generation  int    `json:"generation"`
}

// Kind implements river.JobArgs.
func (PostPublish) Kind() string { return "post.publish" }

// InsertOpts: unique per target and generation, on the publish queue.
// Retries are bounded; each retry first asks the platform whether an
// interrupted call already published (core/publish).
func (PostPublish) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePublish, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// PostStatus polls a target whose platform publishes asynchronously
// (Instagram containers, TikTok) until it is published or failed.
type PostStatus struct {
	WorkspaceID string `json:"workspace_id"`
	TargetID    string `json:"target_id"`
	Generation  int    `json:"generation"`
	ExternalID  string `json:"external_id"`
}

// Kind implements river.JobArgs.
func (PostStatus) Kind() string { return "post.status" }

// InsertOpts: unique per target, generation and platform id; 12 checks
// backing off (about two hours) before the target fails.
func (PostStatus) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePublish, MaxAttempts: 12, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ChannelSyncChannel runs a sync pass for one channel: right after it is
// connected (its backfill), and when a platform notification does not say
// which item changed.
type ChannelSyncChannel struct {
	WorkspaceID string `json:"workspace_id"`
	ChannelID   string `json:"channel_id"`
}

// Kind implements river.JobArgs.
func (ChannelSyncChannel) Kind() string { return "channel.sync_channel" }

// InsertOpts keeps one pass per channel queued or running at a time (a
// burst of notifications asks for one); a finished pass does not block
// the next.
func (ChannelSyncChannel) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 8, UniqueOpts: uniqueWhileQueued}
}

// uniqueWhileQueued keeps one job per arguments queued or running at a
// time; a finished one does not block the next.
var uniqueWhileQueued = river.UniqueOpts{ByArgs: true,
	ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateScheduled, rivertype.JobStateRetryable}}

// ContactLookup reads a contact's profile through its channel's connector
// (a Messenger or Instagram DM carries no name).
type ContactLookup struct {
	WorkspaceID string `json:"workspace_id"`
	ContactID   string `json:"contact_id"`
}

// Kind implements river.JobArgs.
func (ContactLookup) Kind() string { return "contact.lookup" }

// InsertOpts: one lookup per contact at a time; a burst of messages asks
// for one.
func (ContactLookup) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 5, UniqueOpts: uniqueWhileQueued}
}

// ConversationLookup reads a comment thread's context (its post's text,
// permalink and picture) through its channel's connector.
type ConversationLookup struct {
	WorkspaceID    string `json:"workspace_id"`
	ConversationID string `json:"conversation_id"`
}

// Kind implements river.JobArgs.
func (ConversationLookup) Kind() string { return "conversation.lookup" }

// InsertOpts: one lookup per conversation at a time.
func (ConversationLookup) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 5, UniqueOpts: uniqueWhileQueued}
}

// ChannelPruneAuthorizations deletes expired OAuth authorizations and
// their grants. It runs periodically; one pass covers every workspace.
type ChannelPruneAuthorizations struct{}

// Kind implements river.JobArgs.
func (ChannelPruneAuthorizations) Kind() string { return "channel.prune_authorizations" }

// InsertOpts keeps a single pass queued at a time.
func (ChannelPruneAuthorizations) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}

// MediaFetch downloads one attachment of an inbound message through its
// channel's connector into the media store.
type MediaFetch struct {
	WorkspaceID string `json:"workspace_id"`
	MessageID   string `json:"message_id"`
	Index       int    `json:"index"`
}

// Kind implements river.JobArgs.
func (MediaFetch) Kind() string { return "media.fetch" }

// InsertOpts: one fetch per attachment at a time; a bounded number of
// runs (backing off over about ten minutes) before the attachment is
// marked failed.
func (MediaFetch) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 8, UniqueOpts: uniqueWhileQueued}
}

// ExportBuild writes one export archive (core/privacy).
type ExportBuild struct {
	WorkspaceID string `json:"workspace_id"`
	ExportID    string `json:"export_id"`
}

// Kind implements river.JobArgs.
func (ExportBuild) Kind() string { return "export.build" }

// InsertOpts: a few attempts, then the export is marked failed.
func (ExportBuild) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 3}
}

// WorkspacePurge removes a deleted workspace once its grace period has
// ended (scheduled by deleteWorkspace; a restored workspace is left alone).
type WorkspacePurge struct {
	WorkspaceID string `json:"workspace_id"`
}

// Kind implements river.JobArgs.
func (WorkspacePurge) Kind() string { return "workspace.purge" }

// InsertOpts of WorkspacePurge.
func (WorkspacePurge) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 10}
}

// PrivacySweep runs periodically: it purges what retention settings say
// is too old, in bounded batches, expires export archives after seven
// days, and purges deleted workspaces whose grace period has ended.
type PrivacySweep struct{}

// Kind implements river.JobArgs.
func (PrivacySweep) Kind() string { return "privacy.sweep" }

// InsertOpts keeps a single sweep queued at a time.
func (PrivacySweep) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}
