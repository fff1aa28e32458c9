// Port of crdt/workflow/index.go: the document's derived index, which lets
// an operation, and deltaSince, touch only what they concern instead of
// scanning the document. Secondary indexes over the document's store, kept
// up to date by Doc.merge and rebuilt from the store when missing (after
// decode, clone, or a merge too large to follow key by key). It is derived
// state only: never encoded, never compared.
//
// Each index answers with a superset of the right answer, and callers check
// every candidate against the document with the same reads as before, so an
// index can make an operation cheaper but never change what it does:
//
//   - keys: the keys stored for each block, edge or variable id;
//   - children: the blocks whose winning stored parentId names a block;
//   - names: the blocks whose winning stored name normalizes to a name;
//   - edgesAt: the edges with a value naming a block as an end;
//   - dots: per replica, the counters of the dots held, sorted, and removed,
//     the dots of the context no longer held (both for deltaSince).
//
// It works on a store and a context rather than a Doc, so that doc.ts can
// own one without an import cycle.

import { Context } from '../crdt/context';
import type { Dot, ReplicaID } from '../crdt/dot';
import { DotMap, type Dotted } from '../crdt/dotmap';
import { winner } from '../crdt/register';
import { FieldName, FieldParentID, asEdge, asString } from './fields';
import {
  KindBlock,
  KindBlockField,
  KindEdge,
  KindSubBlock,
  KindSubBlockType,
  KindSubflow,
  KindVariable,
  KindVariableField,
  keyString,
  type Cell,
  type Key,
  type Kind,
} from './key';
import { normalizeName } from './state';

/**
 * The element a key belongs to, as a string: a block (with its fields,
 * sub-blocks and subflow config), an edge or a variable. The kind is one
 * digit, so the id after it cannot make two entities collide.
 */
export function entityOf(k: Key): string {
  return entity(entityKind(k.kind), k.id);
}

/** The entity string of element id of membership kind (KindBlock, KindEdge or KindVariable). */
export function entity(kind: Kind, id: string): string {
  return `${kind}${id}`;
}

function entityKind(k: Kind): Kind {
  switch (k) {
    case KindBlock:
    case KindBlockField:
    case KindSubBlock:
    case KindSubBlockType:
    case KindSubflow:
      return KindBlock;
    case KindVariable:
    case KindVariableField:
      return KindVariable;
  }
  return k;
}

/**
 * One replica's held counters, ascending. Removals are lazy: a removed
 * counter stays until compaction, and readers skip counters the store no
 * longer holds. stale counts them, so compaction is amortized O(1).
 */
interface Counters {
  cs: number[];
  stale: number;
}

/** A key a merge may change, and whether it held values before. */
interface TouchedKey {
  k: Key;
  had: boolean;
}

/** See the module comment. */
export class DocIndex {
  /** entity → its keys holding values (a handful each: arrays, as Go's slices). */
  readonly keys = new Map<string, Key[]>();
  /** block → the parent its winning parentId names. */
  private readonly parent = new Map<string, string>();
  readonly children = new Map<string, Set<string>>();
  /** block → its winning name, normalized. */
  private readonly name = new Map<string, string>();
  readonly names = new Map<string, Set<string>>();
  /**
   * How many normalized names more than one block holds: while it is 0
   * every block shows its own name (names.ts).
   */
  shared = 0;
  /** edge → the ends its values name. */
  private readonly ends = new Map<string, string[]>();
  readonly edgesAt = new Map<string, Set<string>>();
  private readonly dots = new Map<ReplicaID, Counters>();
  private removed = new Context();

  /** Builds the index of a store and its context. */
  static build(st: DotMap<Key, Cell>, ctx: Context): DocIndex {
    const x = new DocIndex();
    st.range((k, es) => {
      // Each key of the store once: no search for it in its element's list.
      const ent = entityOf(k);
      const ks = x.keys.get(ent);
      if (ks === undefined) x.keys.set(ent, [k]);
      else ks.push(k);
      x.derive(k, es);
      for (const e of es) x.counters(e.dot.replica).cs.push(e.dot.counter);
      return true;
    });
    const held = new Map<ReplicaID, number[]>();
    for (const [r, c] of x.dots) {
      c.cs.sort((a, b) => a - b);
      held.set(r, c.cs);
    }
    x.removed = ctx.withoutCounters(held);
    return x;
  }

  /**
   * Joins delta (dst, dctx) into the store st and context ctx keeping the
   * index up to date, and returns how many values it added or removed; -1
   * (having done nothing) when delta is too large to follow dot by dot: the
   * caller then merges and drops the index.
   */
  merge(st: DotMap<Key, Cell>, ctx: Context, dst: DotMap<Key, Cell>, dctx: Context): number {
    if (dctx.len() > st.numDots()) return -1;
    const touched: TouchedKey[] = [];
    const seen = new Set<string>();
    const added: Dot[] = [];
    const note = (k: Key): void => {
      const ks = keyString(k);
      if (seen.has(ks)) return;
      seen.add(ks);
      touched.push({ k, had: st.get(k).length > 0 });
    };
    dst.range((k, es) => {
      note(k);
      for (const e of es) if (!st.has(e.dot) && !ctx.contains(e.dot)) added.push(e.dot);
      return true;
    });
    dctx.forEach((d) => {
      const k = st.keyOfDot(d);
      if (k !== undefined) note(k);
      return true;
    });
    const n = st.join(dst, ctx, dctx);
    ctx.merge(dctx);
    for (const t of touched) {
      const es = st.get(t.k);
      const has = es.length > 0;
      if (has !== t.had) this.setKey(t.k, has);
      this.derive(t.k, es);
    }
    for (const d of added) this.addDot(d);
    dctx.forEach((d) => {
      if (!st.has(d)) {
        this.removed.add(d);
        const c = this.dots.get(d.replica);
        // Overcounts a dot that was never held; compaction recounts.
        if (c !== undefined && ++c.stale > c.cs.length / 2) this.compact(st, d.replica, c);
      }
      return true;
    });
    return n;
  }

  /**
   * deltaSince through the index. The values have lacks are those whose dots
   * are in ctx and not in have: each replica's missing ranges, looked up in
   * its sorted counters. The delta's context must let a replica at have
   * remove what the document removed without removing what it still holds:
   * every dot of ctx except the held ones have has seen, which is the dots
   * have lacks plus the dots no longer held (removed).
   */
  since(st: DotMap<Key, Cell>, ctx: Context, have: Context): [DotMap<Key, Cell>, Context] {
    const out = new DotMap<Key, Cell>(keyString);
    const missing = ctx.missing(have);
    for (const r of missing.replicas()) {
      const c = this.dots.get(r);
      if (c === undefined) continue;
      const cs = c.cs;
      for (const rg of missing.ranges(r)) {
        for (let i = lowerBound(cs, rg.lo); i < cs.length && cs[i] <= rg.hi; i++) {
          const d: Dot = { replica: r, counter: cs[i] };
          const k = st.keyOfDot(d);
          if (k === undefined) continue; // removed; compaction has not dropped it yet
          for (const e of st.get(k)) {
            if (e.dot.counter === d.counter && e.dot.replica === r) out.put(k, e.dot, e.value);
          }
        }
      }
    }
    missing.merge(this.removed);
    return [out, missing];
  }

  private counters(r: ReplicaID): Counters {
    let c = this.dots.get(r);
    if (c === undefined) {
      c = { cs: [], stale: 0 };
      this.dots.set(r, c);
    }
    return c;
  }

  private addDot(d: Dot): void {
    const cs = this.counters(d.replica).cs;
    if (cs.length === 0 || cs[cs.length - 1] < d.counter) {
      cs.push(d.counter); // the common case: a replica's next write
      return;
    }
    const i = lowerBound(cs, d.counter);
    if (cs[i] !== d.counter) cs.splice(i, 0, d.counter);
  }

  /** Drops the counters of replica r that st no longer holds. */
  private compact(st: DotMap<Key, Cell>, r: ReplicaID, c: Counters): void {
    c.cs = c.cs.filter((n) => st.has({ replica: r, counter: n }));
    c.stale = 0;
    if (c.cs.length === 0) this.dots.delete(r);
  }

  /** Records that key k holds values (has) or no longer does. */
  private setKey(k: Key, has: boolean): void {
    const ent = entityOf(k);
    const ks = this.keys.get(ent);
    const i = ks === undefined ? -1 : ks.findIndex((o) => o.kind === k.kind && o.sub === k.sub && o.id === k.id);
    if (has && i < 0) {
      if (ks === undefined) this.keys.set(ent, [k]);
      else ks.push(k);
    } else if (!has && ks !== undefined && i >= 0) {
      ks[i] = ks[ks.length - 1];
      ks.pop();
      if (ks.length === 0) this.keys.delete(ent);
    }
  }

  /** Brings the parent, name and edge indexes up to date for key k, whose values are now es. */
  private derive(k: Key, es: readonly Dotted<Cell>[]): void {
    if (k.kind === KindBlockField && k.sub === FieldParentID) {
      const w = winner(es);
      this.setParent(k.id, w >= 0 ? asString(es[w].value.value) : '');
    } else if (k.kind === KindBlockField && k.sub === FieldName) {
      const w = winner(es);
      this.setName(k.id, w >= 0 ? normalizeName(asString(es[w].value.value)) : '');
    } else if (k.kind === KindEdge) {
      const ends: string[] = [];
      for (const e of es) {
        const ed = asEdge(e.value.value);
        for (const end of [ed.source, ed.target]) if (!ends.includes(end)) ends.push(end);
      }
      this.setEnds(k.id, ends);
    }
  }

  private setParent(id: string, p: string): void {
    const old = this.parent.get(id) ?? '';
    if (old === p) return;
    unlink(this.children, old, id);
    this.parent.delete(id);
    if (p !== '') {
      link(this.children, p, id);
      this.parent.set(id, p);
    }
  }

  private setName(id: string, n: string): void {
    const old = this.name.get(id) ?? '';
    if (old === n) return;
    if (old !== '') {
      if (this.names.get(old)?.size === 2) this.shared--;
      unlink(this.names, old, id);
      this.name.delete(id);
    }
    if (n !== '') {
      link(this.names, n, id);
      if (this.names.get(n)?.size === 2) this.shared++;
      this.name.set(id, n);
    }
  }

  private setEnds(id: string, ends: string[]): void {
    for (const end of this.ends.get(id) ?? []) if (!ends.includes(end)) unlink(this.edgesAt, end, id);
    for (const end of ends) link(this.edgesAt, end, id);
    if (ends.length === 0) this.ends.delete(id);
    else this.ends.set(id, ends);
  }
}

function link(m: Map<string, Set<string>>, at: string, id: string): void {
  let s = m.get(at);
  if (s === undefined) {
    s = new Set();
    m.set(at, s);
  }
  s.add(id);
}

function unlink(m: Map<string, Set<string>>, at: string, id: string): void {
  const s = m.get(at);
  if (s !== undefined && s.delete(id) && s.size === 0) m.delete(at);
}

/** The first index i with cs[i] ≥ n (cs.length if none): Go's slices.BinarySearch. */
function lowerBound(cs: readonly number[], n: number): number {
  let lo = 0;
  let hi = cs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cs[mid] < n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
