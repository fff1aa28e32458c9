// Port of crdt/workflow/undo_texts.go: an entry's typing is undone
// character by character, not as a whole value. Undoing it deletes the
// characters the entry inserted that are still there and types again,
// next to where they stood, the characters it deleted; characters others
// typed are never touched.

import { compareDots, type Dot } from '../crdt/dot';
import { codePoints, type Dead, type Delta } from '../crdt/text/delta';
import type { Piece } from '../crdt/text/text';
import type { Builder } from './builder';
import type { Doc, Key } from './doc';
import { TextRec } from './texts';
import { textOf } from './text_write';

/** What one entry's edits did to one text. (Go: undoText.) */
export interface UndoText {
  readonly key: Key;
  readonly marker: Dot;
  /** The entry's inserted items, coalesced ranges. */
  ins: Dead[];
  /** The visible items it deleted (none of its own inserts), with their content. */
  del: Piece[];
}

/** The items from live again under the dots starting at to (an undo's or redo's re-insert). (Go: textMove.) */
export interface TextMove {
  readonly from: Dead;
  readonly to: Dot;
}

/** Adds the text edits of delta (not yet merged into doc) to texts. (Go: undoEntry.captureTexts.) */
export function captureTexts(texts: UndoText[], doc: Doc, delta: Doc): void {
  const dt = delta.texts();
  if (dt.size === 0) return;
  for (const m of dt.ids()) {
    const k = doc.store().keyOfDot(m);
    if (k === undefined) continue; // a text the edit creates: its key's item undoes it whole
    const held = doc.textRecord(m); // undefined for an empty text
    const r = dt.get(m)!;
    const ut = textEntry(texts, k, m);
    const ins = r.itemDots();
    for (const rep of ins.replicas()) for (const rg of ins.ranges(rep)) addIns(ut, { replica: rep, lo: rg.lo, hi: rg.hi });
    const dead = r.t.deleted();
    for (const rep of dead.replicas()) {
      for (const rg of dead.ranges(rep)) {
        if (held === undefined) break; // nothing visible to delete
        for (const x of notInserted(ut, { replica: rep, lo: rg.lo, hi: rg.hi })) ut.del.push(...held.t.live(x));
      }
    }
  }
}

function textEntry(texts: UndoText[], k: Key, m: Dot): UndoText {
  for (const ut of texts) if (ut.marker.replica === m.replica && ut.marker.counter === m.counter) return ut;
  const ut: UndoText = { key: k, marker: { replica: m.replica, counter: m.counter }, ins: [], del: [] };
  texts.push(ut);
  return ut;
}

function addIns(ut: UndoText, x: Dead): void {
  const last = ut.ins[ut.ins.length - 1];
  if (last !== undefined && last.replica === x.replica && last.hi + 1 === x.lo) {
    last.hi = x.hi;
    return;
  }
  ut.ins.push(x);
}

/** The parts of x that are not the entry's own inserts. */
function notInserted(ut: UndoText, x: Dead): Dead[] {
  let out: Dead[] = [x];
  for (const ins of ut.ins) {
    if (ins.replica !== x.replica) continue;
    const next: Dead[] = [];
    for (const o of out) {
      if (ins.hi < o.lo || ins.lo > o.hi) {
        next.push(o);
        continue;
      }
      if (o.lo < ins.lo) next.push({ replica: o.replica, lo: o.lo, hi: ins.lo - 1 });
      if (o.hi > ins.hi) next.push({ replica: o.replica, lo: ins.hi + 1, hi: o.hi });
    }
    out = next;
  }
  return out;
}

/** Adds to ut's inserts the items re-inserts of them made. (Go: undoText.follow.) */
export function followText(ut: UndoText, moves: readonly TextMove[]): void {
  const n = ut.ins.length;
  for (const mv of moves) {
    for (let i = 0; i < n; i++) {
      const ins = ut.ins[i];
      if (ins.replica !== mv.from.replica || ins.hi < mv.from.lo || ins.lo > mv.from.hi) continue;
      const lo = Math.max(ins.lo, mv.from.lo);
      const hi = Math.min(ins.hi, mv.from.hi);
      const to = mv.to.counter + (lo - mv.from.lo);
      ut.ins.push({ replica: mv.to.replica, lo: to, hi: to + (hi - lo) });
    }
  }
}

/**
 * Writes the inverse of ut into b: its inserted items still visible are
 * deleted, and each deleted piece is typed again right after its first
 * (deleted) item; the re-inserts are appended to moves. (Go: inverter.text.)
 */
export function invertText(b: Builder, ut: UndoText, moves: TextMove[]): void {
  const m = ut.marker;
  const t = textOf(b, m);
  const dead: Dead[] = [];
  for (const ins of ut.ins) {
    for (const p of t.live(ins)) dead.push({ replica: p.id.replica, lo: p.id.counter, hi: p.id.counter + p.len - 1 });
  }
  if (dead.length > 0) {
    if (!b.spent) b.delta.context().add(b.mint());
    textDelta(b, m, { runs: [], deleted: dead });
  }
  for (const p of ut.del) {
    const at: Dot = { replica: b.ts.replica, counter: b.next };
    let d: Delta;
    try {
      d = textOf(b, m).planInsertAfter(at, p.id, p.text);
    } catch {
      continue; // not known here (cannot happen: the entry's replica saw it)
    }
    const n = codePoints(p.text);
    b.next += n;
    b.spent = true;
    b.delta.context().addRange(at.replica, { lo: at.counter, hi: at.counter + n - 1 });
    textDelta(b, m, d);
    moves.push({ from: { replica: p.id.replica, lo: p.id.counter, hi: p.id.counter + p.len - 1 }, to: at });
  }
}

function textDelta(b: Builder, m: Dot, d: Delta): void {
  const texts = b.delta.texts();
  let r = texts.get(m);
  if (r === undefined) {
    r = new TextRec();
    texts.set(m, r);
  }
  r.add(d);
  b.work.get(`${m.replica}:${m.counter}`)?.merge(d);
}

/** Orders an entry's texts as Go's inverter does: by key, then marker. */
export function sortTexts(texts: readonly UndoText[], compareKeys: (a: Key, b: Key) => number): UndoText[] {
  return [...texts].sort((a, c) => compareKeys(a.key, c.key) || compareDots(a.marker, c.marker));
}
