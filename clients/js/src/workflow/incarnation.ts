// Port of crdt/workflow/incarnation.go: adds are atomic records.
//
// A block or a variable is one record per id: the add that wins its
// membership key (the greatest hybrid timestamp, then the greatest dot, as
// last-writer-wins picks) is the element's incarnation, and a value of the
// element written before that add's timestamp belongs to an earlier or a
// losing incarnation and is not part of the record: it reads as absent, so
// the field shows its default. See incarnation.go for the reasoning. It sits
// below doc.ts (it needs only keys), so that Doc.get can use it.

import type { Dotted } from '../crdt/dotmap';
import { compareTimestamps, type Timestamp } from '../crdt/hlc';
import { stamp } from '../crdt/register';
import { asEdge } from './fields';
import {
  KindBlock,
  KindEdge,
  KindBlockField,
  KindSubBlock,
  KindSubBlockType,
  KindSubflow,
  KindVariable,
  KindVariableField,
  type Cell,
  type Key,
} from './key';

/**
 * The membership key whose winning entry decides which of k's values are
 * current, or undefined when k's values stand alone (membership keys
 * themselves, and edges, whose one value is their whole record and which
 * edgePredatesAnEnd checks against their ends instead).
 */
export function ownerKey(k: Key): Key | undefined {
  switch (k.kind) {
    case KindBlockField:
    case KindSubBlock:
    case KindSubBlockType:
    case KindSubflow:
      return { kind: KindBlock, id: k.id, sub: '' };
    case KindVariableField:
      return { kind: KindVariable, id: k.id, sub: '' };
  }
  return undefined;
}

/**
 * Reads the last-writer-wins winner under a key before the incarnation rule:
 * a Doc from its store, a Builder with its own writes laid over its document.
 */
export interface RawReader {
  rawWinner(k: Key): Dotted<Cell> | undefined;
}

/**
 * The winning entry under k if it belongs to its element's incarnation (for
 * an edge: to the incarnations of both its ends).
 * Checking the winner is enough: every other entry under k is older. A key
 * whose element has no membership entry keeps its values.
 */
export function current(r: RawReader, k: Key): Dotted<Cell> | undefined {
  const w = r.rawWinner(k);
  if (w === undefined) return undefined;
  const owner = ownerKey(k);
  if (owner !== undefined) {
    const inc = r.rawWinner(owner);
    if (inc !== undefined && predates(w, stamp(inc.value, inc.dot))) return undefined;
  }
  if (k.kind === KindEdge && edgePredatesAnEnd(r, w)) return undefined;
  return w;
}

/**
 * Reports whether edge entry w was added before the incarnation of one of its
 * ends: it joined an earlier or a losing record of that block, not the one
 * that shows, so it goes with that record. An edge added in the same
 * operation as its ends carries their timestamp and stays.
 */
export function edgePredatesAnEnd(r: RawReader, w: Dotted<Cell>): boolean {
  const e = asEdge(w.value.value);
  for (const end of [e.source, e.target]) {
    const inc = r.rawWinner({ kind: KindBlock, id: end, sub: '' });
    if (inc !== undefined && predates(w, stamp(inc.value, inc.dot))) return true;
  }
  return false;
}

/**
 * Reports whether an entry was written before an incarnation stamped inc.
 * Values written at the incarnation's own timestamp are the add's own.
 */
export function predates(e: { dot: { replica: string }; value: { wall: number; logical: number } }, inc: Timestamp): boolean {
  return compareTimestamps({ wall: e.value.wall, logical: e.value.logical, replica: e.dot.replica }, inc) < 0;
}
