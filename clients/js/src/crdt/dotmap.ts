// Port of crdt/dotmap.go: the dot store shared by every CRDT here.

import type { Context } from './context';
import type { Dot, ReplicaID } from './dot';

/** A value written under a unique dot. */
export interface Dotted<V> {
  readonly dot: Dot;
  readonly value: V;
}

/** The values under one key, with the key itself (Go: slot). */
/**
 * How many values a key may hold before join stops removing them one
 * linear search at a time. (Go: crowdedSlot.)
 */
const crowdedSlot = 8;

interface Slot<K, V> {
  readonly key: K;
  /** keyOf(key), kept so that dropping an emptied slot needs no recomputation. */
  readonly ks: string;
  entries: Dotted<V>[];
}

/**
 * The dot store: a map from keys to the values written under them, each value
 * tagged with the dot of its write. A key usually holds one value; it holds
 * several only while writes to it are concurrent (no writer has seen the
 * others yet), and the next write by a replica that has seen them all folds
 * them back into one.
 *
 * A DotMap means nothing without the causal context it lives in: a dot that
 * the context has seen but the map does not hold was removed. The join of two
 * (map, context) pairs keeps a value when both sides hold it, or when the
 * side that lacks it has never seen its dot.
 *
 * Keys are objects in TypeScript (a workflow Key is {kind, id, sub}), so the
 * map is built with keyOf, which turns a key into a string that identifies
 * it; two keys with the same keyOf are the same key.
 */
export class DotMap<K, V> {
  private byKey = new Map<string, Slot<K, V>>();
  // byDot points at the slot, not the key, so that a removal by dot (what
  // every overwrite does) costs one lookup instead of two.
  private byDot = new Map<ReplicaID, Map<number, Slot<K, V>>>();
  private count = 0;

  constructor(private readonly keyOf: (k: K) => string = String) {}

  /** The values held under k. The array belongs to the map: do not change it. */
  get(k: K): readonly Dotted<V>[] {
    return this.byKey.get(this.keyOf(k))?.entries ?? [];
  }

  /** Reports whether a value is written under dot d. */
  has(d: Dot): boolean {
    return this.slotOf(d) !== undefined;
  }

  /** The key dot d is written under, undefined if none. */
  keyOfDot(d: Dot): K | undefined {
    return this.slotOf(d)?.key;
  }

  /** The number of keys holding at least one value. */
  len(): number {
    return this.byKey.size;
  }

  /** The number of values held. */
  numDots(): number {
    return this.count;
  }

  /**
   * Calls fn for every key and its values, in unspecified order, until fn
   * returns false. fn must not change the map.
   */
  range(fn: (k: K, es: readonly Dotted<V>[]) => boolean): void {
    for (const s of this.byKey.values()) {
      if (!fn(s.key, s.entries)) return;
    }
  }

  /** Calls fn for every dot held, in unspecified order. */
  dots(fn: (d: Dot) => void): void {
    for (const s of this.byKey.values()) for (const e of s.entries) fn(e.dot);
  }

  /**
   * Stores v under k with dot d and reports whether it did: it is how a
   * mutator builds its delta and how a decoder rebuilds a store. A dot
   * already held is left as it is (and put returns false).
   */
  put(k: K, d: Dot, v: V): boolean {
    let perReplica = this.byDot.get(d.replica);
    if (perReplica === undefined) {
      perReplica = new Map();
      this.byDot.set(d.replica, perReplica);
    } else if (perReplica.has(d.counter)) {
      return false;
    }
    const ks = this.keyOf(k);
    let s = this.byKey.get(ks);
    if (s === undefined) {
      s = { key: k, ks, entries: [{ dot: d, value: v }] };
      this.byKey.set(ks, s);
    } else {
      s.entries.push({ dot: d, value: v });
    }
    perReplica.set(d.counter, s);
    this.count++;
    return true;
  }

  private slotOf(d: Dot): Slot<K, V> | undefined {
    return this.byDot.get(d.replica)?.get(d.counter);
  }

  private remove(d: Dot, s: Slot<K, V>): void {
    this.forget(d);
    const es = s.entries;
    const i = es.findIndex((e) => e.dot.counter === d.counter && e.dot.replica === d.replica);
    if (i < 0) return;
    // Swap-remove, as Go does; entry order within a key carries no meaning.
    es[i] = es[es.length - 1];
    es.pop();
    if (es.length === 0) this.byKey.delete(s.ks);
  }

  /**
   * Merges o, whose causal context is oc, into this map, whose causal
   * context is mc. It does not change either context: the caller merges oc
   * into mc after joining every store that shares it. Returns how many values
   * were added or removed.
   */
  join(o: DotMap<K, V>, mc: Context, oc: Context): number {
    let changed = 0;
    // Add what o holds and this map has never seen.
    for (const os of o.byKey.values()) {
      for (const e of os.entries) {
        if (this.has(e.dot) || mc.contains(e.dot)) continue;
        this.put(os.key, e.dot, e.value);
        changed++;
      }
    }
    // Remove what o has seen and does not hold. Walk whichever side is
    // smaller: a delta's context has a handful of dots, a full state's
    // covers them all. A key holding many concurrent values is compacted
    // once at the end rather than searched per removed value, which would be
    // quadratic in its values (Go: Join).
    const crowded = new Set<Slot<K, V>>();
    const drop = (d: Dot, s: Slot<K, V>): void => {
      changed++;
      if (s.entries.length <= crowdedSlot) {
        this.remove(d, s);
        return;
      }
      this.forget(d);
      crowded.add(s);
    };
    if (oc.len() <= this.count) {
      oc.forEach((d) => {
        const s = this.slotOf(d);
        if (s !== undefined && !o.has(d)) drop(d, s);
        return true;
      });
    } else {
      const doomed: [Dot, Slot<K, V>][] = [];
      for (const s of this.byKey.values()) {
        for (const e of s.entries) {
          if (oc.contains(e.dot) && !o.has(e.dot)) doomed.push([e.dot, s]);
        }
      }
      for (const [d, s] of doomed) drop(d, s);
    }
    for (const s of crowded) {
      s.entries = s.entries.filter((e) => this.slotOf(e.dot) === s);
      if (s.entries.length === 0) this.byKey.delete(s.ks);
    }
    return changed;
  }

  /** Drops d from the dot index only (compaction of its slot follows). */
  private forget(d: Dot): void {
    const perReplica = this.byDot.get(d.replica);
    if (perReplica !== undefined && perReplica.delete(d.counter)) {
      this.count--;
      if (perReplica.size === 0) this.byDot.delete(d.replica);
    }
  }

  /**
   * The values whose dots have lacks, and the causal context a delta
   * carrying them must have so that joining it into a replica at have also
   * removes what this map has removed: every dot of mc except those of values
   * the map still holds and have has already seen. (Go: Since.)
   */
  since(mc: Context, have: Context): [DotMap<K, V>, Context] {
    const out = new DotMap<K, V>(this.keyOf);
    const kept = new Map<ReplicaID, number[]>();
    for (const s of this.byKey.values()) {
      for (const e of s.entries) {
        if (have.contains(e.dot)) {
          let cs = kept.get(e.dot.replica);
          if (cs === undefined) {
            cs = [];
            kept.set(e.dot.replica, cs);
          }
          cs.push(e.dot.counter);
          continue;
        }
        out.put(s.key, e.dot, e.value);
      }
    }
    for (const cs of kept.values()) cs.sort((a, b) => a - b);
    return [out, mc.withoutCounters(kept)];
  }

  /** A copy that shares no maps or arrays with this one. Values are copied shallowly. */
  clone(): DotMap<K, V> {
    const out = new DotMap<K, V>(this.keyOf);
    for (const s of this.byKey.values()) {
      for (const e of s.entries) out.put(s.key, e.dot, e.value);
    }
    return out;
  }
}
