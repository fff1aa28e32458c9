// The text replica: local edits, merging, catch-up deltas and anchors.

import { Context } from '../context';
import { MaxCounter, type Dot, type ReplicaID } from '../dot';
import {
  advance,
  checkDead,
  codePoints,
  isNoDot,
  noDot,
  normalizeDead,
  Plan,
  dotStr,
  type Dead,
  type Delta,
  type Run,
} from './delta';
import { TextError } from './errors';
import { checkDelta, checkOneRun, runItems } from './check';
import { compareReplicas, Ids, maxItems, none } from './ids';
import { deltaSince, dotOf, walk } from './since';
import { Cursor, Span, Tree, unitOffset, type TreeNode } from './tree';


/**
 * A stable position: a caret that stays on its character while others
 * edit. after is the dot of the character left of the position (noDot: the
 * start of the text). When that character is deleted the anchor resolves
 * to where it was. (Go: text.Anchor.)
 */
export interface Anchor {
  after: Dot;
}

/** Visible items with consecutive dots side by side in a text: the first one's dot, how many, their content. (Go: text.Piece.) */
export interface Piece {
  id: Dot;
  len: number;
  text: string;
}

/**
 * One change a merge made to the visible text, in the order it made them:
 * applying them one after the other to the text as it was gives the text
 * as it is (an editor binding replays them to keep its caret and
 * selection). pos counts code points; text is what was inserted there, or
 * deleted is how many code points were removed from there.
 */
export type TextChange = { pos: number; insert: string; deleted?: undefined } | { pos: number; deleted: number; insert?: undefined };

/**
 * A replica of one collaborative text, the port of Go's crdt/text.Text:
 * FugueMax ordering over runs of items held in a B-tree, the same deltas
 * and, through encode.ts, the same bytes. Every position and length counts
 * Unicode code points (utf16.ts converts from an editor's UTF-16 offsets).
 */
export class Text {
  /** @internal */ readonly tree = new Tree();
  /** @internal */ readonly ids = new Ids();
  /**
   * Deleted dots whose insert has not arrived (states merge in any order),
   * so that the insert arrives deleted. @internal
   */
  readonly pending = new Context();
  /** While a merge runs with changes asked for, where they go. */
  private changes: TextChange[] | undefined;

  /** The number of visible code points. */
  get length(): number {
    return this.tree.root.vis;
  }

  /** The visible text. */
  toString(): string {
    const parts: string[] = [];
    for (let l: TreeNode | null = this.tree.first; l !== null; l = l.next) {
      for (const s of l.spans) if (!s.dead) parts.push(s.text);
    }
    return parts.join('');
  }

  /** The dots of every item this replica has seen inserted, deleted ones included. */
  context(): Context {
    return this.ids.context();
  }

  /** The dots of every item known deleted. */
  deleted(): Context {
    const c = new Context();
    for (const x of this.deadRanges()) c.addRange(x.replica, { lo: x.lo, hi: x.hi });
    return c;
  }

  /** @internal The deleted dots, sorted by replica and counter, coalesced. */
  deadRanges(): Dead[] {
    const ds: Dead[] = [];
    this.walk((s) => {
      if (s.dead) {
        const c = this.ids.counterAt(s.lv);
        ds.push({ replica: this.ids.replicas[this.ids.repAt(s.lv)], lo: c, hi: c + s.n - 1 });
      }
    });
    for (const r of this.pending.replicas()) for (const x of this.pending.ranges(r)) ds.push({ replica: r, lo: x.lo, hi: x.hi });
    return normalizeDead(ds);
  }

  /** @internal The dot of item lv, noDot for none. */
  dotOf(lv: number): Dot {
    return dotOf(this.ids, lv);
  }

  /** @internal The item of dot d: none for noDot, undefined when unknown. */
  lvOf(d: Dot): number | undefined {
    if (isNoDot(d)) return none;
    const lv = this.ids.lookup(d.replica, d.counter);
    return lv === none ? undefined : lv;
  }

  /** @internal Calls fn for every span in document order. */
  walk(fn: (s: Span) => void): void {
    walk(this.tree, fn);
  }

  /**
   * Inserts s at code point index pos as replica's next writes (the counters
   * after the greatest one of replica this text has seen) and returns the
   * delta to send to the other replicas.
   */
  insert(replica: ReplicaID, pos: number, s: string): Delta {
    const n = this.checkInsert(replica, pos, s);
    const rep = this.ids.replicaIndex(replica);
    return this.insertAs(rep, this.ids.maxCounter(rep) + 1, pos, s, n);
  }

  /**
   * insert with the first dot given: s takes the counters at.counter,
   * at.counter+1, … of at.replica. A text embedded in a larger document
   * shares the document's counters, so the next free counter is the
   * document's; at.counter must be above every counter of at.replica this
   * text holds ("Counter" otherwise). (Go: InsertAt.)
   */
  insertAt(at: Dot, pos: number, s: string): Delta {
    const n = this.checkInsert(at.replica, pos, s);
    if (!Number.isSafeInteger(at.counter) || at.counter < 1) throw new TextError('Counter', `counter out of range: counter ${at.counter}`);
    const rep = this.ids.replicaIndex(at.replica);
    if (at.counter <= this.ids.maxCounter(rep)) throw new TextError('Counter', `counter out of range: ${dotStr(at)} is not above the counters held`);
    return this.insertAs(rep, at.counter, pos, s, n);
  }

  /** Checks an insert's arguments and returns the code points of s. */
  private checkInsert(replica: ReplicaID, pos: number, s: string): number {
    if (replica === '') throw new TextError('Replica', 'empty replica id');
    if (!Number.isSafeInteger(pos) || pos < 0 || pos > this.length) {
      throw new TextError('Range', `position or length out of range: insert at ${pos} in a text of ${this.length}`);
    }
    const n = codePoints(s);
    if (n < 0) throw new TextError('InvalidUTF8', 'text is not valid UTF-8 (a lone surrogate)');
    return n;
  }

  /** Inserts s (n code points) at pos under replica rep's counters from counter on. */
  private insertAs(rep: number, counter: number, pos: number, s: string, n: number): Delta {
    const replica = this.ids.replicas[rep];
    if (n === 0) return { runs: [], deleted: [] };
    if (n > MaxCounter - counter + 1 || n > maxItems - this.ids.next) {
      throw new TextError('Counter', `counter out of range: ${n} items after counter ${counter - 1}`);
    }
    const tree = this.tree;
    let left = none;
    let right = none;
    let l = tree.first;
    let j = 0;
    if (pos > 0) {
      const f = tree.findVisible(pos - 1);
      l = f.leaf;
      j = f.idx;
      const sp = l.spans[j];
      left = sp.lv + f.k;
      if (f.k + 1 < sp.n) {
        right = left + 1;
        ({ leaf: l, idx: j } = tree.splitSpan(l, j, f.k + 1));
      } else {
        const c = new Cursor(l, j + 1, 0);
        if (!c.atEnd()) right = c.span().lv + c.off;
        j++;
      }
    } else if (l.spans.length > 0) {
      right = l.spans[0].lv;
    }
    const lv = this.ids.add(rep, counter, n);
    this.place(l, j, lv, n, s, false, left, right);
    return {
      runs: [{ id: { replica, counter }, len: n, text: s, left: this.dotOf(left), right: this.dotOf(right) }],
      deleted: [],
    };
  }

  /**
   * Puts n new items lv.. with the given origins at span index j of leaf l
   * (j may be spans.length), extending the span before them when they
   * continue it. Items that arrive deleted have no content.
   */
  private place(l: TreeNode, j: number, lv: number, n: number, content: string, dead: boolean, left: number, right: number): void {
    if (j === 0 && l.prev !== null) {
      l = l.prev;
      j = l.spans.length;
    }
    if (j > 0) {
      const p = l.spans[j - 1];
      if (p.dead === dead && p.lv + p.n === lv && left === lv - 1 && right === p.right && this.ids.sameRun(lv - 1, lv)) {
        p.n += n;
        if (!dead) p.text += content;
        this.tree.note(l, n);
        l.bump(dead ? 0 : n, n);
        return;
      }
    }
    this.tree.insertSpan(l, j, new Span(lv, n, left, right, dead, dead ? '' : content));
  }

  /** Reports whether every counter lo..hi of replica is an item this text holds (deleted or not). */
  knows(replica: ReplicaID, lo: number, hi: number): boolean {
    for (let c = lo; c <= hi; ) {
      const k = this.ids.knownFrom(replica, c);
      if (k === undefined || k.lo > c) return false;
      if (k.hi >= hi) return true;
      c = k.hi + 1;
    }
    return true;
  }

  /** Reports whether this text holds any item among the counters lo..hi of replica. */
  knowsAny(replica: ReplicaID, lo: number, hi: number): boolean {
    const k = this.ids.knownFrom(replica, lo);
    return k !== undefined && k.lo <= hi;
  }

  /**
   * The delta insertAt(at, pos, s) would return, without changing this
   * text: merging it has the effect insertAt has. A document prepares an
   * edit against its text this way and merges it later, or never.
   * (Go: PlanInsert.)
   */
  planInsert(at: Dot, pos: number, s: string): Delta {
    const n = this.checkInsert(at.replica, pos, s);
    if (!Number.isSafeInteger(at.counter) || at.counter < 1) throw new TextError('Counter', `counter out of range: counter ${at.counter}`);
    if (n === 0) return { runs: [], deleted: [] };
    const rep = this.ids.repOf(at.replica);
    if (rep >= 0 && at.counter <= this.ids.maxCounter(rep)) throw new TextError('Counter', `counter out of range: ${dotStr(at)} is not above the counters held`);
    if (n - 1 > MaxCounter - at.counter) throw new TextError('Counter', `counter out of range: ${n} items after counter ${at.counter - 1}`);
    let left = none;
    let right = none;
    if (pos > 0) {
      const f = this.tree.findVisible(pos - 1);
      const sp = f.leaf.spans[f.idx];
      left = sp.lv + f.k;
      if (f.k + 1 < sp.n) right = left + 1;
      else {
        const c = new Cursor(f.leaf, f.idx + 1, 0);
        if (!c.atEnd()) right = c.span().lv + c.off;
      }
    } else {
      const c = new Cursor(this.tree.first, 0, 0);
      if (!c.atEnd()) right = c.span().lv;
    }
    return { runs: [{ id: { replica: at.replica, counter: at.counter }, len: n, text: s, left: this.dotOf(left), right: this.dotOf(right) }], deleted: [] };
  }

  /** The delta delete(pos, n) would return, without changing this text. (Go: PlanDelete.) */
  planDelete(pos: number, n: number): Delta {
    if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(n) || pos < 0 || n < 0 || n > this.length - pos) {
      throw new TextError('Range', `position or length out of range: delete ${n} at ${pos} in a text of ${this.length}`);
    }
    const deleted: Dead[] = [];
    if (n === 0) return { runs: [], deleted };
    const f = this.tree.findVisible(pos);
    const c = new Cursor(f.leaf, f.idx, f.k);
    while (n > 0 && !c.atEnd()) {
      const sp = c.span();
      if (sp.dead) {
        c.nextSpan();
        continue;
      }
      const m = Math.min(n, sp.n - c.off);
      const ctr = this.ids.counterAt(sp.lv + c.off);
      deleted.push({ replica: this.ids.replicas[this.ids.repAt(sp.lv + c.off)], lo: ctr, hi: ctr + m - 1 });
      n -= m;
      c.nextSpan();
    }
    return { runs: [], deleted: normalizeDead(deleted) };
  }

  /** Deletes n code points from index pos and returns the delta: the dots of the deleted items. */
  delete(pos: number, n: number): Delta {
    if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(n) || pos < 0 || n < 0 || n > this.length - pos) {
      throw new TextError('Range', `position or length out of range: delete ${n} at ${pos} in a text of ${this.length}`);
    }
    const tree = this.tree;
    const deleted: Dead[] = [];
    while (n > 0) {
      const f = tree.findVisible(pos);
      let l = f.leaf;
      let j = f.idx;
      if (f.k > 0) ({ leaf: l, idx: j } = tree.splitSpan(l, j, f.k));
      let sp = l.spans[j];
      const m = Math.min(n, sp.n);
      if (m < sp.n) {
        const lv = sp.lv;
        tree.splitSpan(l, j, m);
        ({ leaf: l, idx: j } = tree.locate(lv));
        sp = l.spans[j];
      }
      const c = this.ids.counterAt(sp.lv);
      deleted.push({ replica: this.ids.replicas[this.ids.repAt(sp.lv)], lo: c, hi: c + m - 1 });
      tree.setDead(l, j);
      this.joinAround(l, j);
      n -= m;
    }
    return { runs: [], deleted: normalizeDead(deleted) };
  }

  /** Merges span j of leaf l with its neighbours where one continues the other. */
  private joinAround(l: TreeNode, j: number): void {
    if (j + 1 < l.spans.length && this.joinable(l.spans[j], l.spans[j + 1])) this.join(l, j);
    if (j > 0 && this.joinable(l.spans[j - 1], l.spans[j])) this.join(l, j - 1);
  }

  private joinable(a: Span, b: Span): boolean {
    return a.dead === b.dead && b.lv === a.lv + a.n && b.left === b.lv - 1 && b.right === a.right && this.ids.sameRun(b.lv - 1, b.lv);
  }

  private join(l: TreeNode, j: number): void {
    const a = l.spans[j];
    const b = l.spans[j + 1];
    a.n += b.n;
    if (!a.dead) a.text += b.text;
    l.spans.splice(j + 1, 1);
  }

  // ---- placing remote items (FugueMax) ----

  /**
   * Places n new items lv.. of replica rep, whose origins are known, where
   * every replica places them: FugueMax in the form diamond-types calls
   * YjsMod. Scan the items between the origins: one whose own left origin
   * lies further left ends the scan, one whose left origin is further right
   * (a descendant of an item in the range) is skipped, and a sibling with
   * the same left origin is ordered by its right origin, then replica id.
   */
  private integrate(rep: number, lv: number, n: number, content: string, dead: boolean, left: number, right: number): void {
    let c = this.tree.cursorAfter(left);
    if (c.atEnd()) {
      right = none; // nothing follows the left origin: a right origin is before it
    } else if (c.span().lv + c.off !== right) {
      // A right origin that breaks the order rule (only a hostile delta
      // names one) would stop the scan where no replica typed; every
      // replica drops it alike and stores the run at the end of what
      // follows its left origin.
      if (right !== none && !this.originsOrdered(left, right)) right = none;
      c = this.scan(c, rep, lv, left, right);
    }
    if (c.atEnd()) {
      this.place(c.leaf, c.leaf.spans.length, lv, n, content, dead, left, right);
    } else {
      let l = c.leaf;
      let j = c.idx;
      if (c.off > 0) ({ leaf: l, idx: j } = this.tree.splitSpan(l, j, c.off));
      this.place(l, j, lv, n, content, dead, left, right);
    }
    if (this.changes !== undefined && !dead) this.changes.push({ pos: this.tree.visibleBefore(lv), insert: content });
  }

  /** Finds where item lv goes, from c, the item right after its left origin (not its right origin). */
  private scan(c: Cursor, rep: number, lv: number, left: number, right: number): Cursor {
    const leftPos = this.after(left);
    let myRightPos = -1;
    let scanning = false;
    let scanStart: Cursor | undefined;
    while (!c.atEnd()) {
      const sp = c.span();
      const other = sp.lv + c.off;
      if (other === right) break;
      const otherLeft = c.off > 0 ? other - 1 : sp.left;
      const otherLeftPos = this.after(otherLeft);
      if (otherLeftPos < leftPos) break;
      if (otherLeftPos === leftPos) {
        if (right === sp.right) {
          if (this.before(rep, lv, other)) break;
          scanning = false;
        } else {
          if (myRightPos < 0) myRightPos = this.at(right);
          if (this.at(sp.right) < myRightPos) {
            if (!scanning) {
              scanning = true;
              scanStart = new Cursor(c.leaf, c.idx, c.off);
            }
          } else {
            scanning = false;
          }
        }
      }
      // The rest of the span descends from other: skip it whole, unless it
      // holds the right origin (only a hostile delta names such an item).
      if (right > other && right < sp.lv + sp.n) {
        c.off = right - sp.lv;
        break;
      }
      c.nextSpan();
    }
    return scanning ? scanStart! : c;
  }

  /** The document position right after item lv (0 for none). */
  private after(lv: number): number {
    return lv === none ? 0 : this.tree.position(lv) + 1;
  }

  /** @internal The document position of item lv (the end for none). */
  at(lv: number): number {
    return lv === none ? this.tree.root.all : this.tree.position(lv);
  }

  /** @internal The document position of item lv, -1 for none (the start). */
  pos(lv: number): number {
    return lv === none ? -1 : this.tree.position(lv);
  }

  /** Reports whether the new item lv of rep goes before its concurrent sibling other. */
  private before(rep: number, lv: number, other: number): boolean {
    const orep = this.ids.repAt(other);
    if (rep !== orep) return compareReplicas(this.ids.replicas[rep], this.ids.replicas[orep]) < 0;
    return this.ids.counterAt(lv) < this.ids.counterAt(other);
  }

  /**
   * @internal Reports whether right may be the right origin of an item whose
   * left origin is left: items form a tree (each the child of its left
   * origin) laid out in preorder, so typing after L puts the new item
   * before an item R that follows L and whose own parent is L or an
   * ancestor of L.
   */
  originsOrdered(left: number, right: number): boolean {
    return this.pos(this.leftOf(right)) <= this.pos(left) && this.pos(left) < this.at(right);
  }

  /** @internal The left origin of item lv. */
  leftOf(lv: number): number {
    const { leaf, idx } = this.tree.locate(lv);
    const sp = leaf.spans[idx];
    return sp.lv < lv ? lv - 1 : sp.left;
  }

  // ---- merging ----

  /** @internal Validates d against this replica without changing either; returns the integration order. */
  check(d: Delta): Plan {
    return checkDelta(this.ids, d);
  }

  /** @internal Validates a delta of one run, the common case, without a plan. */
  checkOne(d: Delta): void {
    checkOneRun(this.ids, d);
  }

  /**
   * Applies a delta from another replica (or a whole state). Idempotent,
   * commutative and associative: known items are skipped and a delete may
   * arrive before its insert. A delta whose origins this replica lacks and
   * does not carry is refused ("MissingOrigin"); on any error nothing
   * changes.
   */
  merge(d: Delta): void {
    checkDead(d.deleted);
    let order: number[] = [];
    if (d.runs.length === 1) {
      this.checkOne(d);
      order = [0];
    } else if (d.runs.length > 1) {
      order = this.check(d).order;
    }
    if (d.runs.length > 0 && this.ids.next + runItems(d.runs) > maxItems) {
      throw new TextError('Counter', `counter out of range: more than ${maxItems} items`);
    }
    for (const i of order) this.mergeRun(d.runs[i]);
    for (const x of d.deleted) {
      const rep = this.ids.repOf(x.replica);
      if (rep >= 0) this.killCounters(rep, x.lo, x.hi);
      this.keepPending(x);
    }
  }

  /** Records the items of x not seen inserted, so that they arrive deleted. */
  private keepPending(x: Dead): void {
    for (let lo = x.lo; lo <= x.hi; ) {
      const k = this.ids.knownFrom(x.replica, lo);
      if (k !== undefined && k.lo <= lo) {
        if (k.hi >= x.hi) return;
        lo = k.hi + 1;
        continue;
      }
      let hi = x.hi;
      if (k !== undefined && k.lo <= hi) hi = k.lo - 1;
      this.pending.addRange(x.replica, { lo, hi });
      lo = hi + 1;
    }
  }

  /**
   * merge that also returns the changes it made to the visible text, in
   * order, for an editor to replay (an empty list when the delta changed
   * nothing visible). On an error nothing changes and nothing is returned.
   */
  mergeChanges(d: Delta): TextChange[] {
    const changes: TextChange[] = [];
    this.changes = changes;
    try {
      this.merge(d);
    } finally {
      this.changes = undefined;
    }
    return changes;
  }

  /** Integrates the items of r this replica lacks. */
  private mergeRun(r: Run): void {
    const rep = this.ids.replicaIndex(r.id.replica);
    const lo = r.id.counter;
    const hi = lo + r.len - 1;
    const content = r.text;
    let off = 0; // UTF-16 offset in content of counter c
    for (let c = lo; c <= hi; ) {
      let end = hi;
      const k = this.ids.knownFrom(r.id.replica, c);
      if (k !== undefined) {
        if (k.lo <= c) {
          const skip = Math.min(k.hi, hi) - c + 1;
          off = advance(content, off, skip);
          c += skip;
          continue;
        }
        end = Math.min(hi, k.lo - 1);
      }
      const n = end - c + 1;
      const left = c > lo ? { replica: r.id.replica, counter: c - 1 } : r.left;
      const leftLV = this.lvOf(left)!;
      const rightLV = this.lvOf(r.right)!;
      const next = advance(content, off, n);
      const piece = content.slice(off, next);
      off = next;
      const lv = this.ids.add(rep, c, n);
      this.integrate(rep, lv, n, piece, content === '', leftLV, rightLV);
      // Items deleted before they arrived.
      for (const dr of this.pending.ranges(r.id.replica)) {
        if (dr.hi >= c && dr.lo <= end) this.killLV(lv + (Math.max(dr.lo, c) - c), lv + (Math.min(dr.hi, end) - c) + 1);
      }
      c = end + 1;
    }
  }

  /** Deletes the known items with counters lo..hi of replica rep. */
  private killCounters(rep: number, lo: number, hi: number): void {
    const cr = this.ids.byReplica[rep];
    let a = 0;
    let b = cr.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (cr[m].counter + cr[m].n > lo) b = m;
      else a = m + 1;
    }
    for (let i = a; i < cr.length && cr[i].counter <= hi; i++) {
      const x = Math.max(lo, cr[i].counter);
      const y = Math.min(hi, cr[i].counter + cr[i].n - 1);
      this.killLV(cr[i].lv + (x - cr[i].counter), cr[i].lv + (y - cr[i].counter) + 1);
    }
  }

  /** Deletes items lo..hi-1. */
  private killLV(lo: number, hi: number): void {
    for (let lv = lo; lv < hi; ) {
      let { leaf: l, idx: j } = this.tree.locate(lv);
      let sp = l.spans[j];
      if (sp.dead) {
        lv = sp.lv + sp.n;
        continue;
      }
      const k = lv - sp.lv;
      if (k > 0) {
        ({ leaf: l, idx: j } = this.tree.splitSpan(l, j, k));
        sp = l.spans[j];
      }
      const m = Math.min(hi - lv, sp.n);
      if (m < sp.n) {
        this.tree.splitSpan(l, j, m);
        ({ leaf: l, idx: j } = this.tree.locate(lv));
      }
      if (this.changes !== undefined) this.changes.push({ pos: this.tree.visibleBefore(lv), deleted: m });
      this.tree.setDead(l, j);
      this.joinAround(l, j);
      lv += m;
    }
  }

  /**
   * What a replica that has seen the inserts in have (undefined: nothing)
   * lacks: the runs of every item not in have, in document order, and every
   * deleted dot. deltaSince() is the whole state.
   */
  deltaSince(have?: Context): Delta {
    return deltaSince(this.tree, this.ids, this.deadRanges(), have);
  }

  // ---- what an undo reads (Go: live.go) ----

  /**
   * The visible items among the dots of d, as pieces in counter order: each
   * a stretch of items with consecutive dots that sit side by side in the
   * text, with their content. Unknown and deleted dots are left out.
   * (Go: Live.)
   */
  live(d: Dead): Piece[] {
    const rep = this.ids.repOf(d.replica);
    const out: Piece[] = [];
    if (rep < 0 || d.hi < d.lo) return out;
    let last = none;
    for (let c = d.lo; c <= d.hi; ) {
      const lv = this.ids.lookupRep(rep, c);
      if (lv === none) {
        c++;
        continue;
      }
      const { leaf, idx } = this.tree.locate(lv);
      const sp = leaf.spans[idx];
      const off = lv - sp.lv;
      const n = Math.min(sp.n - off, d.hi - c + 1);
      if (!sp.dead) {
        const s = sp.text.slice(unitOffset(sp.text, sp.n, off), unitOffset(sp.text, sp.n, off + n));
        const p = out.length - 1;
        if (p >= 0 && out[p].id.counter + out[p].len === c && last !== none && this.tree.position(lv) === this.tree.position(last) + 1) {
          out[p].len += n;
          out[p].text += s;
        } else {
          out.push({ id: { replica: d.replica, counter: c }, len: n, text: s });
        }
        last = lv + n - 1;
      }
      c += n;
    }
    return out;
  }

  /**
   * The delta typing s right after item after (deleted or not) under the
   * dots at, at+1, … would produce, without changing this text: an undo
   * types deleted characters again next to where they stood. (Go:
   * PlanInsertAfter.)
   */
  planInsertAfter(at: Dot, after: Dot, s: string): Delta {
    const lv = this.lvOf(after);
    if (lv === undefined || lv === none) throw new TextError('UnknownAnchor', `anchor refers to an unknown item: ${dotStr(after)}`);
    if (at.replica === '') throw new TextError('Replica', 'empty replica id');
    const n = codePoints(s);
    if (n < 0) throw new TextError('InvalidUTF8', 'text is not valid UTF-8 (a lone surrogate)');
    if (n === 0) return { runs: [], deleted: [] };
    if (!Number.isSafeInteger(at.counter) || at.counter < 1) throw new TextError('Counter', `counter out of range: counter ${at.counter}`);
    const rep = this.ids.repOf(at.replica);
    if (rep >= 0 && at.counter <= this.ids.maxCounter(rep)) throw new TextError('Counter', `counter out of range: ${dotStr(at)} is not above the counters held`);
    if (n - 1 > MaxCounter - at.counter || n > maxItems - this.ids.next) throw new TextError('Counter', `counter out of range: ${n} items after counter ${at.counter - 1}`);
    let right = none;
    const c = this.tree.cursorAfter(lv);
    if (!c.atEnd()) right = c.span().lv + c.off;
    return { runs: [{ id: { replica: at.replica, counter: at.counter }, len: n, text: s, left: after, right: this.dotOf(right) }], deleted: [] };
  }

  // ---- anchors ----

  /** The stable position of code point index pos. */
  anchor(pos: number): Anchor {
    if (!Number.isSafeInteger(pos) || pos < 0 || pos > this.length) {
      throw new TextError('Range', `position or length out of range: anchor at ${pos} in a text of ${this.length}`);
    }
    if (pos === 0) return { after: noDot };
    const f = this.tree.findVisible(pos - 1);
    return { after: this.dotOf(f.leaf.spans[f.idx].lv + f.k) };
  }

  /** The code point index of a. */
  resolve(a: Anchor): number {
    const lv = this.lvOf(a.after);
    if (lv === undefined) throw new TextError('UnknownAnchor', `anchor refers to an unknown item: ${dotStr(a.after)}`);
    if (lv === none) return 0;
    const p = this.tree.visibleBefore(lv);
    const { leaf, idx } = this.tree.locate(lv);
    return leaf.spans[idx].dead ? p : p + 1;
  }
}

export { unitOffset };
