// Dots to local versions and back.

import { compareStrings, type ReplicaID } from '../dot';
import { Context, type Range } from '../context';

/** "No item": the start of the text as a left origin, its end as a right one. */
export const none = -1;

/** Bounds the items one replica holds, deleted ones included (Go keeps lvs in an int32). */
export const maxItems = 2147483647; // 2^31 - 1

/** A run of local versions with consecutive counters of one replica. */
interface LvRun {
  lv: number;
  rep: number;
  counter: number;
}

/** A run of one replica's counters and the local versions they took. */
interface CounterRun {
  counter: number;
  lv: number;
  n: number;
}

/**
 * Maps the dots of inserted items to local versions (lv) and back. A local
 * version numbers the items of one replica's copy in the order it learnt
 * them, from 0: the tree refers to items by lv because a small integer is
 * cheaper to keep and compare than a dot, and consecutive lvs of one run
 * map to consecutive counters, so both directions are tables of runs.
 */
export class Ids {
  readonly replicas: ReplicaID[] = [];
  private readonly index = new Map<ReplicaID, number>();
  /** Sorted by lv and covering every lv: run i ends where run i+1 starts. */
  private readonly runs: LvRun[] = [];
  /** byReplica[r]: replica r's counters, sorted by counter. */
  byReplica: CounterRun[][] = [];
  next = 0;
  private hint = 0;

  /** The index of a known replica, or -1. */
  repOf(r: ReplicaID): number {
    const i = this.index.get(r);
    return i === undefined ? -1 : i;
  }

  /** r's index, adding r if new. */
  replicaIndex(r: ReplicaID): number {
    let i = this.index.get(r);
    if (i === undefined) {
      i = this.replicas.length;
      this.replicas.push(r);
      this.index.set(r, i);
      this.byReplica.push([]);
    }
    return i;
  }

  /** The greatest counter of replica rep's items, 0 if none. */
  maxCounter(rep: number): number {
    const cr = this.byReplica[rep];
    if (cr.length === 0) return 0;
    const last = cr[cr.length - 1];
    return last.counter + last.n - 1;
  }

  /** The first run of known counters of replica that ends at or after c. */
  knownFrom(replica: ReplicaID, c: number): Range | undefined {
    const rep = this.repOf(replica);
    if (rep < 0) return undefined;
    const cr = this.byReplica[rep];
    let lo = 0;
    let hi = cr.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (cr[m].counter + cr[m].n - 1 >= c) hi = m;
      else lo = m + 1;
    }
    if (lo === cr.length) return undefined;
    return { lo: cr[lo].counter, hi: cr[lo].counter + cr[lo].n - 1 };
  }

  /** Reports whether dot (replica, counter) is a known item. */
  knows(replica: ReplicaID, counter: number): boolean {
    return this.lookup(replica, counter) !== none;
  }

  /** The known dots as a context. */
  context(): Context {
    const c = new Context();
    this.byReplica.forEach((cr, rep) => {
      for (const r of cr) c.addRange(this.replicas[rep], { lo: r.counter, hi: r.counter + r.n - 1 });
    });
    return c;
  }

  /** Assigns lvs to n new items with counters counter.. of rep; returns the first. */
  add(rep: number, counter: number, n: number): number {
    const lv = this.next;
    this.next += n;
    const k = this.runs.length;
    const last = k > 0 ? this.runs[k - 1] : undefined;
    if (!(last && last.rep === rep && last.counter + (lv - last.lv) === counter)) {
      this.runs.push({ lv, rep, counter });
    }
    this.extendCounterRun(rep, counter, lv, n);
    return lv;
  }

  private extendCounterRun(rep: number, counter: number, lv: number, n: number): void {
    const cr = this.byReplica[rep];
    const k = cr.length;
    if (k > 0) {
      const last = cr[k - 1];
      if (last.counter + last.n === counter && last.lv + last.n === lv) {
        last.n += n;
        return;
      }
      if (last.counter < counter) {
        cr.push({ counter, lv, n });
        return;
      }
    }
    let lo = 0;
    let hi = k;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (cr[m].counter > counter) hi = m;
      else lo = m + 1;
    }
    cr.splice(lo, 0, { counter, lv, n });
  }

  /**
   * add for a bulk load: counter runs are appended in arrival order and
   * sorted once at the end (sortCounters) instead of kept sorted on every
   * add, since a state lists its runs in document order, where counters
   * are shuffled.
   */
  addUnsorted(rep: number, counter: number, n: number): number {
    const lv = this.next;
    this.next += n;
    const last = this.runs[this.runs.length - 1];
    if (!(last && last.rep === rep && last.counter + (lv - last.lv) === counter)) this.runs.push({ lv, rep, counter });
    const cr = this.byReplica[rep];
    const p = cr[cr.length - 1];
    if (p !== undefined && p.counter + p.n === counter && p.lv + p.n === lv) p.n += n;
    else cr.push({ counter, lv, n });
    return lv;
  }

  /** Sorts every replica's counter runs after addUnsorted; reports false if two share a counter. */
  sortCounters(): boolean {
    for (let rep = 0; rep < this.byReplica.length; rep++) {
      const cr = this.byReplica[rep].sort((a, b) => a.counter - b.counter);
      const out: CounterRun[] = [];
      for (const c of cr) {
        const p = out[out.length - 1];
        if (p !== undefined && c.counter < p.counter + p.n) return false;
        if (p !== undefined && p.counter + p.n === c.counter && p.lv + p.n === c.lv) p.n += c.n;
        else out.push(c);
      }
      this.byReplica[rep] = out;
    }
    return true;
  }

  /** The index of the lv run holding lv (and remembers it). */
  private runAt(lv: number): number {
    let i = this.hint;
    const runs = this.runs;
    if (i >= runs.length || runs[i].lv > lv || (i + 1 < runs.length && runs[i + 1].lv <= lv)) {
      let lo = 0;
      let hi = runs.length;
      while (lo < hi) {
        const m = (lo + hi) >>> 1;
        if (runs[m].lv > lv) hi = m;
        else lo = m + 1;
      }
      i = lo - 1;
      this.hint = i;
    }
    return i;
  }

  /** The replica index of item lv. */
  repAt(lv: number): number {
    return this.runs[this.runAt(lv)].rep;
  }

  /** The counter of item lv. */
  counterAt(lv: number): number {
    const r = this.runs[this.runAt(lv)];
    return r.counter + (lv - r.lv);
  }

  /** Reports whether item b follows a in one replica's counters and in lvs. */
  sameRun(a: number, b: number): boolean {
    if (b !== a + 1) return false;
    const i = this.runAt(a);
    const r = this.runs[i];
    // Items of one lv run have consecutive counters; b starts a new run
    // only when the next lv run starts at b.
    return i + 1 >= this.runs.length || this.runs[i + 1].lv > b || this.continuesRun(r, this.runs[i + 1], b);
  }

  private continuesRun(r: LvRun, s: LvRun, b: number): boolean {
    return s.rep === r.rep && s.counter === r.counter + (b - r.lv);
  }

  /** The lv of dot (replica, counter), or none. */
  lookup(replica: ReplicaID, counter: number): number {
    const rep = this.repOf(replica);
    if (rep < 0) return none;
    return this.lookupRep(rep, counter);
  }

  /** The lv of (rep, counter), or none. */
  lookupRep(rep: number, counter: number): number {
    const cr = this.byReplica[rep];
    let i = cr.length - 1;
    if (i < 0) return none;
    if (cr[i].counter > counter) {
      let lo = 0;
      let hi = cr.length;
      while (lo < hi) {
        const m = (lo + hi) >>> 1;
        if (cr[m].counter > counter) hi = m;
        else lo = m + 1;
      }
      i = lo - 1;
    }
    if (i < 0 || counter - cr[i].counter >= cr[i].n) return none;
    return cr[i].lv + (counter - cr[i].counter);
  }
}

/** Orders replica ids as Go does (by UTF-8 bytes). */
export const compareReplicas = compareStrings;
