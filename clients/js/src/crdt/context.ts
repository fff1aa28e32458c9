// Port of crdt/context.go: causal contexts as per-replica range sets.

import { checkCounter, compareStrings, type Dot, type ReplicaID } from './dot';

/** An inclusive run of counters [lo, hi] of one replica, lo ≥ 1. */
export interface Range {
  lo: number;
  hi: number;
}

/**
 * A causal context: the set of dots a replica has seen. Per replica it keeps
 * sorted, disjoint, non-adjacent ranges of counters; the first range, when it
 * starts at 1, is the version-vector entry, and the others are the dots seen
 * beyond that contiguous prefix. Keeping the dots beyond the prefix as ranges
 * rather than one entry per dot is the compaction: adjacent dots coalesce as
 * they arrive, so a context costs a few bytes per replica however many writes
 * it covers.
 *
 * Counters are exact JavaScript integers: every counter is at most MaxCounter
 * (2^53-1), which decoders enforce, so hi + 1 never loses precision.
 */
export class Context {
  private byReplica = new Map<ReplicaID, Range[]>();

  /** Reports whether d has been seen. */
  contains(d: Dot): boolean {
    const rs = this.byReplica.get(d.replica);
    if (rs === undefined || rs.length === 0) return false;
    if (rs.length === 1) return d.counter >= rs[0].lo && d.counter <= rs[0].hi;
    const i = searchHi(rs, d.counter);
    return i < rs.length && rs[i].lo <= d.counter;
  }

  /** Records d as seen. */
  add(d: Dot): void {
    this.addRange(d.replica, { lo: d.counter, hi: d.counter });
  }

  /**
   * Records every dot of replica in r as seen. A range with lo == 0 or
   * lo > hi is ignored, as in Go. Counters that are not integers up to
   * MaxCounter throw a RangeError: no valid document holds them (decoders
   * refuse them), and past 2^53 a number cannot tell neighbours apart.
   */
  addRange(replica: ReplicaID, r: Range): void {
    if (!(r.lo >= 1) || r.lo > r.hi) return;
    checkCounter(r.lo);
    checkCounter(r.hi);
    const rs = this.byReplica.get(replica);
    if (rs === undefined || rs.length === 0) {
      this.byReplica.set(replica, [{ lo: r.lo, hi: r.hi }]);
      return;
    }
    this.byReplica.set(replica, addRange(rs, r));
  }

  /** The greatest counter seen from replica, 0 if none. */
  max(replica: ReplicaID): number {
    const rs = this.byReplica.get(replica);
    if (rs === undefined || rs.length === 0) return 0;
    return rs[rs.length - 1].hi;
  }

  /**
   * The version-vector entry of replica: the greatest n such that every
   * counter 1..n has been seen.
   */
  prefix(replica: ReplicaID): number {
    const rs = this.byReplica.get(replica);
    if (rs === undefined || rs.length === 0 || rs[0].lo !== 1) return 0;
    return rs[0].hi;
  }

  /** The ranges seen from replica, sorted. The array belongs to the context: do not change it. */
  ranges(replica: ReplicaID): readonly Readonly<Range>[] {
    return this.byReplica.get(replica) ?? [];
  }

  /** The replicas with at least one dot, sorted bytewise (UTF-8 order, as Go sorts). */
  replicas(): ReplicaID[] {
    const out: ReplicaID[] = [];
    for (const [r, rs] of this.byReplica) if (rs.length > 0) out.push(r);
    return out.sort(compareStrings);
  }

  /** How many replicas have at least one dot. */
  numReplicas(): number {
    let n = 0;
    for (const rs of this.byReplica.values()) if (rs.length > 0) n++;
    return n;
  }

  /** The number of ranges over all replicas: the size of the context's encoding, give or take the ids. */
  numRanges(): number {
    let n = 0;
    for (const rs of this.byReplica.values()) n += rs.length;
    return n;
  }

  /**
   * The number of dots in the context. Many replicas near MaxCounter can
   * exceed 2^53; the sum then saturates at Number.MAX_SAFE_INTEGER (Go
   * saturates at MaxUint64), which is only ever compared against store sizes.
   */
  len(): number {
    let n = 0;
    for (const rs of this.byReplica.values()) {
      for (const r of rs) {
        n += r.hi - r.lo + 1;
        if (n >= Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
      }
    }
    return n;
  }

  /** Reports whether the context holds no dot. */
  isEmpty(): boolean {
    for (const rs of this.byReplica.values()) if (rs.length > 0) return false;
    return true;
  }

  /**
   * Calls fn for every dot until fn returns false. The order is unspecified.
   * Meant for small contexts (those of deltas): a long-lived document's
   * context covers millions of dots.
   */
  forEach(fn: (d: Dot) => boolean): void {
    for (const [replica, rs] of this.byReplica) {
      for (const r of rs) {
        for (let n = r.lo; n <= r.hi; n++) {
          if (!fn({ replica, counter: n })) return;
        }
      }
    }
  }

  /**
   * Adds every dot of o to this context. Linear in the ranges of both: new
   * ranges past the last are appended, a handful are inserted singly, more
   * are merged in one pass, so a context that interleaves with this one
   * (3, 5, 7, … into 2, 4, 6, …) cannot make the merge quadratic.
   */
  merge(o: Context): void {
    for (const [replica, ors] of o.byReplica) {
      if (ors.length === 0) continue;
      let rs = this.byReplica.get(replica);
      if (rs === undefined || rs.length === 0) {
        rs = cloneRanges(ors);
      } else if (ors[0].lo - 1 > rs[rs.length - 1].hi) {
        for (const r of ors) rs.push({ lo: r.lo, hi: r.hi });
      } else if (ors.length <= insertOneByOne) {
        for (const r of ors) rs = addRange(rs, r);
      } else {
        rs = unionRanges(rs, ors);
      }
      this.byReplica.set(replica, rs);
    }
  }

  /** Reports whether every dot of o is in this context. */
  covers(o: Context): boolean {
    for (const [replica, ors] of o.byReplica) {
      const rs = this.byReplica.get(replica) ?? [];
      for (const r of ors) {
        const i = searchHi(rs, r.lo);
        if (i === rs.length || rs[i].lo > r.lo || rs[i].hi < r.hi) return false;
      }
    }
    return true;
  }

  /** Reports whether both contexts hold the same dots. */
  equal(o: Context): boolean {
    if (this.numReplicas() !== o.numReplicas()) return false;
    for (const [replica, rs] of this.byReplica) {
      if (rs.length === 0) continue;
      const ors = o.byReplica.get(replica);
      if (ors === undefined || ors.length !== rs.length) return false;
      for (let i = 0; i < rs.length; i++) {
        if (rs[i].lo !== ors[i].lo || rs[i].hi !== ors[i].hi) return false;
      }
    }
    return true;
  }

  /** Returns a deep copy. */
  clone(): Context {
    const out = new Context();
    for (const [replica, rs] of this.byReplica) {
      if (rs.length > 0) out.byReplica.set(replica, cloneRanges(rs));
    }
    return out;
  }

  /**
   * The dots this context has and have lacks: what a replica whose context
   * is have must receive to have seen everything this one has.
   */
  missing(have: Context): Context {
    const out = new Context();
    for (const [replica, rs] of this.byReplica) {
      const diff = subtractRanges(rs, have.byReplica.get(replica) ?? []);
      if (diff.length > 0) out.byReplica.set(replica, diff);
    }
    return out;
  }

  /**
   * This context minus the given counters, per replica. Counters must be
   * sorted ascending and present in the context. (Go: withoutCounters.)
   */
  withoutCounters(remove: ReadonlyMap<ReplicaID, readonly number[]>): Context {
    const out = new Context();
    for (const [replica, rs] of this.byReplica) {
      const holes = remove.get(replica);
      if (holes === undefined || holes.length === 0) {
        if (rs.length > 0) out.byReplica.set(replica, cloneRanges(rs));
        continue;
      }
      const res: Range[] = [];
      let h = 0;
      for (const r of rs) {
        let lo = r.lo;
        let open = true;
        while (h < holes.length && holes[h] < lo) h++;
        while (open && h < holes.length && holes[h] <= r.hi) {
          if (holes[h] > lo) res.push({ lo, hi: holes[h] - 1 });
          if (holes[h] === r.hi) open = false;
          else lo = holes[h] + 1;
          h++;
        }
        if (open) res.push({ lo, hi: r.hi });
      }
      if (res.length > 0) out.byReplica.set(replica, res);
    }
    return out;
  }
}

/** Returns a new context holding exactly dot d. */
export function contextOf(...dots: Dot[]): Context {
  const c = new Context();
  for (const d of dots) c.add(d);
  return c;
}

function cloneRanges(rs: readonly Range[]): Range[] {
  return rs.map((r) => ({ lo: r.lo, hi: r.hi }));
}

/** Index of the first range whose hi is ≥ n (rs.length if none): Go's sort.Search. */
function searchHi(rs: readonly Range[], n: number): number {
  let lo = 0;
  let hi = rs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rs[mid].hi >= n) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Adds a valid range to the sorted set rs (changing it) and returns the set.
 * Appending past the end is the common case for fresh writes.
 */
function addRange(rs: Range[], r: Range): Range[] {
  const n = rs.length;
  if (n > 0) {
    const last = rs[n - 1];
    if (r.lo - 1 > last.hi) {
      rs.push({ lo: r.lo, hi: r.hi });
      return rs;
    }
    if (r.lo >= last.lo) {
      last.hi = Math.max(last.hi, r.hi);
      return rs;
    }
    return unionRange(rs, r);
  }
  rs.push({ lo: r.lo, hi: r.hi });
  return rs;
}

/** Inserts r into the sorted set rs, coalescing what it touches. */
function unionRange(rs: Range[], r: Range): Range[] {
  // first range that ends at or after r.lo-1 (may merge with r)
  const i = searchHi(rs, r.lo - 1);
  // first range that starts after r.hi+1 (cannot merge)
  let j = i;
  while (j < rs.length && !(rs[j].lo - 1 > r.hi)) j++;
  let lo = r.lo;
  let hi = r.hi;
  if (i < j) {
    lo = Math.min(lo, rs[i].lo);
    hi = Math.max(hi, rs[j - 1].hi);
  }
  rs.splice(i, j - i, { lo, hi });
  return rs;
}

/**
 * How many ranges merge inserts singly (a search and a splice each) before
 * one linear pass is cheaper. (Go: insertOneByOne.)
 */
const insertOneByOne = 4;

/** The union of two sorted range sets in one pass over both, coalescing what touches. */
function unionRanges(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let r: Range;
    if (j === b.length || (i < a.length && a[i].lo <= b[j].lo)) r = a[i++];
    else r = b[j++];
    const last = out.length > 0 ? out[out.length - 1] : undefined;
    if (last !== undefined && r.lo - 1 <= last.hi) {
      last.hi = Math.max(last.hi, r.hi);
      continue;
    }
    out.push({ lo: r.lo, hi: r.hi });
  }
  return out;
}

/** Returns a \ b for sorted range sets. */
function subtractRanges(a: readonly Range[], b: readonly Range[]): Range[] {
  if (b.length === 0) return cloneRanges(a);
  const out: Range[] = [];
  let j = 0;
  for (const r of a) {
    let lo = r.lo;
    let open = true;
    while (j < b.length && b[j].hi < lo) j++;
    for (let k = j; open && k < b.length && b[k].lo <= r.hi; k++) {
      if (b[k].lo > lo) out.push({ lo, hi: b[k].lo - 1 });
      if (b[k].hi >= r.hi) open = false;
      else lo = b[k].hi + 1;
    }
    if (open) out.push({ lo, hi: r.hi });
  }
  return out;
}
