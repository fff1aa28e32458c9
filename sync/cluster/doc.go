// Package cluster lets several flowsync nodes, in one region or several,
// serve the same workflow documents by exchanging CRDT deltas over NATS.
//
// A Node belongs to one server process. The rooms layer tells it which
// workflows it hosts live (Host, Release), hands it every delta it merged
// from its own clients (Publish), and implements Local, through which the
// Node merges what other nodes send. Nodes never coordinate: merging is a
// join that commutes, so order and duplication on the bus do not matter.
//
// # Subjects
//
// Every message about workflow w travels on <prefix>.wf.<token(w)>.<kind>
// (see Kind), where token(w) is w itself when it is made of [A-Za-z0-9_-]
// and "~" + lowercase base32hex of w otherwise, so no id can be misread by
// NATS ('.', '*', '>', whitespace). A node hosting w subscribes to
// <prefix>.wf.<token(w)>.*; every node subscribes to its own inbox
// <prefix>.node.<token(nodeID)> and, in the queue group Config.StoreGroup,
// to the digests, requests, tombstones and lock changes of every workflow,
// so that some node answers for a workflow that is stored but hosted
// nowhere, and a deletion or a lock is heard by a node that does not host
// the document.
//
// Regions are NATS clusters joined by gateways; subjects and interest cross
// gateways unchanged, so nothing here knows about regions except for logs.
//
// # Delivery and anti-entropy
//
// NATS core is at-most-once: a message can be lost to a slow consumer, a
// reconnect or a partition. Live deltas (Publish) are an optimization;
// anti-entropy is what makes loss safe:
//
//   - On Host the node publishes its causal context as a request; every
//     node hosting the workflow, and one node per store group, answer to the
//     requester's inbox with DeltaSince chunks.
//   - Every AntiEntropyInterval (jittered ±25%) a node publishes the context
//     of every workflow it hosts as a digest. A peer that has dots the
//     digest lacks sends them (DeltaSince) to the sender's inbox; a peer
//     that lacks dots the digest has sends the sender a request.
//
// Every mutation spends a dot (see package crdt), so equal contexts mean
// equal states and a context comparison finds every difference, removals
// included. Messages are bounded by the connection's max payload: a larger
// delta is split into chunks that commute with each other.
//
// # Deleted stays deleted
//
// Delete persists the deletion through Local.MarkDeleted and publishes a
// tombstone. A node that receives a delta, digest or request for a workflow
// its Local reports deleted drops it and answers the sender with the
// tombstone; a node receiving a tombstone marks the workflow deleted and
// stops hosting it. A node or region that missed the deletion therefore
// learns it on its first anti-entropy round instead of resurrecting the
// document.
//
// # Presence and locks
//
// Besides documents the nodes share each hosted workflow's roster
// (PublishPresence, re-sent every heartbeat and sent in answer to a peer's
// Host request), its members' live cursors, selections and drags
// (PublishEphemeral: latest per session, at most every EphemeralInterval),
// and its lock (PublishLock: newest change wins; sent in answer to every
// request, so a node that missed it learns it on its next load). None of
// it is a CRDT delta: presence is never stored, locks are stored by the
// Local beside the document.
//
// # Clock skew
//
// A delta holding a write whose HLC wall time leads this node's clock by more
// than Config.MaxClockSkew is refused (not merged) and counted; anti-entropy
// offers it again on later rounds, so it is merged once the clocks agree.
//
// # What it must never do
//
// It never touches a document itself (Local does, in the room's loop), never
// publishes a delta it received (no relay loops: every node merges from the
// origin or from anti-entropy), and never depends on routing (OwnerOf is an
// optimization for load balancers).
package cluster
