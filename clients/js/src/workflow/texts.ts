// Port of crdt/workflow/texts.go: a text key's value can be a collaborative
// text (crdt/text) instead of one last-writer-wins value. The key's winning
// entry then holds the text marker, and the marker's dot names the text's
// record: the record holds the text's items, which are dots of the
// document's own context (an insert of n code points spends n counters of
// its author). Whoever overwrites the key, or removes its block or
// variable, removes the marker and with it the record, in every replica
// alike: a record is dropped once its marker's dot is in the context and
// not in the store. docs/PROTOCOL.md tells the whole design.

import type { Context } from '../crdt/context';
import { compareDots, dotString, type Dot, type ReplicaID } from '../crdt/dot';
import type { DotMap } from '../crdt/dotmap';
import { continues, lastDot, type Dead, type Delta, type Run } from '../crdt/text/delta';
import { cloneText, cutRun, knowsDot, numSpans, unknownPieces } from '../crdt/text/embed';
import { encodeDelta } from '../crdt/text/encode';
import { Text } from '../crdt/text/text';
import type { Cell, Key, Value } from './key';

/**
 * The value of a text key's entry that makes the key a text: a msgpack bin
 * of the one byte 0x01, which JSON cannot produce and no operation may
 * write as an ordinary value.
 */
export const markerValue: Value = Uint8Array.of(0xc4, 0x01, 0x01);

/** Reports whether v is the text marker. */
export function isTextMarker(v: Value): boolean {
  return v !== null && v.length === 3 && v[0] === 0xc4 && v[1] === 0x01 && v[2] === 0x01;
}

/**
 * The sub-block types whose values are texts: the reference editor's
 * free-text inputs (long-input holds prompts, system prompts and
 * descriptions; code holds code, JSON and schemas; textarea). Sorted.
 */
export const TextSubBlockTypes: readonly string[] = ['code', 'long-input', 'textarea'];

/** Reports whether a sub-block of type t holds a text. */
export function isTextSubBlockType(t: string): boolean {
  return TextSubBlockTypes.includes(t);
}

/** Reports whether a variable of type t holds its value as a text: the string types. */
export function isTextVariableType(t: string): boolean {
  return t === 'plain' || t === 'string';
}

/**
 * One text record as a document or delta holds it: a replica of the text
 * and the runs it holds but cannot place yet, because their origins have
 * not arrived. Every document, delta or state, keeps its records in this
 * one form, so equal records encode equally: the placed runs in document
 * order, then the waiting ones by dot. (Go: textRec.)
 */
export class TextRec {
  constructor(
    public t: Text = new Text(),
    /** Sorted by dot, disjoint, none known to t, continuing runs folded. */
    public wait: Run[] = [],
  ) {}

  /** Reports whether the record holds nothing: no item and no deleted dot. */
  isEmpty(): boolean {
    return this.wait.length === 0 && this.t.context().isEmpty() && this.t.deleted().isEmpty();
  }

  /** Merges a text delta (runs, deleted ranges) into the record. */
  add(d: Delta): void {
    for (const r of d.runs) for (const piece of unknownPieces(this.t, r)) this.addWait(piece);
    if (d.deleted.length > 0) this.t.merge({ runs: [], deleted: d.deleted });
    this.settle();
  }

  /** Adds run x to the waiting runs, leaving out the items already waiting. */
  private addWait(x: Run): void {
    let i = 0;
    while (i < this.wait.length && compareDots(this.wait[i].id, x.id) < 0) i++;
    let lo = x.id.counter;
    const hi = lastDot(x).counter;
    if (i > 0) {
      const p = this.wait[i - 1];
      if (p.id.replica === x.id.replica && lastDot(p).counter >= lo) lo = lastDot(p).counter + 1;
    }
    const pieces: Run[] = [];
    for (let j = i; lo <= hi && j < this.wait.length && this.wait[j].id.replica === x.id.replica && this.wait[j].id.counter <= hi; j++) {
      const w = this.wait[j];
      if (w.id.counter > lo) pieces.push(cutRun(x, lo, w.id.counter - 1));
      lo = Math.max(lo, lastDot(w).counter + 1);
    }
    if (lo <= hi) pieces.push(cutRun(x, lo, hi));
    if (pieces.length === 0) return;
    this.wait.splice(i, 0, ...pieces);
    const tail = this.wait.splice(i).sort((a, b) => compareDots(a.id, b.id));
    this.wait.push(...tail);
  }

  /** Places every waiting run whose origins are known or themselves placeable, and folds what still waits. */
  private settle(): void {
    if (this.wait.length === 0) return;
    // Usually every run can be placed (a delta carries what its runs need,
    // or the receiver holds it): one merge does it.
    if (this.tryMerge(this.wait)) {
      this.wait = [];
      return;
    }
    for (let progress = true; progress && this.wait.length > 0; ) {
      progress = false;
      const kept: Run[] = [];
      for (const w of this.wait) {
        if (knowsDot(this.t, w.left) && knowsDot(this.t, w.right) && this.tryMerge([w])) {
          progress = true;
          continue;
        }
        kept.push(w);
      }
      this.wait = kept;
    }
    this.fold();
  }

  /** Merges runs (a run without content deleted by definition) and reports whether the text took them. */
  private tryMerge(runs: Run[]): boolean {
    const deleted: Dead[] = [];
    for (const r of runs) if (r.text === '') deleted.push({ replica: r.id.replica, lo: r.id.counter, hi: lastDot(r).counter });
    try {
      this.t.merge({ runs, deleted });
      return true;
    } catch {
      return false; // the text is unchanged when it refuses a delta
    }
  }

  /** Joins waiting runs that continue one another. */
  private fold(): void {
    const out: Run[] = [];
    for (const w of this.wait) {
      const p = out[out.length - 1];
      if (p !== undefined && continues(p, w)) out[out.length - 1] = { ...p, len: p.len + w.len, text: p.text + w.text };
      else out.push(w);
    }
    this.wait = out;
  }

  /**
   * What a replica whose context is have lacks of the record (undefined:
   * the whole record): the runs of items not in have, placed ones in
   * document order then waiting ones by dot, and every deleted dot.
   */
  since(have?: Context): Delta {
    const d = this.t.deltaSince(have);
    for (const w of this.wait) {
      if (have === undefined) d.runs.push(w);
      else d.runs.push(...missingPieces(w, have));
    }
    return d;
  }

  /** The canonical encoding of the whole record. */
  encode(): Uint8Array {
    return encodeDelta(this.since());
  }

  clone(): TextRec {
    return new TextRec(cloneText(this.t), this.wait.slice());
  }

  /** The dots of every item the record holds, placed or waiting. */
  itemDots(): Context {
    const c = this.t.context();
    for (const w of this.wait) c.addRange(w.id.replica, { lo: w.id.counter, hi: lastDot(w).counter });
    return c;
  }

  /** What the record counts as values under the caps: one, and one per run. */
  values(): number {
    return 1 + this.wait.length + numSpans(this.t);
  }
}

/** The pieces of w whose dots have lacks. */
export function missingPieces(w: Run, have: Context): Run[] {
  const out: Run[] = [];
  let lo = w.id.counter;
  const hi = lastDot(w).counter;
  for (const rg of have.ranges(w.id.replica)) {
    if (rg.hi < lo) continue;
    if (rg.lo > hi) break;
    if (rg.lo > lo) out.push(cutRun(w, lo, rg.lo - 1));
    lo = rg.hi + 1;
    if (lo > hi) return out;
  }
  out.push(cutRun(w, lo, hi));
  return out;
}

/** A document's text records by the id (the marker's dot) that names them. */
export class Texts {
  private readonly byId = new Map<string, { id: Dot; rec: TextRec }>();

  get size(): number {
    return this.byId.size;
  }

  get(id: Dot): TextRec | undefined {
    return this.byId.get(dotString(id))?.rec;
  }

  set(id: Dot, rec: TextRec): void {
    this.byId.set(dotString(id), { id: { replica: id.replica, counter: id.counter }, rec });
  }

  delete(id: Dot): void {
    this.byId.delete(dotString(id));
  }

  /** The record ids sorted by (replica, counter), the order of the encoding. */
  ids(): Dot[] {
    return [...this.byId.values()].map((e) => e.id).sort(compareDots);
  }

  entries(): IterableIterator<{ id: Dot; rec: TextRec }> {
    return this.byId.values();
  }

  clone(): Texts {
    const c = new Texts();
    for (const { id, rec } of this.byId.values()) c.set(id, rec.clone());
    return c;
  }

  /** Reports whether both hold the same records. */
  equal(o: Texts): boolean {
    if (this.size !== o.size) return false;
    for (const { id, rec } of this.byId.values()) {
      const r = o.get(id);
      if (r === undefined || !sameBytes(rec.encode(), r.encode())) return false;
    }
    return true;
  }

  /** What the records count as values under the caps. */
  values(): number {
    let n = 0;
    for (const { rec } of this.byId.values()) n += rec.values();
    return n;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reports whether the record named by marker dot m is removed: its marker seen and no longer held. */
export function textRemoved(ctx: Context, st: DotMap<Key, Cell>, m: Dot): boolean {
  return ctx.contains(m) && !st.has(m);
}

/**
 * Joins delta's records into (ctx, st, texts) after the store and the
 * context were joined: records whose marker the join removed are dropped,
 * and the delta's records are merged unless the document has seen their
 * marker removed. (Go: Doc.mergeTexts.)
 */
export function mergeTexts(texts: Texts, ctx: Context, st: DotMap<Key, Cell>, delta: Texts, deltaCtx: Context): void {
  if (texts.size > 0 && !deltaCtx.isEmpty()) {
    // Visit the smaller side: a typing delta names a few dots, a document
    // may hold thousands of texts.
    if (deltaCtx.len() <= texts.size) {
      deltaCtx.forEach((m) => {
        if (texts.get(m) !== undefined && !st.has(m)) texts.delete(m);
        return true;
      });
    } else {
      for (const { id } of [...texts.entries()]) if (deltaCtx.contains(id) && !st.has(id)) texts.delete(id);
    }
  }
  for (const { id, rec: dr } of delta.entries()) {
    if (textRemoved(ctx, st, id) || dr.isEmpty()) continue;
    let r = texts.get(id);
    if (r === undefined) {
      r = new TextRec();
      texts.set(id, r);
    }
    r.add(dr.since());
  }
}

/**
 * The records as a replica whose context is have lacks them (deltaSince):
 * the runs it lacks and every deleted dot. With only set, runs of other
 * replicas and runs in skip are left out (writesSince: a replica sends only
 * its own items). (Go: Doc.textsSince.)
 */
export function textsSince(texts: Texts, have?: Context, only?: ReplicaID, skip?: Context): Texts {
  const out = new Texts();
  for (const { id, rec } of texts.entries()) {
    const td = rec.since(have);
    if (only !== undefined && only !== '') {
      const runs: Run[] = [];
      for (const x of td.runs) {
        if (x.id.replica !== only) continue;
        if (skip === undefined) runs.push(x);
        else runs.push(...missingPieces(x, skip));
      }
      td.runs = runs;
    }
    if (td.runs.length === 0 && td.deleted.length === 0) continue;
    const r = new TextRec();
    r.add(td);
    out.set(id, r);
  }
  return out;
}
