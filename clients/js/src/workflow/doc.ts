// Port of crdt/workflow/doc.go: the workflow document, which is also a delta.

import { Context } from '../crdt/context';
import type { Dot } from '../crdt/dot';
import { DotMap, type Dotted } from '../crdt/dotmap';
import { winner as winnerIndex, type Register } from '../crdt/register';
import { encodeDoc } from './encode';
import { encodeChunks } from './split';

/**
 * Which part of the document a key belongs to. Values are part of the
 * encoding: never renumber them.
 */
export type Kind = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/** Block membership (an add-wins OR-set): id is the block id, sub is empty, the value is nil. */
export const KindBlock = 1 as const;
/** A block field (LWW): id is the block id, sub the field name (see the Field* constants). */
export const KindBlockField = 2 as const;
/** A sub-block value (LWW): id is the block id, sub the sub-block id. */
export const KindSubBlock = 3 as const;
/** A sub-block's type (LWW), e.g. "short-input". */
export const KindSubBlockType = 4 as const;
/** Edge membership (an add-wins OR-set): id is the edge id, the value the edge's endpoints, written once by the add. */
export const KindEdge = 5 as const;
/** A loop or parallel config key (LWW): id is the container block id, sub the config key. */
export const KindSubflow = 6 as const;
/** Variable membership (an add-wins OR-set). */
export const KindVariable = 7 as const;
/** A variable field (LWW): sub is name, type or value. */
export const KindVariableField = 8 as const;

/** The greatest kind the decoder accepts. (Go: maxKind.) */
export const maxKind = KindVariableField;

/** Reports whether k is a kind this version knows. */
export function isKind(k: number): k is Kind {
  return Number.isInteger(k) && k >= KindBlock && k <= maxKind;
}

/** Addresses one register or set element of the document. */
export interface Key {
  readonly kind: Kind;
  readonly id: string;
  readonly sub: string;
}

/**
 * The string that identifies k in maps: unambiguous for any id and sub
 * (the id's length is written before it, so no separator can collide).
 */
export function keyString(k: Key): string {
  return `${k.kind}:${k.id.length}:${k.id}${k.sub}`;
}

/**
 * A field value in canonical msgpack (see msgpackx canonical); null is no
 * value. An explicit msgpack nil (0xc0) is also no value (sameCellValue).
 */
export type Value = Uint8Array | null;

/** What the document stores under a dot: a value and the hybrid logical time it was written at. */
export type Cell = Register<Value>;

/**
 * Reports whether two cell values are the same: an explicit msgpack nil is
 * no value, as in the encoding (which writes both as nil and decodes nil as
 * no value).
 */
export function sameCellValue(a: Value, b: Value): boolean {
  const aNil = isNilValue(a);
  const bNil = isNilValue(b);
  if (aNil || bNil) return aNil && bNil;
  const x = a as Uint8Array;
  const y = b as Uint8Array;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function isNilValue(v: Value): boolean {
  return v === null || v.length === 0 || (v.length === 1 && v[0] === 0xc0);
}

/**
 * A workflow document, and also a delta: a delta is a document that holds
 * only what changed. A new Doc is empty and ready to use. Operations
 * (prepare/apply) are attached by builder.ts; the view by view.ts.
 */
export class Doc {
  private ctx: Context;
  private st: DotMap<Key, Cell>;

  /**
   * Returns an empty document, or one made of the given context and store
   * (which it takes ownership of; the store must be keyed by keyString and
   * hold only dots the context contains, or encode will refuse it).
   */
  constructor(ctx: Context = new Context(), st: DotMap<Key, Cell> = new DotMap<Key, Cell>(keyString)) {
    this.ctx = ctx;
    this.st = st;
  }

  /** The document's causal context. It belongs to the document. */
  context(): Context {
    return this.ctx;
  }

  /** The document's dot store. It belongs to the document. */
  store(): DotMap<Key, Cell> {
    return this.st;
  }

  /**
   * Joins delta into this document and returns how many stored values it
   * added or removed. Merging is commutative, associative and idempotent.
   */
  merge(delta: Doc): number {
    const n = this.st.join(delta.st, this.ctx, delta.ctx);
    this.ctx.merge(delta.ctx);
    return n;
  }

  /**
   * What a replica whose causal context is have lacks: the writes it has not
   * seen and the removals it has not seen.
   */
  deltaSince(have: Context): Doc {
    const [st, ctx] = this.st.since(this.ctx, have);
    return new Doc(ctx, st);
  }

  /** An independent copy. (Values are immutable byte arrays and are shared.) */
  clone(): Doc {
    return new Doc(this.ctx.clone(), this.st.clone());
  }

  /** Reports whether the document holds no value and no context: an empty delta. */
  isEmpty(): boolean {
    return this.st.numDots() === 0 && this.ctx.isEmpty();
  }

  /**
   * Reports whether both are the same state: the same causal context and the
   * same values under the same dots.
   */
  equal(o: Doc): boolean {
    if (!this.ctx.equal(o.ctx) || this.st.numDots() !== o.st.numDots()) return false;
    let equal = true;
    this.st.range((k, es) => {
      for (const e of es) {
        const c = o.cellAt(k, e.dot);
        if (c === undefined || c.wall !== e.value.wall || c.logical !== e.value.logical || !sameCellValue(c.value, e.value.value)) {
          equal = false;
          return false;
        }
      }
      return true;
    });
    return equal;
  }

  /** The cell stored under k with dot, undefined if none. */
  cellAt(k: Key, dot: Dot): Cell | undefined {
    for (const e of this.st.get(k)) {
      if (e.dot.counter === dot.counter && e.dot.replica === dot.replica) return e.value;
    }
    return undefined;
  }

  /** The winning value under k, null if none. */
  get(k: Key): Value {
    const es = this.st.get(k);
    const i = winnerIndex(es);
    return i >= 0 ? es[i].value.value : null;
  }

  /** The winning entry under k, undefined if none. */
  winner(k: Key): Dotted<Cell> | undefined {
    const es = this.st.get(k);
    const i = winnerIndex(es);
    return i >= 0 ? es[i] : undefined;
  }

  /** Reports whether any value is stored under k: for a membership key, whether the element is in the set. */
  has(k: Key): boolean {
    return this.st.get(k).length > 0;
  }

  /**
   * The canonical encoding: equal states encode to equal bytes, on every
   * replica and in every language (PROTOCOL.md §7.2). See encode.ts.
   */
  encode(): Uint8Array {
    return encodeDoc(this);
  }

  /**
   * The document as one or more encoded chunks of about limit bytes each,
   * whose join in any order is this document. See split.ts.
   */
  encodeChunks(limit: number): Uint8Array[] {
    return encodeChunks(this, limit);
  }
}

/** Returns an empty document. (Go: New.) */
export function newDoc(): Doc {
  return new Doc();
}
