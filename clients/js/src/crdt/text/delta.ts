// Deltas: the runs and deleted ranges replicas exchange, and the checks a
// delta passes on its own.

import type { Context, Range } from '../context';
import { MaxCounter, type Dot, type ReplicaID } from '../dot';
import { TextError } from './errors';
import { compareReplicas } from './ids';

/** The zero dot: no item (the start as a left origin, the end as a right one). */
export const noDot: Dot = { replica: '', counter: 0 };

export function isNoDot(d: Dot): boolean {
  return d.counter === 0 && d.replica === '';
}

/**
 * A run of inserted items: len items with the consecutive dots id, id+1, …
 * The first item's left origin is left (noDot: the start of the text), every
 * other item's the item before it; every item's right origin is right
 * (noDot: the end). text holds the items' code points, or is "" when every
 * item of the run is deleted. (Go: text.Run.)
 */
export interface Run {
  id: Dot;
  len: number;
  text: string;
  left: Dot;
  right: Dot;
}

/** Deleted items: counters lo..hi of replica. (Go: text.Dead.) */
export interface Dead {
  replica: ReplicaID;
  lo: number;
  hi: number;
}

/** What one replica sends another: inserted runs and deleted dots. (Go: text.Delta.) */
export interface Delta {
  runs: Run[];
  deleted: Dead[];
}

export function emptyDelta(): Delta {
  return { runs: [], deleted: [] };
}

export function isEmptyDelta(d: Delta): boolean {
  return d.runs.length === 0 && d.deleted.length === 0;
}

/** The dot of a run's last item. */
export function lastDot(r: Run): Dot {
  return { replica: r.id.replica, counter: r.id.counter + r.len - 1 };
}

export function sameDotOrNone(a: Dot, b: Dot): boolean {
  return a.counter === b.counter && a.replica === b.replica;
}

/** The number of code points of s, or -1 if s holds a lone surrogate (not encodable as UTF-8). */
export function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) return -1;
      i++;
    }
    n++;
  }
  return n;
}

export function compareDead(a: Dead, b: Dead): number {
  return compareReplicas(a.replica, b.replica) || a.lo - b.lo;
}

/** Sorts ds by replica and counter and coalesces ranges that overlap or touch. */
export function normalizeDead(ds: Dead[]): Dead[] {
  let sorted = true;
  for (let i = 1; i < ds.length && sorted; i++) sorted = compareDead(ds[i - 1], ds[i]) <= 0;
  if (!sorted) ds = [...ds].sort(compareDead);
  const out: Dead[] = [];
  for (const x of ds) {
    const p = out[out.length - 1];
    if (p !== undefined && p.replica === x.replica && x.lo - 1 <= p.hi) {
      p.hi = Math.max(p.hi, x.hi);
      continue;
    }
    out.push({ replica: x.replica, lo: x.lo, hi: x.hi });
  }
  return out;
}

/** Checks the deleted ranges of a delta. */
export function checkDead(ds: readonly Dead[]): void {
  for (const x of ds) {
    if (x.replica === '' || !Number.isSafeInteger(x.lo) || !Number.isSafeInteger(x.hi) || x.lo < 1 || x.lo > x.hi || x.hi > MaxCounter) {
      throw new TextError('BadRun', `malformed run: deleted range ${JSON.stringify(x.replica)} [${x.lo}, ${x.hi}]`);
    }
  }
}

function dotStr(d: Dot): string {
  return `${d.replica}:${d.counter}`;
}
export { dotStr };

/** Checks one run on its own. */
export function checkRun(r: Run): void {
  if (r.id.replica === '') throw new TextError('BadRun', 'malformed run: run without a replica');
  if (!Number.isSafeInteger(r.len) || r.len <= 0) throw new TextError('BadRun', `malformed run: run ${dotStr(r.id)} of ${r.len} items`);
  if (!Number.isSafeInteger(r.id.counter) || r.id.counter < 1 || r.id.counter > MaxCounter || r.len - 1 > MaxCounter - r.id.counter) {
    throw new TextError('Counter', `counter out of range: run ${dotStr(r.id)} of ${r.len} items`);
  }
  if (r.text !== '') {
    const n = codePoints(r.text);
    if (n < 0) throw new TextError('InvalidUTF8', `text is not valid UTF-8: run ${dotStr(r.id)}`);
    if (n !== r.len) throw new TextError('BadRun', `malformed run: run ${dotStr(r.id)} has ${n} code points, says ${r.len}`);
  }
  for (const o of [r.left, r.right]) {
    if (!isNoDot(o) && (o.replica === '' || !Number.isSafeInteger(o.counter) || o.counter < 1 || o.counter > MaxCounter)) {
      throw new TextError('BadRun', `malformed run: run ${dotStr(r.id)} has origin ${dotStr(o)}`);
    }
  }
}

/** Reports whether c (undefined: empty) holds every counter lo..hi of replica. */
export function covers(c: Context | undefined, replica: ReplicaID, lo: number, hi: number): boolean {
  if (c === undefined) return false;
  const rs = c.ranges(replica);
  let a = 0;
  let b = rs.length;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (rs[m].hi >= lo) b = m;
    else a = m + 1;
  }
  return a < rs.length && rs[a].lo <= lo && rs[a].hi >= hi;
}

/** A run's dots with its replica ranked, so that sorts and searches compare numbers. */
interface RunKey {
  rep: number;
  lo: number;
  hi: number;
  i: number;
}

/**
 * The runs of a delta sorted by dot (for origin lookups) and, once checked,
 * the order to integrate them in (every run after the runs holding its
 * origins).
 */
export class Plan {
  readonly sorted: number[];
  private readonly keys: RunKey[];
  private readonly rank = new Map<ReplicaID, number>();
  order: number[] = [];

  constructor(runs: readonly Run[]) {
    const names: ReplicaID[] = [];
    for (const r of runs) {
      if (!this.rank.has(r.id.replica)) {
        this.rank.set(r.id.replica, 0);
        names.push(r.id.replica);
      }
    }
    names.sort(compareReplicas);
    names.forEach((n, i) => this.rank.set(n, i));
    const ks: RunKey[] = runs.map((r, i) => ({ rep: this.rank.get(r.id.replica)!, lo: r.id.counter, hi: r.id.counter + r.len - 1, i }));
    let inOrder = true;
    for (let k = 1; k < ks.length && inOrder; k++) inOrder = compareKeys(ks[k - 1], ks[k]) <= 0;
    if (!inOrder) ks.sort((a, b) => compareKeys(a, b) || a.i - b.i);
    this.keys = ks;
    this.sorted = ks.map((k) => k.i);
  }

  /** The index of the run holding d, or -1. */
  find(d: Dot): number {
    const rep = this.rank.get(d.replica);
    if (rep === undefined) return -1;
    const ks = this.keys;
    let lo = 0;
    let hi = ks.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      const k = ks[m];
      if (k.rep < rep || (k.rep === rep && k.hi < d.counter)) lo = m + 1;
      else hi = m;
    }
    if (lo < ks.length && ks[lo].rep === rep && ks[lo].lo <= d.counter) return ks[lo].i;
    return -1;
  }

  /** Two runs that share a dot, or undefined. */
  overlap(): [number, number] | undefined {
    for (let k = 1; k < this.keys.length; k++) {
      const a = this.keys[k - 1];
      const b = this.keys[k];
      if (a.rep === b.rep && a.hi >= b.lo) return [a.i, b.i];
    }
    return undefined;
  }
}

function compareKeys(a: RunKey, b: RunKey): number {
  return a.rep - b.rep || a.lo - b.lo;
}

/** The left origin of item o of run r. */
export function parentOf(r: Run, o: Dot): Dot {
  if (o.counter > r.id.counter) return { replica: o.replica, counter: o.counter - 1 };
  return r.left;
}

/** Reports whether b could be folded into a (one run). */
export function continues(a: Run, b: Run): boolean {
  return (
    a.id.replica === b.id.replica &&
    a.id.counter + a.len === b.id.counter &&
    sameDotOrNone(b.left, lastDot(a)) &&
    sameDotOrNone(b.right, a.right) &&
    (a.text === '') === (b.text === '')
  );
}

/** The UTF-16 offset n code points after off in s (or the end of s). */
export function advance(s: string, off: number, n: number): number {
  for (; n > 0 && off < s.length; n--) {
    const c = s.charCodeAt(off);
    off += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return off;
}

export type { Range };
