// Port of crdt/workflow/undo.go, undo_capture.go and undo_inverse.go: one
// replica's undo and redo stacks, fed by its own edits only, whose undos
// and redos are ordinary deltas. The rules are in docs/ARCHITECTURE.md
// ("Undo and redo"); this module follows the Go code line by line.

import type { Dot } from '../crdt/dot';
import type { Dotted } from '../crdt/dotmap';
import { compareTimestamps, type Timestamp } from '../crdt/hlc';
import { stamp, winner } from '../crdt/register';
import { Builder, checkStamps, checkValues } from './builder';
import { Doc, KindBlock, KindBlockField, KindEdge, KindSubBlock, KindSubBlockType, KindVariable, KindVariableField, keyString, type Cell, type Key, type Kind } from './doc';
import { entityOf } from './doc_index';
import { compareKeys } from './doc_index_reads';
import { FieldExtent, FieldLocked, FieldParentID, FieldPosition, asEdge, asString, stringValue } from './fields';
import { current, predates } from './incarnation';
import { blockKey, fieldKey, subBlockKey, subBlockTypeKey } from './state';
import { protected_ } from './tree';
import { putValue } from './text_write';
import { isTextMarker } from './texts';
import { captureTexts, followText, invertText, sortTexts, type TextMove, type UndoText } from './undo_texts';
import { compareStrings, errorf } from './util';

/** Edits less than this many milliseconds apart are one entry by default. */
export const DefaultUndoWindow = 500;
/** How many entries the undo stack keeps by default. */
export const DefaultUndoEntries = 100;
/** How many captured keys both stacks keep in all by default. */
export const DefaultUndoKeys = 2 ** 18;

/** Configures an UndoManager; absent or zero fields mean the defaults. (Go: UndoConfig.) */
export interface UndoConfig {
  /** Group edits whose walls are less than this many ms apart; negative: never by time. */
  window?: number;
  /** Bound of the undo stack (and of the redo stack). */
  maxEntries?: number;
  /** Bound of the keys both stacks capture together. */
  maxKeys?: number;
}

/** One key an entry touched (Go: undoItem). cur is undefined when the entry removed the key. */
interface UndoItem {
  readonly key: Key;
  prior: Dotted<Cell> | undefined;
  cur: Dot | undefined;
}

/** One undoable step (Go: undoEntry). */
class UndoEntry {
  readonly items: UndoItem[] = [];
  /** What the entry's typing did, text by text (undo_texts.ts). */
  readonly texts: UndoText[] = [];
  private at: Map<string, number> | undefined = undefined;

  constructor(readonly stamp: Timestamp) {}

  find(k: Key): number {
    if (this.at === undefined && this.items.length > linearItems) {
      this.at = new Map();
      this.items.forEach((it, i) => this.at!.set(keyString(it.key), i));
    }
    if (this.at !== undefined) return this.at.get(keyString(k)) ?? -1;
    for (let i = 0; i < this.items.length; i++) {
      const o = this.items[i].key;
      if (o.kind === k.kind && o.id === k.id && o.sub === k.sub) return i;
    }
    return -1;
  }

  touch(doc: Doc, k: Key, held: readonly Dotted<Cell>[], cur: Dot | undefined, fresh: boolean): void {
    if (!fresh) {
      const i = this.find(k);
      if (i >= 0) {
        this.items[i].cur = cur;
        return;
      }
    }
    const w = winner(held);
    let prior = w >= 0 ? currentEntry(doc, k, held[w]) : undefined;
    if (prior !== undefined && isTextMarker(prior.value.value)) {
      // A text is restored as the string it held (as a new text): its
      // record goes with the marker the edit overwrites. (Go: touch.)
      prior = { dot: prior.dot, value: { ...prior.value, value: stringValue(doc.textString(prior.dot)) } };
    }
    this.items.push({ key: k, prior, cur });
    if (this.at !== undefined) this.at.set(keyString(k), this.items.length - 1);
  }

  /** Whether the entry captured nothing to undo. */
  isEmpty(): boolean {
    return this.items.length === 0 && this.texts.length === 0;
  }

  /** Adds what undoing delta takes, delta not yet merged into doc. (Go: undoEntry.capture.) */
  capture(doc: Doc, delta: Doc): void {
    captureTexts(this.texts, doc, delta);
    let covered = 0;
    const fresh = this.items.length === 0;
    const st = doc.store();
    delta.store().range((k, es) => {
      const held = st.get(k);
      covered += held.length;
      this.touch(doc, k, held, es[winner(es)].dot, fresh);
      return true;
    });
    const n = delta.context().len();
    if (n === delta.store().numDots() + covered) return;
    const removed = (d: Dot): void => {
      if (delta.store().has(d)) return;
      const k = st.keyOfDot(d);
      if (k !== undefined && delta.store().get(k).length === 0) this.touch(doc, k, st.get(k), undefined, false);
    };
    if (n <= st.numDots()) {
      delta.context().forEach((d) => {
        removed(d);
        return true;
      });
      return;
    }
    st.dots((d) => {
      if (delta.context().contains(d)) removed(d);
    });
  }

  follow(remap: Map<string, Dot>, moves: readonly TextMove[]): void {
    for (const it of this.items) {
      if (it.cur === undefined) continue;
      const nd = remap.get(dotString(it.cur));
      if (nd !== undefined) it.cur = nd;
    }
    for (const ut of this.texts) followText(ut, moves);
  }
}

const linearItems = 8;

function dotString(d: Dot): string {
  return `${d.counter}\u0000${d.replica}`;
}

function sameDot(a: Dot, b: Dot): boolean {
  return a.counter === b.counter && a.replica === b.replica;
}

/** current for a caller that holds k's raw winner w. */
function currentEntry(doc: Doc, k: Key, w: Dotted<Cell>): Dotted<Cell> | undefined {
  const c = current(doc, k);
  return c !== undefined && sameDot(c.dot, w.dot) ? c : undefined;
}

/**
 * A prepared undo or redo: delta is the edit to merge and send. Nothing
 * changes in the manager until commit. (Go: UndoStep.)
 */
export class UndoStep {
  private done = false;

  /** @internal */
  constructor(
    readonly delta: Doc,
    private readonly m: UndoManager,
    private readonly redo: boolean,
    private readonly skipped: number,
    private readonly inverse: UndoEntry,
    private readonly remap: Map<string, Dot>,
    private readonly moves: TextMove[],
  ) {}

  /** Moves the entry to the other stack, after delta was merged into the document. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    this.m.commitStep(this.redo, this.skipped, this.inverse, this.remap, this.moves);
  }
}

/**
 * One replica's undo and redo stacks. It sees only the edits it is given
 * (record): remote deltas never enter it. Undo and redo produce ordinary
 * deltas that invert an entry as far as nobody else changed what it touched
 * since. (Go: UndoManager.)
 */
export class UndoManager {
  private readonly window: number;
  private readonly maxEntries: number;
  private readonly maxKeys: number;
  private undoStack: UndoEntry[] = [];
  private redoStack: UndoEntry[] = [];
  private keys = 0;
  private depth = 0;
  private lastWall = 0;
  private grouping = false;
  private txnStarted = false;

  constructor(cfg: UndoConfig = {}) {
    this.window = cfg.window === undefined || cfg.window === 0 ? DefaultUndoWindow : cfg.window;
    this.maxEntries = cfg.maxEntries !== undefined && cfg.maxEntries > 0 ? cfg.maxEntries : DefaultUndoEntries;
    this.maxKeys = cfg.maxKeys !== undefined && cfg.maxKeys > 0 ? cfg.maxKeys : DefaultUndoKeys;
  }

  /** Whether the undo stack holds an entry. */
  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  /** Whether the redo stack holds an entry. */
  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** Empties both stacks. */
  clear(): void {
    this.undoStack = [];
    this.redoStack = [];
    this.keys = 0;
    this.grouping = false;
    this.txnStarted = false;
  }

  /** Opens a transaction: every edit recorded until the matching end is one entry. Transactions nest. */
  begin(): void {
    if (this.depth === 0) this.txnStarted = false;
    this.depth++;
  }

  /** Closes the transaction begin opened; the next edit starts a new entry. */
  end(): void {
    if (this.depth === 0) return;
    this.depth--;
    if (this.depth === 0) {
      this.grouping = false;
      this.txnStarted = false;
    }
  }

  /** Makes the next edit start a new entry even within the time window. */
  stopCapturing(): void {
    if (this.depth === 0) this.grouping = false;
  }

  /**
   * Captures what undoing delta takes: call it with a local edit's delta
   * before merging it into doc, ts being the timestamp it was prepared with.
   * It clears the redo stack.
   */
  record(doc: Doc, delta: Doc, ts: Timestamp): void {
    if (this.redoStack.length > 0) {
      for (const e of this.redoStack) this.keys -= e.items.length;
      this.redoStack = [];
    }
    const wall = ts.wall;
    let top: UndoEntry | undefined;
    const last = this.undoStack.length > 0 ? this.undoStack[this.undoStack.length - 1] : undefined;
    if (this.depth > 0 && this.txnStarted && last !== undefined) {
      top = last;
    } else if (this.depth === 0 && this.grouping && last !== undefined && this.window > 0 && wall - this.lastWall < this.window && wall >= this.lastWall) {
      top = last;
    }
    if (top === undefined) {
      top = new UndoEntry(ts);
      this.undoStack.push(top);
      this.txnStarted = this.depth > 0;
    }
    const before = top.items.length;
    top.capture(doc, delta);
    this.keys += top.items.length - before;
    this.lastWall = wall;
    this.grouping = true;
    if (top.isEmpty()) {
      // The edit touched no value: an entry would make undo skip it and revert an older step.
      this.undoStack.pop();
      this.grouping = false;
      this.txnStarted = false;
      return;
    }
    this.bound();
  }

  private bound(): void {
    while (this.undoStack.length > 1 && (this.undoStack.length > this.maxEntries || this.keys > this.maxKeys)) {
      this.keys -= this.undoStack.shift()!.items.length;
    }
    while (this.redoStack.length > 0 && (this.redoStack.length > this.maxEntries || this.keys > this.maxKeys)) {
      this.keys -= this.redoStack.shift()!.items.length;
    }
  }

  /**
   * Builds the inverse of the newest undo entry that still has an effect,
   * stamped ts, without changing doc or the manager; undefined when none has
   * (they are then dropped). Throws a WorkflowError (Invalid) for a bad
   * timestamp. (Go: PrepareUndo, whose ErrNothingToUndo is undefined here.)
   */
  prepareUndo(doc: Doc, ts: Timestamp): UndoStep | undefined {
    return this.prepare(doc, ts, false);
  }

  /** prepareUndo for the redo stack. */
  prepareRedo(doc: Doc, ts: Timestamp): UndoStep | undefined {
    return this.prepare(doc, ts, true);
  }

  /** Prepares the undo, merges it into doc, commits it and returns the delta to send (undefined: nothing to undo). */
  undo(doc: Doc, ts: Timestamp): Doc | undefined {
    return this.run(doc, ts, false);
  }

  /** Prepares the redo, merges it into doc, commits it and returns the delta to send. */
  redo(doc: Doc, ts: Timestamp): Doc | undefined {
    return this.run(doc, ts, true);
  }

  private run(doc: Doc, ts: Timestamp, redo: boolean): Doc | undefined {
    const s = this.prepare(doc, ts, redo);
    if (s === undefined) return undefined;
    doc.merge(s.delta);
    s.commit();
    return s.delta;
  }

  private prepare(doc: Doc, ts: Timestamp, redo: boolean): UndoStep | undefined {
    const st = redo ? this.redoStack : this.undoStack;
    if (ts.replica === '') throw errorf('Invalid', 'timestamp has no replica');
    for (let i = st.length - 1; i >= 0; i--) {
      const b = new Builder(doc, ts, doc.context().max(ts.replica) + 1);
      const inv = new Inverter(b);
      inv.invert(st[i]);
      if (b.delta.context().isEmpty()) continue;
      checkStamps(b);
      checkValues(b.delta, { name: () => (redo ? 'redo' : 'undo'), prepare: () => {} });
      const inverse = new UndoEntry(ts);
      inverse.capture(doc, b.delta);
      return new UndoStep(b.delta, this, redo, st.length - 1 - i, inverse, inv.remap, inv.moves);
    }
    this.drop(redo, st.length);
    return undefined;
  }

  private drop(redo: boolean, n: number): void {
    const st = redo ? this.redoStack : this.undoStack;
    for (const e of st.splice(st.length - n, n)) this.keys -= e.items.length;
  }

  /** @internal UndoStep.commit. */
  commitStep(redo: boolean, skipped: number, inverse: UndoEntry, remap: Map<string, Dot>, moves: TextMove[]): void {
    this.drop(redo, skipped + 1);
    if (remap.size > 0 || moves.length > 0) {
      for (const e of this.undoStack) e.follow(remap, moves);
      for (const e of this.redoStack) e.follow(remap, moves);
    }
    (redo ? this.undoStack : this.redoStack).push(inverse);
    this.keys += inverse.items.length;
    this.grouping = false;
    this.bound();
  }
}

const moveFields: ReadonlySet<string> = new Set([FieldPosition, FieldParentID, FieldExtent]);

interface Ent {
  readonly kind: Kind;
  readonly id: string;
}

function entKind(k: Kind): Kind {
  if (k === KindEdge) return KindEdge;
  if (k === KindVariable || k === KindVariableField) return KindVariable;
  return KindBlock;
}

function memberKey(ent: Ent): Key {
  return { kind: ent.kind, id: ent.id, sub: '' };
}

function sameKey(a: Key, b: Key): boolean {
  return a.kind === b.kind && a.id === b.id && a.sub === b.sub;
}

/** Writes the inverse of an undo entry into a builder. (Go: inverter.) */
class Inverter {
  readonly remap = new Map<string, Dot>();
  /** The items the inverse typed again (undo_texts.ts). */
  readonly moves: TextMove[] = [];

  constructor(private readonly b: Builder) {}

  invert(e: UndoEntry): void {
    const byEnt = new Map<string, { ent: Ent; items: UndoItem[] }>();
    for (const it of e.items) {
      const s = entityOf(it.key);
      let g = byEnt.get(s);
      if (g === undefined) {
        g = { ent: { kind: entKind(it.key.kind), id: it.key.id }, items: [] };
        byEnt.set(s, g);
      }
      g.items.push(it);
    }
    const rank = (k: Kind): number => (k === KindEdge ? 1 : 0);
    const groups = [...byEnt.values()].sort(
      (a, c) => rank(a.ent.kind) - rank(c.ent.kind) || a.ent.kind - c.ent.kind || compareStrings(a.ent.id, c.ent.id),
    );
    for (const g of groups) {
      g.items.sort((a, c) => compareKeys(a.key, c.key));
      this.element(e, g.ent, g.items);
    }
    this.texts(e);
  }

  /**
   * Undoes the entry's typing, text by text: only a text that still is the
   * one the entry typed into, of a live element the inverse does not
   * rewrite, outside a lock. (Go: inverter.texts.)
   */
  private texts(e: UndoEntry): void {
    const b = this.b;
    for (const ut of sortTexts(e.texts, compareKeys)) {
      const ent: Ent = { kind: entKind(ut.key.kind), id: ut.key.id };
      if (!b.has(memberKey(ent)) || b.delta.store().get(ut.key).length > 0 || (ent.kind === KindBlock && protected_(b.doc, ent.id))) continue;
      const w = current(b.doc, ut.key);
      if (w === undefined || !sameDot(w.dot, ut.marker) || !isTextMarker(w.value.value)) continue; // replaced since: the new value stays
      invertText(b, ut, this.moves);
    }
  }

  private holds(it: UndoItem): boolean {
    const w = current(this.b.doc, it.key);
    if (it.cur === undefined) return w === undefined;
    return w !== undefined && sameDot(w.dot, it.cur);
  }

  private wrote(old: Dot | undefined): void {
    if (old !== undefined) this.remap.set(dotString(old), { replica: this.b.ts.replica, counter: this.b.next - 1 });
  }

  private element(e: UndoEntry, ent: Ent, items: UndoItem[]): void {
    const mk = memberKey(ent);
    const mem = items.find((it) => sameKey(it.key, mk));
    if (mem === undefined) {
      this.fields(e, ent, items);
    } else if (mem.cur === undefined && mem.prior === undefined) {
      // Added and removed within the entry: nothing the user saw.
    } else if (mem.cur !== undefined) {
      if (!this.holds(mem) || (ent.kind === KindBlock && protected_(this.b.doc, ent.id))) return;
      if (mem.prior !== undefined) this.restore(e, ent, items, mem, false);
      else this.removeElement(ent);
    } else {
      if (this.b.has(mem.key)) return;
      this.restore(e, ent, items, mem, true);
    }
  }

  private elementKeys(ent: Ent): Key[] {
    const keys = this.b.doc.index().keys.get(entityOf(memberKey(ent))) ?? [];
    return [...keys].filter((k) => this.b.doc.store().get(k).length > 0).sort(compareKeys);
  }

  private removeElement(ent: Ent): void {
    for (const k of this.elementKeys(ent)) this.b.remove(k);
  }

  private restore(e: UndoEntry, ent: Ent, items: UndoItem[], mem: UndoItem, orphans: boolean): void {
    const b = this.b;
    const prior = mem.prior!;
    if (ent.kind === KindEdge) {
      const edge = asEdge(prior.value.value);
      if (!b.has(blockKey(edge.source)) || !b.has(blockKey(edge.target)) || protected_(b.doc, edge.target)) return;
      b.put(mem.key, prior.value.value);
      this.wrote(prior.dot);
      return;
    }
    const vals = new Map<string, { key: Key; e: Dotted<Cell> }>();
    for (const it of items) {
      if (it !== mem && it.prior !== undefined) vals.set(keyString(it.key), { key: it.key, e: it.prior });
    }
    const incarnation = stamp(prior.value, prior.dot);
    const held: Key[] = [];
    for (const k of this.elementKeys(ent)) {
      if (sameKey(k, mem.key)) continue;
      held.push(k);
      const w = b.doc.rawWinner(k);
      if (w === undefined) continue;
      const ks = keyString(k);
      if (!orphans) {
        if (w.dot.replica !== b.ts.replica && compareTimestamps(stamp(w.value, w.dot), e.stamp) > 0) vals.set(ks, { key: k, e: w });
        continue;
      }
      if (predates(w, incarnation)) continue;
      const old = vals.get(ks);
      if (old === undefined || compareTimestamps(stamp(w.value, w.dot), stamp(old.e.value, old.e.dot)) > 0) vals.set(ks, { key: k, e: w });
    }
    if (ent.kind === KindBlock) {
      const p = vals.get(keyString(fieldKey(ent.id, FieldParentID)));
      const parent = p === undefined ? '' : asString(p.e.value.value);
      if (parent !== '' && protected_(b.doc, parent)) return;
    }
    b.put(mem.key, prior.value.value);
    this.wrote(prior.dot);
    const sorted = [...vals.values()].sort((a, c) => compareKeys(a.key, c.key));
    for (const v of sorted) {
      b.put(v.key, v.e.value.value);
      this.wrote(v.e.dot);
    }
    for (const k of held) {
      if (!vals.has(keyString(k))) b.remove(k);
    }
  }

  private fields(e: UndoEntry, ent: Ent, items: UndoItem[]): void {
    const b = this.b;
    if (ent.kind === KindEdge || !b.has(memberKey(ent))) return;
    const lockedBlock = ent.kind === KindBlock && protected_(b.doc, ent.id);
    // A unit is undone only if every key of it the entry wrote still holds
    // the entry's value and no other replica wrote any key of it since.
    const unitOK = new Map<string, boolean>();
    for (const it of items) {
      const unit = unitOf(it.key);
      if (unit === undefined) continue;
      const u = keyString(unit[0]);
      let ok = unitOK.has(u) ? unitOK.get(u)! : !this.writtenByOthers(e, unit);
      if (!this.holds(it)) ok = false;
      if (it.key.kind === KindBlockField && it.key.sub === FieldParentID && it.prior !== undefined) {
        const p = asString(it.prior.value.value);
        if (p !== '' && protected_(b.doc, p)) ok = false;
      }
      unitOK.set(u, ok);
    }
    for (const it of items) {
      if (!this.holds(it)) continue;
      if (lockedBlock && !(it.key.kind === KindBlockField && it.key.sub === FieldLocked)) continue;
      const unit = unitOf(it.key);
      if (unit !== undefined && !unitOK.get(keyString(unit[0]))) continue;
      if (it.prior !== undefined) {
        // A string under a text key goes back as a text. (Go: inverter.field.)
        try {
          putValue(b, it.key, it.prior.value.value);
        } catch {
          b.put(it.key, it.prior.value.value);
        }
        this.wrote(it.prior.dot);
      } else {
        b.remove(it.key);
      }
    }
  }

  private writtenByOthers(e: UndoEntry, keys: Key[]): boolean {
    for (const k of keys) {
      const w = current(this.b.doc, k);
      if (w !== undefined && w.dot.replica !== this.b.ts.replica && compareTimestamps(stamp(w.value, w.dot), e.stamp) > 0) return true;
    }
    return false;
  }
}

/** The keys undone together with k, all or none (Go: unitOf); undefined for a key that stands alone. */
function unitOf(k: Key): Key[] | undefined {
  if (k.kind === KindBlockField && moveFields.has(k.sub)) {
    return [fieldKey(k.id, FieldParentID), fieldKey(k.id, FieldExtent), fieldKey(k.id, FieldPosition)];
  }
  if (k.kind === KindSubBlock || k.kind === KindSubBlockType) return [subBlockKey(k.id, k.sub), subBlockTypeKey(k.id, k.sub)];
  return undefined;
}
