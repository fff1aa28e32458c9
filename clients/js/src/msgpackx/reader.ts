// Port of crdt/msgpackx/reader.go: a cursor over msgpack bytes for the
// document and delta decoders.

import { hex, MsgpackError, skip } from './check';

const defaultMaxDepth = 32;

// ignoreBOM: a leading U+FEFF is part of the string (Go keeps it); without
// it TextDecoder would strip it and the string would re-encode shorter.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes UTF-8 bytes to a string, refusing invalid UTF-8: a string that
 * does not survive the round trip would re-encode to other bytes than it
 * arrived in, and replicas would disagree on the document's encoding.
 */
export function decodeUtf8(b: Uint8Array): string {
  // Ids and field names are short and mostly ASCII: skip TextDecoder then.
  if (b.length <= 64) {
    let ascii = true;
    for (let i = 0; i < b.length; i++) {
      if (b[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, b as unknown as number[]);
  }
  try {
    return utf8.decode(b);
  } catch {
    throw new MsgpackError('Type', 'string is not valid UTF-8');
  }
}

/**
 * Decodes bytes to a string the way Go renders string(b) (encoding/json,
 * strings.ToLower, []rune and for-range all agree): valid UTF-8 sequences
 * become their characters and every byte that does not start a valid
 * sequence becomes one U+FFFD, following utf8.DecodeRune (RuneError of width
 * 1). So "e2 82 41" is "\ufffd\ufffdA", where TextDecoder's WHATWG rule would
 * give one U+FFFD for the truncated "e2 82". A leading BOM is kept.
 */
export function decodeUtf8Go(b: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return asciiString(b);
  try {
    return utf8.decode(b); // valid UTF-8: the common case
  } catch {
    return decodeInvalidUtf8(b);
  }
}

function asciiString(b: Uint8Array): string {
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let out = '';
  for (let i = 0; i < b.length; i += 4096) {
    out += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return out;
}

/** The slow path of decodeUtf8Go: utf8.DecodeRune byte by byte. */
function decodeInvalidUtf8(b: Uint8Array): string {
  const parts: string[] = [];
  let i = 0;
  let start = 0; // start of the current run of valid UTF-8
  const flush = (end: number): void => {
    if (end > start) parts.push(utf8.decode(b.subarray(start, end)));
  };
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0; // no overlong forms
      if (c === 0xed) hi = 0x9f; // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90; // no overlong forms
      if (c === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    }
    let ok = need > 0 && i + need < b.length;
    for (let j = 1; ok && j <= need; j++) {
      const x = b[i + j];
      if (x < (j === 1 ? lo : 0x80) || x > (j === 1 ? hi : 0xbf)) ok = false;
    }
    if (ok) {
      i += need + 1;
      continue;
    }
    flush(i);
    parts.push('\ufffd');
    i++;
    start = i;
  }
  flush(b.length);
  return parts.join('');
}

/**
 * Reads msgpack values from a byte array without copying (strings
 * excepted). Use it only on input that check accepted: lengths are trusted
 * to fit, although every read still checks bounds so that a misuse is an
 * error, not an out-of-bounds read.
 *
 * Unlike Go's Reader, which keeps the first error and returns zero values
 * until Err is checked, every method throws a MsgpackError at the first
 * problem ("Type" for another type than the one asked for, "Truncated" for
 * missing bytes): that is the same first error, reported the JavaScript way.
 */
export class Reader {
  private off = 0;

  /**
   * canonical makes the reader also refuse, with a MsgpackError of code
   * "NotCanonical", integers, string and array lengths in a longer form
   * than needed and non-negative integers in a signed form: what the Writer
   * never writes. (Go: NewCanonicalReader.) Raw values are returned as they
   * are; check them with checkCanonical.
   */
  constructor(
    private readonly b: Uint8Array,
    private readonly canonical = false,
  ) {}

  /** Refuses, in canonical mode, a value of n written in a form meant for values above limit. */
  private longer(n: number | bigint, limit: number | bigint, what: string): void {
    if (this.canonical && n <= limit) {
      throw new MsgpackError('NotCanonical', `not in canonical form: ${what} at offset ${this.off}`);
    }
  }

  /** How many bytes have been consumed. */
  offset(): number {
    return this.off;
  }

  /** How many bytes are left. */
  remaining(): number {
    return this.b.length - this.off;
  }

  /** Reports whether every byte was consumed. */
  done(): boolean {
    return this.off === this.b.length;
  }

  private fail(want: string): never {
    if (this.off < this.b.length) {
      throw new MsgpackError('Type', `unexpected type: want ${want}, found 0x${hex(this.b[this.off])} at offset ${this.off}`);
    }
    throw new MsgpackError('Truncated', `want ${want} at offset ${this.off}`);
  }

  private need(n: number): void {
    if (this.b.length - this.off < n) {
      throw new MsgpackError('Truncated', `declared length exceeds the bytes left at offset ${this.off}`);
    }
  }

  private peek(): number {
    this.need(1);
    return this.b[this.off];
  }

  private u16(at: number): number {
    return (this.b[at] << 8) | this.b[at + 1];
  }

  private u32(at: number): number {
    return this.b[at] * 0x1000000 + ((this.b[at + 1] << 16) | (this.b[at + 2] << 8) | this.b[at + 3]);
  }

  /** Reads 8 bytes as an unsigned 64-bit integer. */
  private u64(at: number): bigint {
    return (BigInt(this.u32(at)) << 32n) | BigInt(this.u32(at + 4));
  }

  /** Consumes a nil if one is next and reports whether it did. */
  isNil(): boolean {
    if (this.peek() === 0xc0) {
      this.off++;
      return true;
    }
    return false;
  }

  /** Reads an array header and returns its length. */
  arrayHeader(): number {
    const c = this.peek();
    if (c >= 0x90 && c <= 0x9f) {
      this.off++;
      return c & 0x0f;
    }
    if (c === 0xdc) {
      this.need(3);
      const n = this.u16(this.off + 1);
      this.longer(n, 15, 'array16 that fits a fixarray');
      this.off += 3;
      return this.fit(n);
    }
    if (c === 0xdd) {
      this.need(5);
      const n = this.u32(this.off + 1);
      this.longer(n, 0xffff, 'array32 that fits an array16');
      this.off += 5;
      return this.fit(n);
    }
    return this.fail('array');
  }

  /** Reads a map header and returns its number of entries. */
  mapHeader(): number {
    const c = this.peek();
    if (c >= 0x80 && c <= 0x8f) {
      this.off++;
      return c & 0x0f;
    }
    if (c === 0xde) {
      this.need(3);
      const n = this.u16(this.off + 1);
      this.longer(n, 15, 'map16 that fits a fixmap');
      this.off += 3;
      return this.fit(2 * n) / 2;
    }
    if (c === 0xdf) {
      this.need(5);
      const n = this.u32(this.off + 1);
      this.longer(n, 0xffff, 'map32 that fits a map16');
      this.off += 5;
      return this.fit(2 * n) / 2;
    }
    return this.fail('map');
  }

  /**
   * Refuses element counts larger than the bytes left (each element takes
   * at least one byte), so callers may allocate from them.
   */
  private fit(n: number): number {
    const left = this.b.length - this.off;
    if (n > left) {
      throw new MsgpackError('Truncated', `declared length exceeds the bytes left: ${n} elements declared, ${left} bytes left`);
    }
    return n;
  }

  /**
   * Reads a non-negative integer. Values above 2^53-1 come back as the
   * nearest number, which is ≥ 2^53: callers compare against bounds at most
   * MaxCounter, so such a value is always refused, never mistaken for a
   * valid one. uintBig reads the exact value.
   */
  uint(): number {
    const c = this.peek();
    if (c === 0xcf) return Number(this.uintBig());
    if (c <= 0x7f) {
      this.off++;
      return c;
    }
    if (c === 0xcc) {
      this.need(2);
      this.longer(this.b[this.off + 1], 0x7f, 'uint8 below 128');
      this.off += 2;
      return this.b[this.off - 1];
    }
    if (c === 0xcd) {
      this.need(3);
      this.longer(this.u16(this.off + 1), 0xff, 'uint16 that fits a uint8');
      this.off += 3;
      return this.u16(this.off - 2);
    }
    if (c === 0xce) {
      this.need(5);
      this.longer(this.u32(this.off + 1), 0xffff, 'uint32 that fits a uint16');
      this.off += 5;
      return this.u32(this.off - 4);
    }
    return this.fail('unsigned integer');
  }

  /** Reads a non-negative integer exactly, as a bigint. */
  uintBig(): bigint {
    const c = this.peek();
    if (c === 0xcf) {
      this.need(9);
      this.longer(this.u64(this.off + 1), 0xffffffffn, 'uint64 that fits a uint32');
      this.off += 9;
      return this.u64(this.off - 8);
    }
    return BigInt(this.uint());
  }

  /**
   * Reads a signed integer (any integer form) that fits int64. Values beyond
   * ±(2^53-1) come back inexact; check Number.isSafeInteger when exactness
   * matters (intBig reads them exactly).
   */
  int(): number {
    const c = this.peek();
    if (c === 0xcf || c === 0xd3) return Number(this.intBig());
    if (c <= 0x7f || c === 0xcc || c === 0xcd || c === 0xce) return this.uint();
    if (c >= 0xe0) {
      this.off++;
      return c - 0x100;
    }
    if (c === 0xd0) {
      this.need(2);
      this.signedLonger((this.b[this.off + 1] << 24) >> 24, -32, 'int8');
      this.off += 2;
      return (this.b[this.off - 1] << 24) >> 24;
    }
    if (c === 0xd1) {
      this.need(3);
      this.signedLonger((this.u16(this.off + 1) << 16) >> 16, -128, 'int16');
      this.off += 3;
      return (this.u16(this.off - 2) << 16) >> 16;
    }
    if (c === 0xd2) {
      this.need(5);
      this.signedLonger(this.u32(this.off + 1) | 0, -32768, 'int32');
      this.off += 5;
      return this.u32(this.off - 4) | 0;
    }
    return this.fail('integer');
  }

  /** Reads a signed integer that fits int64 exactly, as a bigint. */
  intBig(): bigint {
    const c = this.peek();
    if (c === 0xcf) {
      this.need(9);
      const v = this.u64(this.off + 1);
      if (v > 0x7fffffffffffffffn) return this.fail('int64');
      this.longer(v, 0xffffffffn, 'uint64 that fits a uint32');
      this.off += 9;
      return v;
    }
    if (c === 0xd3) {
      this.need(9);
      const v = BigInt.asIntN(64, this.u64(this.off + 1));
      this.signedLonger(v, -2147483648n, 'int64');
      this.off += 9;
      return v;
    }
    return BigInt(this.int());
  }

  /** Refuses, in canonical mode, a signed form holding v ≥ floor: a shorter (or unsigned) form holds it. */
  private signedLonger(v: number | bigint, floor: number | bigint, form: string): void {
    if (this.canonical && v >= floor) {
      throw new MsgpackError('NotCanonical', `not in canonical form: ${form} holding ${v} at offset ${this.off}`);
    }
  }

  /** Reads a number of any numeric form as a float64. */
  float(): number {
    const c = this.peek();
    if (c === 0xcb) {
      this.need(9);
      const v = new DataView(this.b.buffer, this.b.byteOffset + this.off + 1, 8).getFloat64(0);
      this.off += 9;
      return v;
    }
    if (c === 0xca) {
      this.need(5);
      const v = new DataView(this.b.buffer, this.b.byteOffset + this.off + 1, 4).getFloat32(0);
      this.off += 5;
      return v;
    }
    if (c === 0xcf) return Number(this.uintBig());
    return this.int();
  }

  /** Reads a boolean. */
  bool(): boolean {
    const c = this.peek();
    if (c === 0xc2 || c === 0xc3) {
      this.off++;
      return c === 0xc3;
    }
    return this.fail('bool');
  }

  /** Reads a string and returns its bytes, aliasing the input. */
  stringBytes(): Uint8Array {
    const c = this.peek();
    let n: number;
    let hdr: number;
    if (c >= 0xa0 && c <= 0xbf) {
      n = c & 0x1f;
      hdr = 1;
    } else if (c === 0xd9) {
      this.need(2);
      n = this.b[this.off + 1];
      hdr = 2;
      this.longer(n, 31, 'str8 that fits a fixstr');
    } else if (c === 0xda) {
      this.need(3);
      n = this.u16(this.off + 1);
      hdr = 3;
      this.longer(n, 0xff, 'str16 that fits a str8');
    } else if (c === 0xdb) {
      this.need(5);
      n = this.u32(this.off + 1);
      hdr = 5;
      this.longer(n, 0xffff, 'str32 that fits a str16');
    } else {
      return this.fail('string');
    }
    this.need(hdr + n);
    const s = this.b.subarray(this.off + hdr, this.off + hdr + n);
    this.off += hdr + n;
    return s;
  }

  /** Reads a string; invalid UTF-8 is refused ("Type"). */
  string(): string {
    return decodeUtf8(this.stringBytes());
  }

  /** Returns the next value's encoding, aliasing the input, and skips it. */
  raw(): Uint8Array {
    const start = this.off;
    const end = skip(this.b, start, defaultMaxDepth);
    this.off = end;
    return this.b.subarray(start, end);
  }

  /** Skips the next value. */
  skip(): void {
    this.raw();
  }
}
