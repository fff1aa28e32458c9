// A small, strict msgpack reader and writer for protocol frames.
//
// Frames are the client's first contact with bytes from the network, so the
// reader proves the whole input well formed and within bounds before the
// frame decoder reads a field: declared lengths never exceed the bytes left
// (no allocation is driven by a length prefix), nesting is capped, ext types
// and the reserved byte 0xc1 are refused, strings must be valid UTF-8, map
// keys must be strings and appear once, and trailing bytes are an error
// (docs/PROTOCOL.md §2). It is self-contained rather than built on
// @msgpack/msgpack because that library is lenient about exactly the things
// the protocol requires a decoder to refuse (duplicate keys, trailing bytes).
//
// Frames are written with the replica's msgpack writer (msgpackx), which
// produces the shortest integer forms and float64 for non-integral numbers,
// as the Go encoder does, so frames built here are byte-identical to the Go
// implementation's (§8 hex dumps).

import { Writer as ValueWriter } from '../msgpackx/append';
import { appendCanonical } from '../msgpackx/value';
import { FrameDecodeError } from './errors';

export { utf8Length } from '../msgpackx/append';

/** A parsed msgpack value. Maps keep their pairs in wire order. */
export type MsgValue =
  | { t: 'nil' }
  | { t: 'bool'; v: boolean }
  | { t: 'int'; v: number | bigint } // bigint only outside ±2^53
  | { t: 'float'; v: number }
  | { t: 'str'; v: string }
  | { t: 'bin'; v: Uint8Array }
  | { t: 'arr'; v: MsgValue[] }
  | { t: 'map'; v: Array<[string, MsgValue]> };

/** Bounds a parse enforces. Every field is required; see parseLimits. */
export interface ParseLimits {
  /** Most nesting of arrays and maps; a value at depth maxDepth is refused. */
  maxDepth: number;
  /** Summed over every array in the input. */
  maxArrayElements: number;
  /** Summed over every map in the input. */
  maxMapPairs: number;
  /** Arrays and maps in the input. */
  maxContainers: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * parse decodes exactly one msgpack value from b and refuses anything the
 * protocol calls malformed. Binary values are copied out of b, so the result
 * does not alias a buffer the socket may reuse.
 */
export function parse(b: Uint8Array, lim: ParseLimits): MsgValue {
  const p = new Parser(b, lim);
  const v = p.value(0);
  if (p.off !== b.length) {
    throw new FrameDecodeError('Malformed', `${b.length - p.off} trailing bytes after the value`);
  }
  return v;
}

class Parser {
  off = 0;
  private arrays = 0;
  private pairs = 0;
  private containers = 0;
  private readonly view: DataView;

  constructor(
    private readonly b: Uint8Array,
    private readonly lim: ParseLimits,
  ) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private need(n: number): void {
    if (n > this.b.length - this.off) {
      throw new FrameDecodeError('Malformed', `truncated: ${n} bytes declared, ${this.b.length - this.off} left`);
    }
  }

  private u8(): number {
    this.need(1);
    return this.b[this.off++];
  }
  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.off);
    this.off += 2;
    return v;
  }
  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.off);
    this.off += 4;
    return v;
  }

  private bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.b.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }

  private str(n: number): string {
    this.need(n);
    const s = this.b.subarray(this.off, this.off + n);
    this.off += n;
    try {
      return utf8.decode(s);
    } catch {
      throw new FrameDecodeError('Malformed', 'a string is not valid UTF-8');
    }
  }

  private container(kind: 'arr' | 'map', n: number, depth: number): void {
    if (depth + 1 >= this.lim.maxDepth) {
      throw new FrameDecodeError('Malformed', `arrays and maps nested ${this.lim.maxDepth} deep or more`);
    }
    // Every element takes at least one byte (a map pair two): a length
    // larger than what is left cannot be honest, and refusing it here keeps
    // a 5-byte header from reserving gigabytes.
    const min = kind === 'arr' ? n : 2 * n;
    if (min > this.b.length - this.off) {
      throw new FrameDecodeError('Malformed', `truncated: ${kind === 'arr' ? 'array' : 'map'} of ${n} declared, ${this.b.length - this.off} bytes left`);
    }
    this.containers++;
    if (kind === 'arr') this.arrays += n;
    else this.pairs += n;
    if (this.arrays > this.lim.maxArrayElements || this.pairs > this.lim.maxMapPairs || this.containers > this.lim.maxContainers) {
      throw new FrameDecodeError(
        'TooLarge',
        `more than ${this.lim.maxArrayElements} array elements, ${this.lim.maxMapPairs} map pairs or ${this.lim.maxContainers} arrays and maps`,
      );
    }
  }

  private arr(n: number, depth: number): MsgValue {
    this.container('arr', n, depth);
    const v: MsgValue[] = new Array(n);
    for (let i = 0; i < n; i++) v[i] = this.value(depth + 1);
    return { t: 'arr', v };
  }

  private map(n: number, depth: number): MsgValue {
    this.container('map', n, depth);
    const v: Array<[string, MsgValue]> = new Array(n);
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const k = this.value(depth + 1);
      if (k.t !== 'str') {
        throw new FrameDecodeError('WrongType', 'a map key is not a string');
      }
      if (seen.has(k.v)) {
        throw new FrameDecodeError('DuplicateKey', JSON.stringify(k.v.length > 64 ? k.v.slice(0, 64) + '…' : k.v));
      }
      seen.add(k.v);
      v[i] = [k.v, this.value(depth + 1)];
    }
    return { t: 'map', v };
  }

  value(depth: number): MsgValue {
    const c = this.u8();
    if (c <= 0x7f) return { t: 'int', v: c };
    if (c >= 0xe0) return { t: 'int', v: c - 0x100 };
    if (c >= 0x80 && c <= 0x8f) return this.map(c & 0x0f, depth);
    if (c >= 0x90 && c <= 0x9f) return this.arr(c & 0x0f, depth);
    if (c >= 0xa0 && c <= 0xbf) return { t: 'str', v: this.str(c & 0x1f) };
    switch (c) {
      case 0xc0:
        return { t: 'nil' };
      case 0xc2:
        return { t: 'bool', v: false };
      case 0xc3:
        return { t: 'bool', v: true };
      case 0xc4:
        return { t: 'bin', v: this.bytes(this.u8()) };
      case 0xc5:
        return { t: 'bin', v: this.bytes(this.u16()) };
      case 0xc6:
        return { t: 'bin', v: this.bytes(this.u32()) };
      case 0xca: {
        this.need(4);
        const f = this.view.getFloat32(this.off);
        this.off += 4;
        return { t: 'float', v: f };
      }
      case 0xcb: {
        this.need(8);
        const f = this.view.getFloat64(this.off);
        this.off += 8;
        return { t: 'float', v: f };
      }
      case 0xcc:
        return { t: 'int', v: this.u8() };
      case 0xcd:
        return { t: 'int', v: this.u16() };
      case 0xce:
        return { t: 'int', v: this.u32() };
      case 0xcf: {
        this.need(8);
        const v = this.view.getBigUint64(this.off);
        this.off += 8;
        return { t: 'int', v: narrow(v) };
      }
      case 0xd0: {
        this.need(1);
        return { t: 'int', v: this.view.getInt8(this.off++) };
      }
      case 0xd1: {
        this.need(2);
        const v = this.view.getInt16(this.off);
        this.off += 2;
        return { t: 'int', v };
      }
      case 0xd2: {
        this.need(4);
        const v = this.view.getInt32(this.off);
        this.off += 4;
        return { t: 'int', v };
      }
      case 0xd3: {
        this.need(8);
        const v = this.view.getBigInt64(this.off);
        this.off += 8;
        return { t: 'int', v: narrow(v) };
      }
      case 0xd9:
        return { t: 'str', v: this.str(this.u8()) };
      case 0xda:
        return { t: 'str', v: this.str(this.u16()) };
      case 0xdb:
        return { t: 'str', v: this.str(this.u32()) };
      case 0xdc:
        return this.arr(this.u16(), depth);
      case 0xdd:
        return this.arr(this.u32(), depth);
      case 0xde:
        return this.map(this.u16(), depth);
      case 0xdf:
        return this.map(this.u32(), depth);
    }
    // 0xc1 (never used), 0xc7–0xc9 and 0xd4–0xd8 (ext types).
    throw new FrameDecodeError('Malformed', `byte 0x${c.toString(16).padStart(2, '0')} (ext types and 0xc1 are not allowed)`);
  }
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Writer is the replica's msgpack writer (msgpackx/append.ts: shortest
 * integer forms, float64 for other numbers, as the Go encoder writes) under
 * the names the frame encoder uses, plus `canonical` for Operation payloads.
 */
export class Writer extends ValueWriter {
  // Frame fields may hold integral numbers beyond ±2^53 (a uint field the
  // peer sent as a float, for one); they are written exactly as the
  // integers they are, where the value writer refuses unsafe numbers.
  override uint(v: number | bigint): this {
    return super.uint(exact(v));
  }

  override int(v: number | bigint): this {
    return super.int(exact(v));
  }

  str(s: string): this {
    return this.string(s);
  }

  /** float64 always writes the 9-byte float64 form (coordinates). */
  float64(v: number): this {
    return this.float(v);
  }

  /**
   * canonical writes a JSON-shaped value canonically (docs/PROTOCOL.md §7.6)
   * with msgpackx's encoder, the one field values use. It first checks that
   * the value is JSON-shaped and throws a TypeError naming the path of
   * anything else (undefined, functions, symbols, class instances,
   * non-finite numbers), which the value encoder would otherwise write as
   * nil or a float.
   */
  canonical(v: unknown, path = 'payload'): this {
    checkJSONShaped(v, path, 0);
    appendCanonical(this, v);
    return this;
  }
}

function exact(v: number | bigint): number | bigint {
  return typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) ? BigInt(v) : v;
}

function checkJSONShaped(v: unknown, path: string, depth: number): void {
  if (depth > 64) throw new TypeError(`${path} is nested too deeply`);
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'bigint') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`${path} is not a finite number`);
    return;
  }
  if (v instanceof Uint8Array) return;
  if (Array.isArray(v)) {
    v.forEach((e, i) => checkJSONShaped(e, `${path}[${i}]`, depth + 1));
    return;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`${path} is not a plain object, array, string, number, boolean, null or Uint8Array`);
    }
    for (const [k, e] of Object.entries(v as object)) {
      if (e !== undefined) checkJSONShaped(e, `${path}.${k}`, depth + 1);
    }
    return;
  }
  throw new TypeError(`${path} has a value of type ${typeof v}, which is not JSON-shaped`);
}

/** isWellFormed reports whether s has no lone surrogate (so it is valid UTF-8 once encoded). */
export function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

/**
 * toPlain converts a parsed value to a JSON-shaped JavaScript value (maps to
 * plain objects, bin to Uint8Array, large integers to bigint). Keys are
 * defined as own data properties, so a key named "__proto__" is data, never
 * a prototype change.
 */
export function toPlain(v: MsgValue): unknown {
  switch (v.t) {
    case 'nil':
      return null;
    case 'arr':
      return v.v.map(toPlain);
    case 'map': {
      const o: Record<string, unknown> = {};
      for (const [k, e] of v.v) {
        Object.defineProperty(o, k, { value: toPlain(e), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
    default:
      return v.v;
  }
}
