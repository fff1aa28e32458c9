// Package webhook tells the application's backend what happened to its
// workflows: signed HTTP POSTs ("outbound webhooks") of change events,
// debounced per workflow, and of lifecycle events (deleted, locked,
// unlocked, updated, reverted).
//
// The rooms report each batch of edits once it is durable (Notify); the
// Dispatcher gathers a workflow's edits until it has been quiet for
// Config.Quiet, or at the latest Config.MaxDelay after the first, then
// queues one event per URL in a bbolt file. Workers deliver the queue with
// exponential backoff and jitter, at least once: a record leaves the file
// only after a 2xx answer (or when its attempts or age run out), and every
// attempt of one event carries the same Flowsync-Event-Id, so a receiver
// drops duplicates by that id. The queue and the open debounce windows
// survive a restart.
//
// Requests are signed with HMAC-SHA256 over "<unix seconds>.<body>" (see
// Sign and Verify); the header scheme is in docs/ADMIN_API.md.
package webhook
