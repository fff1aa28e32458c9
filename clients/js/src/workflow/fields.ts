// Port of crdt/workflow/fields.go: field names, the value shapes operations
// write, and the readers that decode them. Byte layouts must match Go exactly:
// these bytes are what deltas carry and what the golden vectors compare.

import { Writer } from '../msgpackx/append';
import { Reader, decodeUtf8Go } from '../msgpackx/reader';
import { canonical, decode as decodeMsgpack } from '../msgpackx/value';
import type { Value } from './key';

// Block field names (the sub of a KindBlockField key). Each is its own
// last-writer-wins register, so concurrent edits to different fields of one
// block never conflict.
export const FieldType = 'type';
export const FieldName = 'name';
/** [x, y] as two float64. */
export const FieldPosition = 'position';
export const FieldEnabled = 'enabled';
export const FieldHorizontalHandles = 'horizontalHandles';
export const FieldIsWide = 'isWide';
export const FieldAdvancedMode = 'advancedMode';
export const FieldTriggerMode = 'triggerMode';
export const FieldErrorEnabled = 'errorEnabled';
export const FieldLocked = 'locked';
export const FieldHeight = 'height';
/** string; absent = top level. */
export const FieldParentID = 'parentId';
/** "parent" or absent. */
export const FieldExtent = 'extent';
export const FieldOutputs = 'outputs';
export const FieldRetry = 'retry';
/**
 * Prefixes one key of the block's free-form data map ("data.width");
 * parentId, extent and canonicalModes have fields of their own.
 */
export const FieldDataPrefix = 'data.';
/** Prefixes one canonical-mode entry ("canonicalMode.<canonicalId>" → "basic" | "advanced"). */
export const FieldCanonicalPrefix = 'canonicalMode.';

// Variable field names (the sub of a KindVariableField key).
export const VarFieldName = 'name';
export const VarFieldType = 'type';
export const VarFieldValue = 'value';

/**
 * The value of a KindEdge entry: an edge's endpoints, fixed at add. Empty
 * strings stand for Go's omitted (omitempty) handles and type.
 */
export interface Edge {
  id: string;
  source: string;
  sourceHandle: string;
  target: string;
  targetHandle: string;
  type: string;
}

/** A block's canvas position. */
export interface Position {
  x: number;
  y: number;
}

/** The zero Edge, what a value of another shape reads as. */
export function zeroEdge(): Edge {
  return { id: '', source: '', sourceHandle: '', target: '', targetHandle: '', type: '' };
}

// ---- writers: the fixed shapes, in the exact bytes Go's msgpackx.Append* write ----

export function boolValue(v: boolean): Value {
  return new Writer(1).bool(v).bytes();
}

export function stringValue(s: string): Value {
  return new Writer(s.length + 5).string(s).bytes();
}

/**
 * A number in canonical form: an integral value as the shortest integer,
 * others as float64. NaN and ±Infinity are written as a plain float64 for
 * prepare to refuse (every delta's values are checked there), as in Go.
 */
export function floatValue(f: number): Value {
  if (!Number.isFinite(f)) return new Writer(9).float(f).bytes();
  return canonical(f);
}

/**
 * Encodes a JSON-shaped value canonically; null and undefined are no value
 * (nil), as Go's anyValue treats a nil interface. Throws what canonical throws
 * for an unencodable value (callers wrap it as Invalid).
 */
export function anyValue(v: unknown): Value {
  if (v === null || v === undefined) return null;
  return canonical(v);
}

/** A position as a two-element array of float64, always the 9-byte float form. */
export function positionValue(p: Position): Value {
  return new Writer(19).arrayHeader(2).float(p.x).float(p.y).bytes();
}

/**
 * An edge as a map with keys in byte order (s, sh, t, th, ty), empty handles
 * and type left out, exactly as Go's edgeValue.
 */
export function edgeValue(e: Edge): Value {
  let n = 2;
  for (const s of [e.sourceHandle, e.targetHandle, e.type]) {
    if (s !== '') n++;
  }
  const w = new Writer().mapHeader(n);
  w.string('s').string(e.source);
  if (e.sourceHandle !== '') w.string('sh').string(e.sourceHandle);
  w.string('t').string(e.target);
  if (e.targetHandle !== '') w.string('th').string(e.targetHandle);
  if (e.type !== '') w.string('ty').string(e.type);
  return w.bytes();
}

// ---- readers ----
//
// The readers below decode the value shapes the operations write. A value of
// another shape (a raw delta may carry anything) reads as the zero value, the
// same way on every replica. msgpackx's Reader throws at the first problem
// where Go's keeps a sticky error; a caught throw is that error.

/**
 * Decodes string bytes as Go's string(bytes) followed by rendering does:
 * invalid UTF-8 is not an error (Go keeps the bytes), and each byte that
 * utf8.DecodeRune refuses becomes one U+FFFD, which is what Go's JSON view,
 * strings.ToLower (NormalizeName, name clash checks) and range loops see.
 * TextDecoder's rule (one U+FFFD per maximal truncated sequence, leading BOM
 * dropped) differs, so it is not used for values.
 *
 * Known limit: Go keeps the raw bytes, so two names that differ only in their
 * invalid bytes are different strings in Go (but normalize alike, as here),
 * and copying such a name (duplicate) writes the raw bytes back where this
 * port writes the U+FFFD form.
 */
const lenientUtf8 = { decode: decodeUtf8Go };

/** Reads a boolean field: def for an absent value or one of another shape. */
export function asBool(v: Value, def: boolean): boolean {
  if (v !== null && v.length === 1) {
    if (v[0] === 0xc2) return false;
    if (v[0] === 0xc3) return true;
  }
  return def;
}

/** Reads a string field: "" for an absent value or one of another shape. */
export function asString(v: Value): string {
  if (v === null || v.length === 0) return '';
  try {
    const r = new Reader(v);
    const s = r.stringBytes();
    return r.done() ? lenientUtf8.decode(s) : '';
  } catch {
    return '';
  }
}

/**
 * Reads a numeric field. Like Go's (float64, bool) it returns [value, ok]:
 * [0, false] for an absent value, another shape or NaN.
 */
export function asFloat(v: Value): [number, boolean] {
  if (v === null || v.length === 0) return [0, false];
  try {
    const r = new Reader(v);
    const f = r.float();
    if (!r.done() || Number.isNaN(f)) return [0, false];
    return [f, true];
  } catch {
    return [0, false];
  }
}

/** Reads a position field: {0, 0} for an absent value or one of another shape. */
export function asPosition(v: Value): Position {
  if (v === null || v.length === 0) return { x: 0, y: 0 };
  try {
    const r = new Reader(v);
    if (r.arrayHeader() !== 2) return { x: 0, y: 0 };
    const p = { x: r.float(), y: r.float() };
    if (!r.done() || Number.isNaN(p.x) || Number.isNaN(p.y)) return { x: 0, y: 0 };
    return p;
  } catch {
    return { x: 0, y: 0 };
  }
}

/** Reads an edge value: the zero Edge for an absent value or one of another shape. */
export function asEdge(v: Value): Edge {
  if (v === null || v.length === 0) return zeroEdge();
  const e = zeroEdge();
  try {
    const r = new Reader(v);
    const str = (): string => lenientUtf8.decode(r.stringBytes());
    const n = r.mapHeader();
    for (let i = 0; i < n; i++) {
      switch (str()) {
        case 's':
          e.source = str();
          break;
        case 'sh':
          e.sourceHandle = str();
          break;
        case 't':
          e.target = str();
          break;
        case 'th':
          e.targetHandle = str();
          break;
        case 'ty':
          e.type = str();
          break;
        default:
          r.skip();
      }
    }
    return r.done() ? e : zeroEdge();
  } catch {
    return zeroEdge();
  }
}

/**
 * Returns the value as JSON-shaped data (null for an absent value), Go's
 * Value.Decode. Throws the decoder's error for malformed bytes.
 */
export function decodeValue(v: Value): unknown {
  if (v === null || v.length === 0) return null;
  return decodeMsgpack(v);
}
