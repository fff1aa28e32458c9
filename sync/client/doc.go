// Package client is a flowsync replica that a Go program embeds: the tests,
// benchmarks, load generator and fuzz harness of this repository, and Go
// users who edit a workflow next to a browser.
//
// A Client holds a local workflow document (crdt/workflow) and an outbox of
// the deltas it wrote that the server has not yet made durable. Apply edits
// the local document at once, whether or not a server is reachable; Run keeps
// a websocket session to the server (docs/PROTOCOL.md) alive: it says Hello,
// joins the workflow with the local causal context, merges the catch-up and
// every remote delta, resends every outbox entry not yet durable, and
// reconnects with capped exponential backoff and full jitter when the
// connection drops, until its context ends or the server closes with a
// terminal code.
//
// Guarantees: an edit is never dropped because a connection closed (the
// outbox keeps it until a Durable frame lists it, and merging makes resent
// duplicates harmless); deltas folded together before sending are folded by
// Merge, never by dropping one; presence and drag positions are ephemeral and
// never enter the document.
//
// What this package must never do: interpret or rewrite the CRDT (it only
// calls workflow.Doc's Prepare, Merge, Encode and Decode), write to the
// socket from more than one goroutine at a time, call a callback while
// holding its lock, or keep a goroutine alive after Run has returned.
//
// # Concurrency
//
// Every method is safe for concurrent use. Per connection there is one
// reader goroutine (the one that called Run) and one writer goroutine, which
// is the only code that writes data frames to the socket. The document, the
// outbox, the roster and the presence state are guarded by one mutex.
// Callbacks run without that lock held, on the reader goroutine (remote
// changes, roster, presence, drag, events, rejections) or on the goroutine
// that called Apply (local changes), so they may call any method of the
// Client, but they should return quickly: a slow callback stalls the reader.
//
// # Replica ids
//
// Config.ReplicaID names the replica whose dots (write ids) this client mints.
// It must be unique per device or installation, and it must never be reused
// with a different history: two clients that mint the same dot with
// different content corrupt the document for good. A program that does not
// persist its document between runs therefore needs a fresh replica id for
// every Client (a UUID is fine). A program that persists the document passes
// it back as Config.Doc and may keep its replica id. The server binds the
// replica id to the session (Hello.rid) and refuses dots of any other replica
// with FORGED_DOT.
package client
