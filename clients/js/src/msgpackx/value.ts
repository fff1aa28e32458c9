// Port of crdt/msgpackx/value.go: the canonical value encoding (PROTOCOL.md
// §7.6) and the decoder of field values.
//
// Go writes canonical values with vmihailenco/msgpack (sorted map keys,
// compact ints, compact floats); this is a hand-written encoder that produces
// the same bytes, checked against Go by the golden vectors.

import { decodeUtf8Go } from './reader';
import { compareStrings } from '../crdt/dot';
import { Writer } from './append';
import { check, MsgpackError, type Limits } from './check';

/** Bounds a single field value: 1 MiB, 32 levels. */
export const ValueLimits: Readonly<Required<Limits>> = Object.freeze({ maxBytes: 1 << 20, maxDepth: 32 });

/**
 * Nesting canonical refuses to encode: it only guards against cyclic or
 * absurd input (Go's decoder refuses values nested deeper than 32 anyway).
 */
const maxEncodeDepth = 1000;

const two63 = 2 ** 63;

/**
 * Encodes a JSON-shaped value as canonical msgpack, byte for byte as Go's
 * msgpackx.Canonical:
 * - null and undefined are nil (an undefined object property is left out and
 *   an undefined array element is nil, as JSON.stringify does);
 * - map keys are sorted by their UTF-8 bytes (not by UTF-16 units);
 * - an integral number in [-2^63, 2^63) is written as the shortest integer,
 *   unsigned forms for non-negative values (-0 is 0); every other finite
 *   number as float64 (never float32); NaN and ±Infinity throw a
 *   MsgpackError with code "NonFinite", as Go's Canonical refuses them
 *   (no stored value may hold one);
 * - bigint in the int64/uint64 range is written as an integer;
 * - Uint8Array is bin; arrays are arrays; plain objects and Map<string, …>
 *   are maps.
 * Anything else (functions, symbols, class instances, other typed arrays,
 * bigints outside 64 bits) throws a MsgpackError with code "Unsupported".
 */
export function canonical(v: unknown): Uint8Array {
  const w = new Writer();
  writeCanonical(w, v, 0);
  return w.bytes();
}

/**
 * Appends the canonical encoding of v to w (what canonical does, for callers
 * that build a larger message).
 */
export function appendCanonical(w: Writer, v: unknown): Writer {
  writeCanonical(w, v, 0);
  return w;
}

function writeCanonical(w: Writer, v: unknown, depth: number): void {
  if (depth > maxEncodeDepth) {
    throw new MsgpackError('TooDeep', `value nested deeper than ${maxEncodeDepth} levels (a cycle?)`);
  }
  switch (typeof v) {
    case 'undefined':
      w.nil();
      return;
    case 'boolean':
      w.bool(v);
      return;
    case 'number':
      writeNumber(w, v);
      return;
    case 'bigint':
      if (v < -0x8000000000000000n || v > 0xffffffffffffffffn) {
        throw new MsgpackError('Unsupported', `integer ${v} does not fit 64 bits`);
      }
      w.int(v);
      return;
    case 'string':
      w.string(v);
      return;
    case 'object':
      break;
    default:
      throw new MsgpackError('Unsupported', `cannot encode a ${typeof v}`);
  }
  if (v === null) {
    w.nil();
    return;
  }
  if (v instanceof Uint8Array) {
    w.bin(v);
    return;
  }
  if (Array.isArray(v)) {
    w.arrayHeader(v.length);
    for (let i = 0; i < v.length; i++) writeCanonical(w, v[i], depth + 1);
    return;
  }
  if (v instanceof Map) {
    const keys: string[] = [];
    for (const [k, x] of v) {
      if (typeof k !== 'string') throw new MsgpackError('Unsupported', `map key ${String(k)} is not a string`);
      if (x !== undefined) keys.push(k);
    }
    keys.sort(compareStrings);
    w.mapHeader(keys.length);
    for (const k of keys) {
      w.string(k);
      writeCanonical(w, v.get(k), depth + 1);
    }
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    throw new MsgpackError('Unsupported', `cannot encode a ${(v as object).constructor?.name ?? 'object'}`);
  }
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  keys.sort(compareStrings);
  w.mapHeader(keys.length);
  for (const k of keys) {
    w.string(k);
    writeCanonical(w, obj[k], depth + 1);
  }
}

/**
 * Writes a number as Go's compact-float encoder does: float64(int64(f)) == f
 * means an integer. Go's conversion of an out-of-range float is
 * platform-defined; in range, [-2^63, 2^63), both agree.
 */
function writeNumber(w: Writer, f: number): void {
  if (!Number.isFinite(f)) throw new MsgpackError('NonFinite', `NaN or infinite number: ${f}`);
  if (Number.isInteger(f) && f >= -two63 && f < two63) {
    if (Number.isSafeInteger(f)) w.int(f === 0 ? 0 : f);
    else w.int(BigInt(f));
    return;
  }
  w.float(f);
}

/**
 * Checks b against lim (default ValueLimits) and decodes it into JSON-shaped
 * values: null, boolean, number, bigint (integers beyond ±(2^53-1), which a
 * number cannot hold exactly; canonical writes them back to the same bytes),
 * string, Uint8Array (bin), arrays and plain objects. Map keys must be
 * strings (Go also accepts bin and nil keys, read as strings; so does this);
 * a repeated key is refused ("DuplicateKey"). Strings that are not valid
 * UTF-8 decode with U+FFFD, as Go's JSON rendering of them does.
 */
export function decode(b: Uint8Array, lim: Limits = ValueLimits): unknown {
  check(b, lim);
  const d = new ValueDecoder(b);
  const v = d.value();
  return v;
}


class ValueDecoder {
  private off = 0;
  private readonly view: DataView;

  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private u8(): number {
    return this.b[this.off++];
  }

  private u16(): number {
    const v = this.view.getUint16(this.off);
    this.off += 2;
    return v;
  }

  private u32(): number {
    const v = this.view.getUint32(this.off);
    this.off += 4;
    return v;
  }

  private str(n: number): string {
    const s = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return decodeUtf8Go(s);
  }

  private bin(n: number): Uint8Array {
    // A copy into a plain Uint8Array (a Node Buffer's slice would be a view).
    const s = new Uint8Array(this.b.subarray(this.off, this.off + n));
    this.off += n;
    return s;
  }

  private big(v: bigint): number | bigint {
    return v >= -0x1fffffffffffffn && v <= 0x1fffffffffffffn ? Number(v) : v;
  }

  // check has proved every length fits and the nesting is bounded, so the
  // reads below cannot run past the end and the recursion is shallow.
  value(): unknown {
    const c = this.u8();
    if (c <= 0x7f) return c;
    if (c >= 0xe0) return c - 0x100;
    if (c >= 0x80 && c <= 0x8f) return this.map(c & 0x0f);
    if (c >= 0x90 && c <= 0x9f) return this.array(c & 0x0f);
    if (c >= 0xa0 && c <= 0xbf) return this.str(c & 0x1f);
    switch (c) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.u8());
      case 0xc5:
        return this.bin(this.u16());
      case 0xc6:
        return this.bin(this.u32());
      case 0xca: {
        const v = this.view.getFloat32(this.off);
        this.off += 4;
        return v;
      }
      case 0xcb: {
        const v = this.view.getFloat64(this.off);
        this.off += 8;
        return v;
      }
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        const v = this.view.getBigUint64(this.off);
        this.off += 8;
        return this.big(v);
      }
      case 0xd0:
        return (this.u8() << 24) >> 24;
      case 0xd1:
        return (this.u16() << 16) >> 16;
      case 0xd2:
        return this.u32() | 0;
      case 0xd3: {
        const v = this.view.getBigInt64(this.off);
        this.off += 8;
        return this.big(v);
      }
      case 0xd9:
        return this.str(this.u8());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.u16());
      case 0xdd:
        return this.array(this.u32());
      case 0xde:
        return this.map(this.u16());
      case 0xdf:
        return this.map(this.u32());
    }
    // check refuses every other byte; reaching here is a bug, not bad input.
    throw new MsgpackError('BadByte', `unexpected byte 0x${c.toString(16)} at offset ${this.off - 1}`);
  }

  private array(n: number): unknown[] {
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.value();
    return out;
  }

  /** Reads a map key and returns its raw bytes (a view, not a copy). */
  private key(): Uint8Array {
    const c = this.u8();
    if (c >= 0xa0 && c <= 0xbf) return this.raw(c & 0x1f);
    switch (c) {
      case 0xc0:
        return this.b.subarray(0, 0);
      case 0xd9:
      case 0xc4:
        return this.raw(this.u8());
      case 0xda:
      case 0xc5:
        return this.raw(this.u16());
      case 0xdb:
      case 0xc6:
        return this.raw(this.u32());
    }
    throw new MsgpackError('Type', `map key: unexpected type: want a string, found 0x${c.toString(16)} at offset ${this.off - 1}`);
  }

  private raw(n: number): Uint8Array {
    const s = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return s;
  }

  /**
   * Go decodes keys as raw byte strings: a key repeated byte for byte is
   * refused, but keys that differ only in invalid UTF-8 ("a\xfe", "a\xff",
   * "a\ufffd") are distinct in Go and the same string here. Go's JSON writes
   * all of them, sorted by their bytes, and JSON.parse keeps the last: so
   * the key with the greatest bytes wins here, whatever the map order.
   */
  private map(n: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    // Raw bytes of the non-ASCII keys: only they can collide while their
    // bytes differ (both sides of such a collision hold a U+FFFD).
    let rawOf: Map<string, Uint8Array> | null = null;
    for (let i = 0; i < n; i++) {
      const kb = this.key();
      const k = decodeUtf8Go(kb);
      const v = this.value();
      const ascii = isAscii(kb);
      if (Object.prototype.hasOwnProperty.call(out, k)) {
        const prev = ascii ? undefined : rawOf?.get(k);
        const cmp = prev === undefined ? 0 : compareBytes(kb, prev);
        if (cmp === 0) throw new MsgpackError('DuplicateKey', `duplicate map key ${JSON.stringify(k)}`);
        if (cmp < 0) continue;
      }
      if (!ascii) (rawOf ??= new Map()).set(k, kb);
      // defineProperty, not assignment: a key "__proto__" must be data.
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) return false;
  }
  return true;
}
