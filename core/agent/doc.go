// Package agent is the AI agent that answers customers from the
// workspace's knowledge base.
//
// Every new inbound message from a contact queues an ai.reply job (through
// the inbox's OnInbound hook, in the ingesting transaction). The job runs
// [Service.Run]: it reads the effective mode (the conversation's override,
// else the channel's AUTO, DRAFT or OFF), the workspace's [Settings], scores
// the message's sentiment, retrieves passages and asks the provider for a
// grounded answer, and lets [Decide] choose:
//
//   - SENT: AUTO mode and a supported answer: an outbound message (author
//     AI) and its delivery job, through inbox.SendReply like a human reply;
//   - DRAFTED: DRAFT mode: the answer waits as a DRAFT message until a
//     member approves (optionally edited) or discards it;
//   - HANDED_OFF: the customer asked for a human, sentiment is strongly
//     negative, the knowledge base does not support an answer above the
//     threshold, the platform's reply window is closed, or a human already
//     owns the conversation: nothing is sent and the conversation is opened
//     for a human with the reason;
//   - SKIPPED: the AI is off, or there is no text to answer.
//
// Each run is stored as an AgentRun, unique on the inbound message, so the
// agent acts at most once per message however often its job is retried.
package agent
