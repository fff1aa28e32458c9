// Port of crdt/msgpackx/append.go: msgpack in its shortest form, written by
// hand so that the bytes match Go's exactly.

/**
 * A growable byte buffer that msgpack is appended to: Go's append-to-slice
 * idiom (b = AppendUint(b, v)) as a class. The append functions below take
 * and return it, mirroring Go; the methods do the same work.
 */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private n = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(Math.max(16, capacity));
    this.view = new DataView(this.buf.buffer);
  }

  /** How many bytes have been written. */
  length(): number {
    return this.n;
  }

  /** A copy of the bytes written. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }

  private grow(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Appends one byte. */
  byte(c: number): this {
    this.grow(1);
    this.buf[this.n++] = c;
    return this;
  }

  /** Appends bytes as they are (an embedded, already encoded value). */
  raw(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }

  private u8(code: number, v: number): this {
    this.grow(2);
    this.buf[this.n] = code;
    this.buf[this.n + 1] = v & 0xff;
    this.n += 2;
    return this;
  }

  private u16(code: number, v: number): this {
    this.grow(3);
    this.buf[this.n] = code;
    this.view.setUint16(this.n + 1, v);
    this.n += 3;
    return this;
  }

  private u32(code: number, v: number): this {
    this.grow(5);
    this.buf[this.n] = code;
    this.view.setUint32(this.n + 1, v >>> 0);
    this.n += 5;
    return this;
  }

  private u64(code: number, v: bigint): this {
    this.grow(9);
    this.buf[this.n] = code;
    this.view.setBigUint64(this.n + 1, BigInt.asUintN(64, v));
    this.n += 9;
    return this;
  }

  /** Appends nil. */
  nil(): this {
    return this.byte(0xc0);
  }

  /** Appends a boolean. */
  bool(v: boolean): this {
    return this.byte(v ? 0xc3 : 0xc2);
  }

  /**
   * Appends a non-negative integer in its shortest form. Numbers must be
   * safe integers; larger values are passed as bigint (up to 2^64-1).
   */
  uint(v: number | bigint): this {
    if (typeof v === 'bigint') {
      if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`msgpackx: ${v} is not a uint64`);
      if (v > 0xffffffffn) return this.u64(0xcf, v);
      v = Number(v);
    } else if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`msgpackx: ${v} is not a non-negative safe integer`);
    }
    if (v <= 0x7f) return this.byte(v);
    if (v <= 0xff) return this.u8(0xcc, v);
    if (v <= 0xffff) return this.u16(0xcd, v);
    if (v <= 0xffffffff) return this.u32(0xce, v);
    return this.u64(0xcf, BigInt(v));
  }

  /**
   * Appends a signed integer; non-negative values use the unsigned forms, as
   * canonical does. Numbers must be safe integers; bigint covers int64.
   */
  int(v: number | bigint): this {
    if (typeof v === 'bigint') {
      if (v >= 0n) return this.uint(v);
      if (v < -0x8000000000000000n) throw new RangeError(`msgpackx: ${v} is not an int64`);
      if (v < -0x80000000n) return this.u64(0xd3, v);
      v = Number(v);
    } else if (!Number.isSafeInteger(v)) {
      throw new RangeError(`msgpackx: ${v} is not a safe integer`);
    }
    if (v >= 0) return this.uint(v);
    if (v >= -32) return this.byte(v & 0xff);
    if (v >= -0x80) return this.u8(0xd0, v);
    if (v >= -0x8000) return this.u16(0xd1, v & 0xffff);
    if (v >= -0x80000000) return this.u32(0xd2, v);
    return this.u64(0xd3, BigInt(v));
  }

  /** Appends a float64 (always the 9-byte form). */
  float(v: number): this {
    this.grow(9);
    this.buf[this.n] = 0xcb;
    this.view.setFloat64(this.n + 1, v);
    this.n += 9;
    return this;
  }

  /** Appends a string, UTF-8 encoded. */
  string(s: string): this {
    // ASCII fast path: ids and field names are short and mostly ASCII.
    let ascii = s.length <= 0xffff;
    if (ascii) {
      for (let i = 0; i < s.length; i++) {
        if (s.charCodeAt(i) >= 0x80) {
          ascii = false;
          break;
        }
      }
    }
    if (!ascii) return this.stringBytes(utf8Encoder.encode(s));
    const n = s.length;
    this.strHeader(n);
    this.grow(n);
    for (let i = 0; i < n; i++) this.buf[this.n + i] = s.charCodeAt(i);
    this.n += n;
    return this;
  }

  /** Appends a string given as its UTF-8 bytes. */
  stringBytes(b: Uint8Array): this {
    this.strHeader(b.length);
    return this.raw(b);
  }

  private strHeader(n: number): void {
    if (n <= 31) this.byte(0xa0 | n);
    else if (n <= 0xff) this.u8(0xd9, n);
    else if (n <= 0xffff) this.u16(0xda, n);
    else this.u32(0xdb, n);
  }

  /** Appends a bin value. */
  bin(v: Uint8Array): this {
    const n = v.length;
    if (n <= 0xff) this.u8(0xc4, n);
    else if (n <= 0xffff) this.u16(0xc5, n);
    else this.u32(0xc6, n);
    return this.raw(v);
  }

  /** Appends the header of an array of n elements. */
  arrayHeader(n: number): this {
    if (n <= 15) return this.byte(0x90 | n);
    if (n <= 0xffff) return this.u16(0xdc, n);
    return this.u32(0xdd, n);
  }

  /** Appends the header of a map of n entries. */
  mapHeader(n: number): this {
    if (n <= 15) return this.byte(0x80 | n);
    if (n <= 0xffff) return this.u16(0xde, n);
    return this.u32(0xdf, n);
  }
}

const utf8Encoder = new TextEncoder();

/** Encodes a string to UTF-8 (lone surrogates become U+FFFD, as Go's JSON decoder does). */
export function encodeUtf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** Appends nil. (Go: AppendNil.) */
export function appendNil(w: Writer): Writer {
  return w.nil();
}
/** Appends a boolean. (Go: AppendBool.) */
export function appendBool(w: Writer, v: boolean): Writer {
  return w.bool(v);
}
/** Appends an unsigned integer. (Go: AppendUint.) */
export function appendUint(w: Writer, v: number | bigint): Writer {
  return w.uint(v);
}
/** Appends a signed integer; non-negative values use the unsigned forms. (Go: AppendInt.) */
export function appendInt(w: Writer, v: number | bigint): Writer {
  return w.int(v);
}
/** Appends a float64, always the 9-byte form. (Go: AppendFloat.) */
export function appendFloat(w: Writer, v: number): Writer {
  return w.float(v);
}
/** Appends a string. (Go: AppendString.) */
export function appendString(w: Writer, s: string): Writer {
  return w.string(s);
}
/** Appends a bin value. (Go: AppendBytes.) */
export function appendBytes(w: Writer, v: Uint8Array): Writer {
  return w.bin(v);
}
/** Appends an array header. (Go: AppendArrayHeader.) */
export function appendArrayHeader(w: Writer, n: number): Writer {
  return w.arrayHeader(n);
}
/** Appends a map header. (Go: AppendMapHeader.) */
export function appendMapHeader(w: Writer, n: number): Writer {
  return w.mapHeader(n);
}

/** The length of s in UTF-8 bytes (Go's len(s)), without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // a surrogate pair: one code point ≥ U+10000
      i++;
    } else n += 3; // BMP, or a lone surrogate (encoded as U+FFFD, 3 bytes)
  }
  return n;
}
