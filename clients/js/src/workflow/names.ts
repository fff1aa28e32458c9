// Port of crdt/workflow/names.go: the one rule for concurrent names, used by
// the view and by the operations' name checks, and the report of a
// replica's blocks that the rule suffixed.

import { KindBlock, KindBlockField, type Doc } from './doc';
import { FieldName, asString } from './fields';
import { fieldKey, normalizeName, type Reader } from './state';
import { compareStamps, zeroStamp, type Stamp } from './tree';
import { compareStrings } from './util';

/** One visible block's name, with the stamp of the write that set it. */
export interface NameEntry {
  id: string;
  name: string;
  at: Stamp;
}

/**
 * Enforces unique names. Rule (concurrent renames): when several visible
 * blocks share a normalized name, the one whose name was written first
 * (hybrid time, then dot, then block id) keeps it and the others show it
 * with the smallest numeric suffix (" 2", " 3", …) that is free. Sorts es in
 * that order and rewrites each name to the shown one.
 */
export function resolveNameList(es: NameEntry[]): void {
  es.sort((a, b) => compareStamps(a.at, b.at) || compareStrings(a.id, b.id));
  const taken = new Set<string>();
  for (const e of es) {
    let norm = normalizeName(e.name);
    if (norm === '') continue;
    if (taken.has(norm)) {
      for (let n = 2; ; n++) {
        const name = `${e.name} ${n}`;
        const norm2 = normalizeName(name);
        if (!taken.has(norm2)) {
          e.name = name;
          norm = norm2;
          break;
        }
      }
    }
    taken.add(norm);
  }
}

/** The names the view shows for the given live blocks. */
export function shownNames(r: Reader, ids: string[]): NameEntry[] {
  const es: NameEntry[] = ids.map((id) => {
    const w = r.winner(fieldKey(id, FieldName));
    if (w === undefined) return { id, name: '', at: zeroStamp };
    return {
      id,
      name: asString(w.value.value),
      at: { wall: w.value.wall, logical: w.value.logical, replica: w.dot.replica, counter: w.dot.counter },
    };
  });
  // Suffixes appear only where two blocks share a normalized name; without
  // such a pair every block shows its own name and the sort is skipped.
  const seen = new Set<string>();
  for (const e of es) {
    const n = normalizeName(e.name);
    if (n === '') continue;
    if (seen.has(n)) {
      resolveNameList(es);
      return es;
    }
    seen.add(n);
  }
  return es;
}

/**
 * A block the view shows under another name than the one stored for it: two
 * replicas gave blocks the same name concurrently, and the rule for
 * concurrent names suffixed this one.
 */
export interface Renamed {
  /** The block. */
  id: string;
  /** The stored name, the one its author asked for. */
  name: string;
  /** The name the view shows, e.g. "Agent 4 2". */
  shownAs: string;
}

/**
 * The blocks whose name replica wrote last (it added or renamed them) and
 * that the view shows under another name, sorted by block id (Go:
 * RenamedBy). Clients report these to their user once per rename.
 */
export function renamedBy(doc: Doc, replica: string): Renamed[] {
  // While no two blocks share a normalized stored name (the index counts
  // them), every block shows its own name: nothing to report, no scan.
  if (doc.index().shared === 0) return [];
  const ids: string[] = [];
  let mine = false;
  doc.store().range((k) => {
    if (k.kind === KindBlock) ids.push(k.id);
    else if (k.kind === KindBlockField && k.sub === FieldName && doc.winner(k)?.dot.replica === replica) mine = true;
    return true;
  });
  if (!mine) return []; // the common case: nothing of ours to report, no sort
  const out: Renamed[] = [];
  for (const e of shownNames(doc, ids)) {
    const w = doc.winner(fieldKey(e.id, FieldName));
    if (w === undefined || w.dot.replica !== replica) continue;
    const stored = asString(w.value.value);
    if (stored !== e.name) out.push({ id: e.id, name: stored, shownAs: e.name });
  }
  out.sort((a, b) => compareStrings(a.id, b.id));
  return out;
}
