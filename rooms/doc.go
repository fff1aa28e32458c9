// Package rooms runs the live workflow documents of one server node: a
// Registry of rooms, one per workflow that has members, each owned by a
// single goroutine (a select loop in the style of etcd-raft's node.run).
//
// A room's goroutine is the only code that touches its document, its
// members and its presence state, so none of them has a mutex. It loads the
// document once however many sessions join at once (the first Join starts
// the room, whose first act is the load; later joins queue behind it),
// admits and merges deltas, prepares thin-client operations with a server
// clock, encodes each outbound frame once and hands the same bytes to every
// member's non-blocking Enqueue, closes members whose queue is full with
// the slow-consumer code, and sends deltas to the store in batches from a
// single in-flight writer (group commit), acking Durable when a batch
// commits. Idle rooms (no members, nothing waiting for the store) are
// evicted after Config.IdleTimeout.
//
// Sessions reach a room through the Member interface, which the
// sync/session package implements; nothing here knows about websockets.
// The application's backend (the admin API) is no member: it reaches a room
// through typed requests (Registry.Apply, View, SendEvent, Roster), which
// the loop handles like any other event.
//
// What this package must never do: block its loop on a member or on the
// store (enqueue is non-blocking; store calls run on their own goroutine),
// drop a delta silently (a member that cannot keep up is disconnected and
// resyncs), or change a document for a refused delta.
package rooms
