// Package crdt holds the conflict-free replicated data types every flowsync
// replica is built from: hybrid logical clocks, dots and causal contexts, and
// the delta-state dot store that backs the last-writer-wins register map and
// the add-wins observed-remove set.
//
// Everything here is a plain value: no goroutines, no I/O and no wall clock.
// Callers pass time in (milliseconds since the Unix epoch) and decide where
// deltas travel. Join is commutative, associative and idempotent, so deltas
// may be duplicated, reordered, batched or coalesced by anyone who moves them.
//
// The design follows Almeida, Shoker and Baquero, "Delta state replicated data
// types" (2018): a state is a dot store plus the causal context of every dot
// it has seen, and removing something means "I have seen these dots and they
// are not in my store", so no tombstone per removed element is kept.
package crdt
