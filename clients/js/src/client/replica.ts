// The one place the client touches the workflow CRDT's API, so that the
// sync code reads as protocol logic and an API change of the CRDT port is a
// change here only.

import { Doc } from '../workflow/doc';
import { decode } from '../workflow/encode';
import { rank, remint } from '../workflow/remint';
export { writesSince } from '../workflow/writes_since';
import type { Context, Range } from '../crdt/context';

export { Doc };
export type { Context };

/** emptyDoc returns a new, empty document. */
export function emptyDoc(): Doc {
  return new Doc();
}

/** decodeDoc decodes a document, delta or context (the workflow encoding, §7). */
export function decodeDoc(b: Uint8Array): Doc {
  return decode(b);
}

/**
 * encodeContext encodes a document's causal context as a document with an
 * empty store (PROTOCOL.md §7.4), what Join.ctx carries.
 */
export function encodeContextOf(doc: Doc): Uint8Array {
  const c = new Doc();
  c.context().merge(doc.context());
  return c.encode();
}

/** mergeAll folds deltas into one by merging (the result covers every folded dot). */
export function mergeAll(deltas: Doc[]): Doc {
  const m = new Doc();
  for (const d of deltas) m.merge(d);
  return m;
}

/**
 * ownDotsCovered reports whether have covers every dot of replica that
 * delta's context holds: if so the server has seen this delta's writes.
 */
export function ownDotsCovered(have: Context, delta: Doc, replica: string): boolean {
  const haves = have.ranges(replica);
  // have's ranges are disjoint and non-adjacent, so a covered range lies
  // inside a single one of them.
  return delta.context().ranges(replica).every((r) => haves.some((h) => h.lo <= r.lo && r.hi <= h.hi));
}

/**
 * remintDoc renames the dots of replica from in which to dots of to,
 * numbered from 1 (a fresh id holds none): the same rename for the document
 * and for each outbox delta (workflow's remint).
 */
export function remintDoc(d: Doc, from: string, to: string, which: Context): Doc {
  return remint(d, from, to, which, 1);
}

/** remintRanges follows ranges of from's counters (all in which) through remintDoc. */
export function remintRanges(rs: readonly Range[], which: Context, from: string): Range[] {
  return rs.map((r) => ({ lo: 1 + rank(which, from, r.lo), hi: 1 + rank(which, from, r.hi) }));
}

/**
 * mintedBy infers which counters of replica an outbox delta minted when
 * storage did not record it (entries written before schema 3): an edit mints
 * one contiguous run above every dot it covers, and every value it stores
 * is one of its own, so the run reaches from its lowest own stored value (or
 * its highest own dot, for an edit that only removes) to its highest own dot.
 * The dots an edit minted and then overwrote within itself may be missed.
 */
export function mintedBy(delta: Doc, replica: string): Range[] {
  const hi = delta.context().max(replica);
  if (hi === 0) return [];
  let lo = hi;
  delta.store().dots((d) => {
    if (d.replica === replica && d.counter < lo) lo = d.counter;
  });
  return [{ lo, hi }];
}
