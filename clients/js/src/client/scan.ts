// latestWrite finds the newest HLC timestamp in a workflow encoding
// (docs/PROTOCOL.md §7.2) without decoding it into a document.
//
// The client feeds it to its hybrid logical clock: after merging a remote
// delta (or restoring a saved document) the clock must be past every write
// it has seen, or a local write made on a lagging wall clock would lose the
// last-writer-wins comparison to the write it was meant to replace. Reading
// the two numbers straight from the bytes keeps this independent of the
// document's in-memory layout; the bytes were already validated by the
// workflow decoder, so a malformed input here only means "no timestamp".

export interface WallLogical {
  wall: number;
  logical: number;
}

class Cursor {
  off = 0;
  private readonly v: DataView;
  constructor(private readonly b: Uint8Array) {
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private fail(): never {
    throw new RangeError('workflow encoding: malformed');
  }

  header(): { kind: 'arr' | 'map' | 'other'; n: number } {
    const c = this.b[this.off];
    if (c === undefined) this.fail();
    if (c >= 0x90 && c <= 0x9f) {
      this.off++;
      return { kind: 'arr', n: c & 0x0f };
    }
    if (c === 0xdc) {
      const n = this.v.getUint16(this.off + 1);
      this.off += 3;
      return { kind: 'arr', n };
    }
    if (c === 0xdd) {
      const n = this.v.getUint32(this.off + 1);
      this.off += 5;
      return { kind: 'arr', n };
    }
    return { kind: 'other', n: 0 };
  }

  arr(): number {
    const h = this.header();
    if (h.kind !== 'arr') this.fail();
    return h.n;
  }

  /** int reads any msgpack integer as a number (precision beyond 2^53 is not needed for ordering here). */
  int(): number {
    const c = this.b[this.off];
    if (c === undefined) this.fail();
    if (c <= 0x7f) return (this.off++, c);
    if (c >= 0xe0) return (this.off++, c - 0x100);
    const at = this.off + 1;
    switch (c) {
      case 0xcc: this.off += 2; return this.v.getUint8(at);
      case 0xcd: this.off += 3; return this.v.getUint16(at);
      case 0xce: this.off += 5; return this.v.getUint32(at);
      case 0xcf: this.off += 9; return Number(this.v.getBigUint64(at));
      case 0xd0: this.off += 2; return this.v.getInt8(at);
      case 0xd1: this.off += 3; return this.v.getInt16(at);
      case 0xd2: this.off += 5; return this.v.getInt32(at);
      case 0xd3: this.off += 9; return Number(this.v.getBigInt64(at));
    }
    this.fail();
  }

  /** skip skips one value of any type. */
  skip(): void {
    const c = this.b[this.off];
    if (c === undefined) this.fail();
    let n = 0;
    if (c <= 0x7f || c >= 0xe0 || c === 0xc0 || c === 0xc2 || c === 0xc3) return void this.off++;
    if (c >= 0xa0 && c <= 0xbf) return void (this.off += 1 + (c & 0x1f));
    if (c >= 0x80 && c <= 0x8f) {
      this.off++;
      for (let i = 0; i < 2 * (c & 0x0f); i++) this.skip();
      return;
    }
    if (c >= 0x90 && c <= 0x9f) {
      this.off++;
      for (let i = 0; i < (c & 0x0f); i++) this.skip();
      return;
    }
    const at = this.off + 1;
    switch (c) {
      case 0xc4: case 0xd9: n = this.v.getUint8(at); this.off += 2 + n; return;
      case 0xc5: case 0xda: n = this.v.getUint16(at); this.off += 3 + n; return;
      case 0xc6: case 0xdb: n = this.v.getUint32(at); this.off += 5 + n; return;
      case 0xca: this.off += 5; return;
      case 0xcb: this.off += 9; return;
      case 0xcc: case 0xd0: this.off += 2; return;
      case 0xcd: case 0xd1: this.off += 3; return;
      case 0xce: case 0xd2: this.off += 5; return;
      case 0xcf: case 0xd3: this.off += 9; return;
      case 0xdc: n = this.v.getUint16(at); this.off += 3; for (let i = 0; i < n; i++) this.skip(); return;
      case 0xdd: n = this.v.getUint32(at); this.off += 5; for (let i = 0; i < n; i++) this.skip(); return;
      case 0xde: n = this.v.getUint16(at); this.off += 3; for (let i = 0; i < 2 * n; i++) this.skip(); return;
      case 0xdf: n = this.v.getUint32(at); this.off += 5; for (let i = 0; i < 2 * n; i++) this.skip(); return;
    }
    this.fail();
  }
}

/**
 * latestWrite returns the greatest (wall, logical) of the entries in an
 * encoded document or delta, or null when it has no entries (or does not
 * parse).
 */
export function latestWrite(enc: Uint8Array): WallLogical | null {
  if (enc.length < 2 || enc[0] !== 0x01) return null;
  try {
    const c = new Cursor(enc.subarray(1));
    if (c.arr() !== 3) return null;
    c.skip(); // replicas
    c.skip(); // context
    let best: WallLogical | null = null;
    const groups = c.arr();
    for (let g = 0; g < groups; g++) {
      if (c.arr() !== 3) return null;
      c.skip(); // kind
      c.skip(); // id
      const entries = c.arr();
      for (let i = 0; i < entries; i++) {
        if (c.arr() !== 6) return null;
        c.skip(); // sub
        c.skip(); // ridx
        c.skip(); // counter
        const wall = c.int();
        const logical = c.int();
        c.skip(); // value
        if (!best || wall > best.wall || (wall === best.wall && logical > best.logical)) best = { wall, logical };
      }
    }
    return best;
  } catch {
    return null;
  }
}
