// Port of crdt/msgpackx/canonical.go: the check that a value is in the form
// canonical() and the Writer produce, so that a decoder that keeps the bytes
// as they are re-encodes them unchanged.

import { check, MsgpackError, type Limits } from './check';

/**
 * Verifies what check does, and that b is a value in canonical form
 * (PROTOCOL.md §7.6), throwing a MsgpackError otherwise:
 *   - integers in their shortest form, the unsigned forms for non-negative
 *     values and the signed forms for negative ones;
 *   - strings, byte strings, arrays and maps with the shortest length header;
 *   - map keys are strings, sorted ascending bytewise, none repeated;
 *   - floats are float64 (0xcb) and finite ("NonFinite" for NaN and ±Infinity).
 * A float64 that holds an integer is accepted: canonical writes such numbers
 * as integers, but a position is written as two float64 whatever they hold.
 * Code "NotCanonical" for every other rule. Accepts exactly what Go's
 * msgpackx.CheckCanonical does.
 */
export function checkCanonical(b: Uint8Array, lim?: Limits): void {
  check(b, lim);
  new CanonicalWalker(b).value();
}

/**
 * checkCanonical for bytes already known to hold exactly one well-formed
 * value (check passed on them, or Reader.raw returned them), that also
 * counts the value's nodes (1 for a scalar; a container counts 1 plus its
 * elements, a map's keys and values both) and throws "TooManyNodes" as soon
 * as a container's header would take the count past budget, before walking
 * it. Returns the count. (Go: CheckCanonicalNodes.)
 */
export function checkCanonicalNodes(b: Uint8Array, budget: number): number {
  if (budget < 1) throw tooManyNodes(budget);
  const w = new CanonicalWalker(b, budget - 1);
  try {
    w.value();
  } catch (err) {
    if (err instanceof MsgpackError && err.code === 'TooManyNodes') throw tooManyNodes(budget);
    throw err;
  }
  return budget - w.budget;
}

function tooManyNodes(budget: number): MsgpackError {
  return new MsgpackError('TooManyNodes', `value holds too many nodes: more than ${budget}`);
}

function notCanonical(off: number, what: string): MsgpackError {
  return new MsgpackError('NotCanonical', `not in canonical form: ${what} at offset ${off}`);
}

class CanonicalWalker {
  off = 0;
  private readonly view: DataView;

  constructor(
    private readonly b: Uint8Array,
    /** Nodes the walk may still take; each container's elements are taken before they are walked. */
    public budget = Number.MAX_SAFE_INTEGER,
  ) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  // check has proved every length fits and the nesting is bounded (≤ 64),
  // so the reads below stay in bounds and the recursion is shallow.
  value(): void {
    const b = this.b;
    const start = this.off;
    const c = b[this.off++];
    if (c <= 0x7f || c >= 0xe0 || c === 0xc0 || c === 0xc2 || c === 0xc3) return;
    if (c >= 0xa0 && c <= 0xbf) {
      this.off += c & 0x1f;
      return;
    }
    if (c >= 0x90 && c <= 0x9f) return this.array(c & 0x0f);
    if (c >= 0x80 && c <= 0x8f) return this.map(c & 0x0f);
    const v = this.view;
    const at = this.off;
    switch (c) {
      case 0xcc:
        if (b[at] <= 0x7f) throw notCanonical(start, 'uint8 below 128');
        this.off += 1;
        return;
      case 0xcd:
        if (v.getUint16(at) <= 0xff) throw notCanonical(start, 'uint16 that fits a uint8');
        this.off += 2;
        return;
      case 0xce:
        if (v.getUint32(at) <= 0xffff) throw notCanonical(start, 'uint32 that fits a uint16');
        this.off += 4;
        return;
      case 0xcf:
        if (v.getBigUint64(at) <= 0xffffffffn) throw notCanonical(start, 'uint64 that fits a uint32');
        this.off += 8;
        return;
      case 0xd0:
        if (v.getInt8(at) >= -32) throw notCanonical(start, 'int8 that fits a fixint');
        this.off += 1;
        return;
      case 0xd1:
        if (v.getInt16(at) >= -128) throw notCanonical(start, 'int16 that fits a shorter form');
        this.off += 2;
        return;
      case 0xd2:
        if (v.getInt32(at) >= -32768) throw notCanonical(start, 'int32 that fits a shorter form');
        this.off += 4;
        return;
      case 0xd3:
        if (v.getBigInt64(at) >= -2147483648n) throw notCanonical(start, 'int64 that fits a shorter form');
        this.off += 8;
        return;
      case 0xca:
        throw notCanonical(start, 'float32');
      case 0xcb: {
        const f = v.getFloat64(at);
        if (!Number.isFinite(f)) throw new MsgpackError('NonFinite', `NaN or infinite number: ${f} at offset ${start}`);
        this.off += 8;
        return;
      }
      case 0xd9:
      case 0xc4: {
        const n = b[at];
        if (c === 0xd9 && n <= 31) throw notCanonical(start, 'str8 that fits a fixstr');
        this.off += 1 + n;
        return;
      }
      case 0xda:
      case 0xc5: {
        const n = v.getUint16(at);
        if (n <= 0xff) throw notCanonical(start, '16-bit length that fits 8 bits');
        this.off += 2 + n;
        return;
      }
      case 0xdb:
      case 0xc6: {
        const n = v.getUint32(at);
        if (n <= 0xffff) throw notCanonical(start, '32-bit length that fits 16 bits');
        this.off += 4 + n;
        return;
      }
      case 0xdc: {
        const n = v.getUint16(at);
        if (n <= 15) throw notCanonical(start, 'array16 that fits a fixarray');
        this.off += 2;
        return this.array(n);
      }
      case 0xdd: {
        const n = v.getUint32(at);
        if (n <= 0xffff) throw notCanonical(start, 'array32 that fits an array16');
        this.off += 4;
        return this.array(n);
      }
      case 0xde: {
        const n = v.getUint16(at);
        if (n <= 15) throw notCanonical(start, 'map16 that fits a fixmap');
        this.off += 2;
        return this.map(n);
      }
      case 0xdf: {
        const n = v.getUint32(at);
        if (n <= 0xffff) throw notCanonical(start, 'map32 that fits a map16');
        this.off += 4;
        return this.map(n);
      }
    }
    // check refuses every other byte.
    throw new MsgpackError('BadByte', `unexpected byte 0x${c.toString(16)} at offset ${start}`);
  }

  private spend(n: number): void {
    if (this.budget < n) throw new MsgpackError('TooManyNodes', 'value holds too many nodes');
    this.budget -= n;
  }

  private array(n: number): void {
    this.spend(n);
    for (let i = 0; i < n; i++) this.value();
  }

  private map(n: number): void {
    this.spend(2 * n);
    let prev: Uint8Array | null = null;
    for (let i = 0; i < n; i++) {
      const keyAt = this.off;
      const c = this.b[keyAt];
      if (!(c >= 0xa0 && c <= 0xbf) && c !== 0xd9 && c !== 0xda && c !== 0xdb) {
        throw notCanonical(keyAt, 'map key that is not a string');
      }
      this.value();
      const hdr = c === 0xd9 ? 2 : c === 0xda ? 3 : c === 0xdb ? 5 : 1;
      const key = this.b.subarray(keyAt + hdr, this.off);
      if (prev !== null && compareBytes(key, prev) <= 0) throw notCanonical(keyAt, 'map keys not sorted and unique');
      prev = key;
      this.value();
    }
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
