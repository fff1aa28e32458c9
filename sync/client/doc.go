// Package client is a flowsync replica that a Go program embeds: the tests,
// benchmarks, load generator and fuzz harness of this repository, and Go
// users who edit a workflow next to a browser.
//
// A Client holds a local workflow document (crdt/workflow) and an outbox of
// the edits it wrote that the server has not yet made durable, one entry per
// edit. Apply edits the local document at once, whether or not a server is
// reachable; Run keeps a websocket session to the server (docs/PROTOCOL.md)
// alive: it says Hello, joins the workflow with the local causal context,
// merges the catch-up and every remote delta, sends what the server lacks of
// its own writes, resends every outbox entry not yet durable, and reconnects
// with capped exponential backoff and full jitter when the connection drops,
// until its context ends, the workflow is deleted, or the server closes with
// a terminal code.
//
// Guarantees: an edit is never dropped because a connection closed (the
// outbox keeps it until a Durable frame lists it, and merging makes resent
// duplicates harmless); edits folded together before sending are folded by
// Merge, never by dropping one, and a folded frame the server refuses for
// good is resent one edit per frame, so that a refusal names one edit; an
// edit refused for good is reported (Config.OnReject, Status.Rejected,
// Rejected) and the status never says "saved" while one is kept; another
// session's edit received with a receipt is kept until the server says it is
// durable, and handed back to a server that lost it (within the bound of
// Receipts); presence and drag positions are ephemeral and never enter the
// document.
//
// What this package must never do: interpret or rewrite the CRDT (it only
// calls workflow.Doc's Prepare, Merge, DeltaSince-like helpers (WritesSince),
// Remint, Encode and Decode); send an edit before it is stored when
// Config.Dir is set; hand back a delta other than byte for byte as received
// (the receipt covers those bytes); write to the socket from more than one goroutine at a
// time; call a callback while holding its locks; or keep a goroutine alive
// after Run has returned.
//
// # Persistence
//
// With Config.Dir the client keeps its document, replica id, outbox (with op
// ids), refused edits, kept deltas of other sessions (see Receipts) and
// deleted state in a bbolt file in that directory
// (DiskFileName). Apply returns only once its edit is committed there (one
// fsynced transaction, under a millisecond on an idle local disk;
// concurrent Applies share commits), and the writer sends only stored edits,
// so an edit Apply accepted survives kill -9 and the next Client that opens
// the directory sends it. Remote deltas, kept deltas and Durable acks are
// written with the next commit (or once 64 wait, when a catch-up completes,
// when a connection ends, at Close); losing them costs a larger catch-up or
// a duplicate re-send, never an edit of this client (a kept delta lost so
// is one fewer copy of another client's edit to hand back). Only one Client may hold a directory: New fails with ErrDirLocked,
// naming the process that holds it.
//
// Without Config.Dir, a program may save Client.Doc and pass it back as
// Config.Doc with the same replica id: after each join the client sends the
// writes of its replica that the server's context lacks (the catch-up in the
// other direction), so edits made offline before the save are not lost. It
// cannot tell which of them the server refused before, or which it holds
// under other content; Config.Dir can.
//
// # Receipts
//
// A server relays an edit before it has stored it; if it crashes in
// between, or the client moves to a node that never heard the edit, only
// the clients that received it still hold it. So the client keeps every
// RemoteDelta that carries a receipt (the server's MAC over the exact
// bytes), and the catch-up of a join whose durable mark lags
// (Joined.stable below Joined.seq), with the room's epoch and the frame's
// relay sequence, until the server says it is durable: a Stable frame, or
// a Joined of the same epoch whose mark covers it. After a Joined of
// another epoch it drops the kept deltas that Joined.ctx covers and hands
// the others back, oldest first, each in a Vouch frame with a fresh op id,
// before it resends its outbox (its own edits may build on them); the
// Vouch's Durable or a final Nack (BAD_RECEIPT: a key rotated out, or a
// node of another deployment) drops the delta, a retryable Nack resends it
// after backoff. At most 8,192 deltas or 16 MiB are kept, oldest dropped
// first: past that bound a crash can lose another user's edit that was
// never stored. Client.Receipts reports the counts. With Config.Dir the
// kept deltas are stored with the document, so a restarted client hands
// them back too. The client also keeps its own last 4,096 (8 MiB of)
// durable deltas and re-sends those Joined.ctx lacks: a node can store an
// edit and die before its peers hear of it.
//
// # Replica ids
//
// Config.ReplicaID names the replica whose dots (write ids) this client mints.
// It must be unique per device or installation: two live clients that mint
// the same dot with different content corrupt the document for good. The
// server binds the replica id to the session (Hello.rid) and refuses dots of
// any other replica with FORGED_DOT. An id reused after its local state was
// lost (no persistence, a restored backup, a stale saved document) is
// detected at the join, by the server (Error REPLICA_BEHIND) or by the
// client (Joined.ctx holds a counter of the id beyond what the client loaded
// or sent): the client then switches to a new replica id (a UUID), re-mints
// its unsent edits under it (workflow.Doc.Remint), stores that, and joins
// again. ReplicaID reports the id in use; with Config.Dir the directory keeps
// it, and a fresh directory without Config.ReplicaID starts with a UUID.
//
// # Deleted workflows
//
// When the workflow is deleted (a workflow-deleted Event, a Join refused
// with WORKFLOW_DELETED after an offline spell, close 4503), the client
// enters StateDeleted: it drops the outbox (and the stored one), Apply
// returns ErrWorkflowDeleted, OnEvent receives a workflow-deleted Event, and
// Run returns an error wrapping ErrWorkflowDeleted. With Config.Dir the
// deletion is stored, and a later Run returns at once without dialing.
//
// # Concurrency
//
// Every method is safe for concurrent use. Per connection there is one
// reader goroutine (the one that called Run) and one writer goroutine, which
// is the only code that writes data frames to the socket. The document, the
// outbox, the roster and the presence state are guarded by one mutex; edits
// that mint dots (Apply, Reset, a replica reset) are serialized by another,
// held while their edit is stored, and commits to Config.Dir by a third.
// Callbacks run without those locks held, on the reader goroutine (remote
// changes, roster, presence, drag, events, rejections) or on the goroutine
// that called Apply (local changes), so they may call any method of the
// Client, but they should return quickly: a slow callback stalls the reader.
package client
