// The vocabulary of the workflow document's store (Go: the Kind, Key, Value
// and Cell declarations of crdt/workflow/doc.go): what a key addresses and
// what a cell holds. Its own module so that the codec (codec.ts, split.ts)
// can read and write a store without importing the Doc that uses it.

import type { Register } from '../crdt/register';

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
