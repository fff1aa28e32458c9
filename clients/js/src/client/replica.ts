// The one place the client touches the workflow CRDT's API, so that the
// sync code reads as protocol logic and an API change of the CRDT port is a
// change here only.

import { Doc } from '../workflow/doc';
import { decode } from '../workflow/encode';
import type { Context } from '../crdt/context';

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
