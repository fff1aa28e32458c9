// Port of crdt/lww.go: a delta-state map of last-writer-wins registers.

import { Context } from './context';
import type { Dot, ReplicaID } from './dot';
import { DotMap } from './dotmap';
import type { Timestamp } from './hlc';
import { winner, type Register } from './register';

/**
 * A delta-state map of last-writer-wins registers. Each key holds the values
 * of concurrent writes until a writer that has seen them all writes again;
 * get resolves them by hybrid logical time, so every replica reads the same
 * value. delete removes the values it has seen: a concurrent set survives it.
 *
 * Mutators change the map and return the delta that carries the change to
 * other replicas; a delta is itself an LWWMap. keyOf identifies keys (see
 * DotMap).
 */
export class LWWMap<K, V> {
  private ctx = new Context();
  private st: DotMap<K, Register<V>>;

  constructor(private readonly keyOf: (k: K) => string = String) {
    this.st = new DotMap(keyOf);
  }

  /** The map's causal context. It belongs to the map. */
  context(): Context {
    return this.ctx;
  }

  /** The map's dot store. It belongs to the map. */
  store(): DotMap<K, Register<V>> {
    return this.st;
  }

  /** The winning value under k, undefined if none. */
  get(k: K): V | undefined {
    const es = this.st.get(k);
    const i = winner(es);
    return i >= 0 ? es[i].value.value : undefined;
  }

  /** Reports whether k holds a value (which may itself be undefined-like, e.g. null). */
  has(k: K): boolean {
    return this.st.get(k).length > 0;
  }

  /** Calls fn for every key holding a value, in unspecified order. */
  keys(fn: (k: K) => void): void {
    this.st.range((k) => {
      fn(k);
      return true;
    });
  }

  /** The number of keys holding a value. */
  len(): number {
    return this.st.len();
  }

  /**
   * Writes v under k at time ts, authored by ts.replica, and returns the
   * delta. The delta's context covers the values it replaces.
   */
  set(k: K, v: V, ts: Timestamp): LWWMap<K, V> {
    const d: Dot = { replica: ts.replica, counter: this.ctx.max(ts.replica) + 1 };
    const delta = new LWWMap<K, V>(this.keyOf);
    delta.st.put(k, d, { wall: ts.wall, logical: ts.logical, value: v });
    delta.ctx.add(d);
    for (const e of this.st.get(k)) delta.ctx.add(e.dot);
    this.join(delta);
    return delta;
  }

  /**
   * Removes the values under k that this replica has seen, authored by
   * replica, and returns the delta, or undefined if k holds nothing. Like
   * every mutation it spends a fresh dot (recorded in the delta's context
   * only), so a replica that missed the delete can tell from causal contexts
   * alone that it is behind.
   */
  delete(k: K, replica: ReplicaID): LWWMap<K, V> | undefined {
    const es = this.st.get(k);
    if (es.length === 0) return undefined;
    const delta = new LWWMap<K, V>(this.keyOf);
    delta.ctx.add({ replica, counter: this.ctx.max(replica) + 1 });
    for (const e of es) delta.ctx.add(e.dot);
    this.join(delta);
    return delta;
  }

  /** Merges o into this map. */
  join(o: LWWMap<K, V>): void {
    this.st.join(o.st, this.ctx, o.ctx);
    this.ctx.merge(o.ctx);
  }

  /**
   * What a replica whose causal context is have lacks: the values it has
   * not seen and the removals it has not seen.
   */
  deltaSince(have: Context): LWWMap<K, V> {
    const [st, ctx] = this.st.since(this.ctx, have);
    const out = new LWWMap<K, V>(this.keyOf);
    out.ctx = ctx;
    out.st = st;
    return out;
  }

  /** An independent copy. */
  clone(): LWWMap<K, V> {
    const out = new LWWMap<K, V>(this.keyOf);
    out.ctx = this.ctx.clone();
    out.st = this.st.clone();
    return out;
  }
}
