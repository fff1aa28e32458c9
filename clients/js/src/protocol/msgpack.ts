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
// The writer produces the shortest integer forms and float64 for
// non-integral numbers, which is what the Go encoder writes, so frames built
// here are byte-identical to the Go implementation's (§8 hex dumps).

import { FrameDecodeError } from './errors';

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
const utf8enc = new TextEncoder();

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

/** Writer appends msgpack values to a growing buffer. */
export class Writer {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }

  private byte(c: number): void {
    this.grow(1);
    this.buf[this.len++] = c;
  }

  raw(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  nil(): this {
    this.byte(0xc0);
    return this;
  }

  bool(v: boolean): this {
    this.byte(v ? 0xc3 : 0xc2);
    return this;
  }

  /** uint writes a non-negative integer in its shortest unsigned form. */
  uint(v: number | bigint): this {
    if (typeof v === 'bigint' || v > 0xffffffff) {
      const big = BigInt(v);
      if (big < 0n || big > 0xffffffffffffffffn) throw new RangeError(`${v} is not a uint64`);
      if (big <= 0xffffffffn) return this.uint(Number(big));
      this.grow(9);
      this.buf[this.len] = 0xcf;
      this.view.setBigUint64(this.len + 1, big);
      this.len += 9;
      return this;
    }
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${v} is not a non-negative integer`);
    if (v <= 0x7f) this.byte(v);
    else if (v <= 0xff) {
      this.byte(0xcc);
      this.byte(v);
    } else if (v <= 0xffff) {
      this.grow(3);
      this.buf[this.len] = 0xcd;
      this.view.setUint16(this.len + 1, v);
      this.len += 3;
    } else {
      this.grow(5);
      this.buf[this.len] = 0xce;
      this.view.setUint32(this.len + 1, v);
      this.len += 5;
    }
    return this;
  }

  /** int writes an integer: unsigned forms when non-negative, else the shortest signed one. */
  int(v: number | bigint): this {
    if (v >= 0) return this.uint(v);
    if (typeof v === 'bigint' || v < -0x80000000) {
      const big = BigInt(v);
      if (big < -0x8000000000000000n) throw new RangeError(`${v} is not an int64`);
      if (big >= -0x80000000n) return this.int(Number(big));
      this.grow(9);
      this.buf[this.len] = 0xd3;
      this.view.setBigInt64(this.len + 1, big);
      this.len += 9;
      return this;
    }
    if (!Number.isInteger(v)) throw new RangeError(`${v} is not an integer`);
    if (v >= -32) this.byte(v + 0x100);
    else if (v >= -0x80) {
      this.grow(2);
      this.buf[this.len] = 0xd0;
      this.view.setInt8(this.len + 1, v);
      this.len += 2;
    } else if (v >= -0x8000) {
      this.grow(3);
      this.buf[this.len] = 0xd1;
      this.view.setInt16(this.len + 1, v);
      this.len += 3;
    } else {
      this.grow(5);
      this.buf[this.len] = 0xd2;
      this.view.setInt32(this.len + 1, v);
      this.len += 5;
    }
    return this;
  }

  /** float64 always writes the 9-byte float64 form (coordinates). */
  float64(v: number): this {
    this.grow(9);
    this.buf[this.len] = 0xcb;
    this.view.setFloat64(this.len + 1, v);
    this.len += 9;
    return this;
  }

  str(s: string): this {
    const b = utf8enc.encode(s);
    const n = b.length;
    if (n <= 31) this.byte(0xa0 | n);
    else if (n <= 0xff) {
      this.byte(0xd9);
      this.byte(n);
    } else if (n <= 0xffff) {
      this.byte(0xda);
      this.grow(2);
      this.view.setUint16(this.len, n);
      this.len += 2;
    } else {
      this.byte(0xdb);
      this.grow(4);
      this.view.setUint32(this.len, n);
      this.len += 4;
    }
    return this.raw(b);
  }

  bin(b: Uint8Array): this {
    const n = b.length;
    if (n <= 0xff) {
      this.byte(0xc4);
      this.byte(n);
    } else if (n <= 0xffff) {
      this.byte(0xc5);
      this.grow(2);
      this.view.setUint16(this.len, n);
      this.len += 2;
    } else {
      this.byte(0xc6);
      this.grow(4);
      this.view.setUint32(this.len, n);
      this.len += 4;
    }
    return this.raw(b);
  }

  arrayHeader(n: number): this {
    if (n <= 15) this.byte(0x90 | n);
    else if (n <= 0xffff) {
      this.byte(0xdc);
      this.grow(2);
      this.view.setUint16(this.len, n);
      this.len += 2;
    } else {
      this.byte(0xdd);
      this.grow(4);
      this.view.setUint32(this.len, n);
      this.len += 4;
    }
    return this;
  }

  mapHeader(n: number): this {
    if (n <= 15) this.byte(0x80 | n);
    else if (n <= 0xffff) {
      this.byte(0xde);
      this.grow(2);
      this.view.setUint16(this.len, n);
      this.len += 2;
    } else {
      this.byte(0xdf);
      this.grow(4);
      this.view.setUint32(this.len, n);
      this.len += 4;
    }
    return this;
  }

  /**
   * canonical writes a JSON-shaped value canonically (docs/PROTOCOL.md §7.6):
   * map keys sorted by their UTF-8 bytes, integers (and floats that hold an
   * integer) in the shortest form, other numbers as float64, Uint8Array as
   * bin. It throws a TypeError for anything else (undefined, functions,
   * symbols, class instances, non-finite numbers), naming the path.
   */
  canonical(v: unknown, path = 'payload', depth = 0): this {
    if (depth > 64) throw new TypeError(`${path} is nested too deeply`);
    if (v === null) return this.nil();
    switch (typeof v) {
      case 'boolean':
        return this.bool(v);
      case 'string':
        return this.str(v);
      case 'bigint':
        return this.int(v);
      case 'number':
        if (!Number.isFinite(v)) throw new TypeError(`${path} is not a finite number`);
        if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) return this.int(v);
        if (Number.isInteger(v) && v >= -0x8000000000000000 && v < 0x10000000000000000) return this.int(BigInt(v));
        return this.float64(v);
    }
    if (v instanceof Uint8Array) return this.bin(v);
    if (Array.isArray(v)) {
      this.arrayHeader(v.length);
      v.forEach((e, i) => this.canonical(e, `${path}[${i}]`, depth + 1));
      return this;
    }
    if (typeof v === 'object') {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(`${path} is not a plain object, array, string, number, boolean, null or Uint8Array`);
      }
      const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
      const enc = keys.map((k) => [utf8enc.encode(k), k] as const);
      enc.sort((a, b) => compareBytes(a[0], b[0]));
      this.mapHeader(enc.length);
      for (const [, k] of enc) {
        this.str(k);
        this.canonical((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
      }
      return this;
    }
    throw new TypeError(`${path} has a value of type ${typeof v}, which is not JSON-shaped`);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** compareBytes orders byte strings lexicographically (Go's bytes.Compare). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/** utf8Length is the encoded size of s in bytes. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
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
