// Package event carries change events from the transaction that made a
// change to the subscriptions that follow it.
//
// An event names what changed (type, workspace, object, conversation,
// channel), never its content: a subscriber re-reads the object through its
// own tenant policy before sending anything, so an event can never leak
// data across workspaces or roles.
//
// Events are recorded in the writing transaction (store.Tx.Emit) and reach
// subscribers only if it commits:
//
//   - SQLite (one process): after commit the store publishes them on the
//     in-process Bus.
//   - PostgreSQL (many replicas): the store also inserts them into the
//     outbox (OutboxTable) inside the transaction, so they exist exactly
//     when it commits, and after the commit wakes the other replicas with
//     a notification on Channel (throttled, sent by a goroutine of its
//     own: not in the transaction, where PostgreSQL would serialise every
//     notifying commit). Every API replica runs a Listener on a dedicated
//     connection that, on a wake-up and every PollInterval, reads the
//     transactions committed since its last read (by snapshot: each once,
//     whatever the commit order) and republishes their events on its
//     local Bus. A row carries the sending store's Origin, so the replica
//     that made the change (which already published locally) does not
//     publish it twice.
//
// The Bus never blocks a publisher. Each subscription has a bounded
// buffer; when it is full the subscription is ended with ErrOverflow and
// the subscriber is told (a slow consumer loses its subscription, never
// anybody else's events). When a Listener loses its connection it ends
// every subscription with ErrResync, once when the connection drops and
// once when it is listening again, because events may have been missed in
// between: clients reconnect and refetch.
package event
