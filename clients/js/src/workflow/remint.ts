// Port of crdt/workflow/remint.go.

import { Context, type Range } from '../crdt/context';
import { MaxCounter, type Dot, type ReplicaID } from '../crdt/dot';
import { lastDot, normalizeDead, type Dead, type Run } from '../crdt/text/delta';
import { cutRun } from '../crdt/text/embed';
import { Doc } from './doc';
import { TextRec } from './texts';
import { errorf } from './util';

/**
 * remint returns a copy of d in which the dots of replica from that which
 * holds are renamed to dots of replica to: the k-th smallest counter of from
 * in which (counting from 0) becomes to's counter start+k. Values keep their
 * hybrid timestamps, and the context keeps every other dot, so a reminted
 * delta still covers exactly what the original covered: the same edit, made
 * by another replica.
 *
 * It is how a replica that learns its id was reused with a different history
 * (it lost local state) rescues its unsent edits: their dots may be held
 * elsewhere with other content, so they move to a fresh id before anything
 * sends them. Re-preparing the operations instead would run them against a
 * newer document, which may refuse them or change what they mean, and needs
 * the operations kept besides the deltas.
 *
 * The renaming depends only on which and start, never on d, so reminting the
 * document and each of its outbox deltas with the same arguments renames a
 * dot the same way everywhere. to must hold no counter at or above start in
 * d (a fresh id does not), else the renamed dots could collide with it;
 * remint refuses that, from === to, start 0, and a range that would pass
 * MaxCounter, with a WorkflowError 'Invalid'. (Go: Doc.Remint.)
 */
export function remint(d: Doc, from: ReplicaID, to: ReplicaID, which: Context, start: number): Doc {
  if (from === '' || to === '' || from === to) {
    throw errorf('Invalid', `remint from ${JSON.stringify(from)} to ${JSON.stringify(to)}`);
  }
  if (start === 0) {
    throw errorf('Invalid', 'remint counters start at 1');
  }
  const m = d.context().max(to);
  if (m >= start) {
    throw errorf('Invalid', `replica ${JSON.stringify(to)} already holds counter ${m}, at or above ${start}`);
  }
  const rn = new Renamer(which.ranges(from), start);
  if (rn.total > 0 && rn.total - 1 > MaxCounter - start) {
    throw errorf('Invalid', `reminting ${rn.total} dots from ${start} passes the counter limit`);
  }
  const out = new Doc();
  const ctx = d.context();
  for (const r of ctx.replicas()) {
    for (const rg of ctx.ranges(r)) {
      if (r !== from) {
        out.context().addRange(r, rg);
        continue;
      }
      rn.splitRange(rg, (part, renamed) => {
        if (renamed) out.context().addRange(to, { lo: rn.rename(part.lo), hi: rn.rename(part.hi) });
        else out.context().addRange(from, part);
      });
    }
  }
  d.store().range((k, es) => {
    for (const e of es) {
      let dot = e.dot;
      if (dot.replica === from && rn.has(dot.counter)) {
        dot = { replica: to, counter: rn.rename(dot.counter) };
      }
      out.store().put(k, dot, e.value);
    }
    return true;
  });
  remintTexts(d, out, from, to, rn);
  return out;
}

/**
 * remintTexts renames the dots of from in d's records into out: a record's
 * id (its marker's dot), its items, their origins and its deleted dots, so
 * that unsent typing moves to the new id with the marker it types into.
 * (Go: remintTexts.)
 */
function remintTexts(d: Doc, out: Doc, from: ReplicaID, to: ReplicaID, rn: Renamer): void {
  const dot = (x: Dot): Dot => (x.replica === from && rn.has(x.counter) ? { replica: to, counter: rn.rename(x.counter) } : x);
  for (const { id, rec } of d.texts().entries()) {
    const td = rec.since();
    const runs: Run[] = [];
    const deleted: Dead[] = [];
    for (const run of td.runs) {
      if (run.id.replica !== from) {
        runs.push({ ...run, left: dot(run.left), right: dot(run.right) });
        continue;
      }
      rn.splitRange({ lo: run.id.counter, hi: lastDot(run).counter }, (part) => {
        const piece = cutRun(run, part.lo, part.hi);
        runs.push({ ...piece, id: dot(piece.id), left: dot(piece.left), right: dot(piece.right) });
      });
    }
    for (const x of td.deleted) {
      if (x.replica !== from) {
        deleted.push(x);
        continue;
      }
      rn.splitRange({ lo: x.lo, hi: x.hi }, (part, renamed) => {
        if (renamed) deleted.push({ replica: to, lo: rn.rename(part.lo), hi: rn.rename(part.hi) });
        else deleted.push({ replica: from, lo: part.lo, hi: part.hi });
      });
    }
    const nr = new TextRec();
    nr.add({ runs, deleted: normalizeDead(deleted) });
    out.texts().set(dot(id), nr);
  }
}

/** Renamer maps the counters of a sorted set of ranges onto consecutive counters from start. */
class Renamer {
  /** base[i]: the new counter of ranges[i].lo. */
  private readonly base: number[];
  /** Counters in ranges. */
  readonly total: number;

  constructor(
    private readonly ranges: readonly Readonly<Range>[],
    start: number,
  ) {
    this.base = new Array<number>(ranges.length);
    let total = 0;
    ranges.forEach((r, i) => {
      this.base[i] = start + total;
      total += r.hi - r.lo + 1;
    });
    this.total = total;
  }

  /** find returns the index of the first range that ends at or after c. */
  private find(c: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid].hi >= c) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  has(c: number): boolean {
    const i = this.find(c);
    return i < this.ranges.length && this.ranges[i].lo <= c;
  }

  /** rename returns c's new counter; c must be in the set. */
  rename(c: number): number {
    const i = this.find(c);
    return this.base[i] + (c - this.ranges[i].lo);
  }

  /**
   * splitRange calls fn with the parts of rg in order, each wholly inside one
   * range of the set (renamed) or wholly outside it. A part inside one range
   * renames to a contiguous run, which is why parts never straddle ranges.
   */
  splitRange(rg: Readonly<Range>, fn: (part: Range, renamed: boolean) => void): void {
    let lo = rg.lo;
    for (let i = this.find(lo); i < this.ranges.length && this.ranges[i].lo <= rg.hi; i++) {
      const inn = this.ranges[i];
      if (inn.lo > lo) {
        fn({ lo, hi: inn.lo - 1 }, false);
        lo = inn.lo;
      }
      const hi = Math.min(inn.hi, rg.hi);
      fn({ lo, hi }, true);
      if (hi === rg.hi) return;
      lo = hi + 1;
    }
    fn({ lo, hi: rg.hi }, false);
  }
}

/**
 * rank returns how many counters of replica in set are below c: the offset
 * remint gives c. (Go: sync/client's rank, used to follow an outbox entry's
 * own counters through a remint.)
 */
export function rank(set: Context, replica: ReplicaID, c: number): number {
  let n = 0;
  for (const r of set.ranges(replica)) {
    if (r.lo >= c) break;
    n += Math.min(r.hi, c - 1) - r.lo + 1;
  }
  return n;
}
