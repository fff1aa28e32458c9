// Port of crdt/orset.go: a delta-state add-wins observed-remove set.

import { Context } from './context';
import type { Dot, ReplicaID } from './dot';
import { DotMap } from './dotmap';

/**
 * A delta-state add-wins observed-remove set. An add writes a fresh dot; a
 * remove carries, in its causal context, the dots it observed, so an add
 * concurrent with a remove survives it. No tombstone is kept per removed
 * element: the causal context says which dots were seen.
 *
 * Mutators change the set and return the delta that carries the change; a
 * delta is itself an ORSet. keyOf identifies elements (see DotMap).
 */
export class ORSet<E> {
  private ctx = new Context();
  private st: DotMap<E, null>;

  constructor(private readonly keyOf: (e: E) => string = String) {
    this.st = new DotMap(keyOf);
  }

  /** The set's causal context. It belongs to the set. */
  context(): Context {
    return this.ctx;
  }

  /** The set's dot store (elements to null). It belongs to the set. */
  store(): DotMap<E, null> {
    return this.st;
  }

  /** Reports whether e is in the set. */
  contains(e: E): boolean {
    return this.st.get(e).length > 0;
  }

  /** The number of elements. */
  len(): number {
    return this.st.len();
  }

  /** Calls fn for every element, in unspecified order. */
  elements(fn: (e: E) => void): void {
    this.st.range((e) => {
      fn(e);
      return true;
    });
  }

  /**
   * Inserts e, authored by replica, and returns the delta. The delta also
   * covers the dots of earlier adds of e, so the set keeps one dot per element.
   */
  add(e: E, replica: ReplicaID): ORSet<E> {
    const d: Dot = { replica, counter: this.ctx.max(replica) + 1 };
    const delta = new ORSet<E>(this.keyOf);
    delta.st.put(e, d, null);
    delta.ctx.add(d);
    for (const old of this.st.get(e)) delta.ctx.add(old.dot);
    this.join(delta);
    return delta;
  }

  /**
   * Deletes e as observed here, authored by replica, and returns the delta,
   * or undefined if e is not in the set. The delta spends a fresh dot that
   * only its context records, so a replica that missed the remove can tell
   * from causal contexts alone that it is behind.
   */
  remove(e: E, replica: ReplicaID): ORSet<E> | undefined {
    const es = this.st.get(e);
    if (es.length === 0) return undefined;
    const delta = new ORSet<E>(this.keyOf);
    delta.ctx.add({ replica, counter: this.ctx.max(replica) + 1 });
    for (const old of es) delta.ctx.add(old.dot);
    this.join(delta);
    return delta;
  }

  /** Merges o into this set. */
  join(o: ORSet<E>): void {
    this.st.join(o.st, this.ctx, o.ctx);
    this.ctx.merge(o.ctx);
  }

  /** What a replica whose causal context is have lacks: the adds and removes it has not seen. */
  deltaSince(have: Context): ORSet<E> {
    const [st, ctx] = this.st.since(this.ctx, have);
    const out = new ORSet<E>(this.keyOf);
    out.ctx = ctx;
    out.st = st;
    return out;
  }

  /** An independent copy. */
  clone(): ORSet<E> {
    const out = new ORSet<E>(this.keyOf);
    out.ctx = this.ctx.clone();
    out.st = this.st.clone();
    return out;
  }
}
