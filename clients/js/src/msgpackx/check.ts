// Port of crdt/msgpackx/check.go: the bounded pre-check every decoder runs
// before it looks at the bytes.
//
// check walks an encoded value without allocating and proves that every
// declared length fits in the bytes that are actually there, that nesting
// stays under a depth cap and that nothing trails the value. Only after check
// passes do callers decode, so a five-byte header that claims a four-gigabyte
// array is an error instead of an allocation. It accepts and refuses exactly
// what Go's msgpackx.Check does, so both languages agree on which deltas are
// valid.

/** Bounds what check accepts. Zero or absent fields take the defaults. */
export interface Limits {
  /** Caps the encoded size. Default: 16 MiB. */
  maxBytes?: number;
  /** Caps the nesting of arrays and maps. Default: 32. */
  maxDepth?: number;
}

const defaultMaxBytes = 16 << 20;
const defaultMaxDepth = 32;

/**
 * The ways msgpack input is refused; each is the name of a Go sentinel
 * without Err (msgpackx.ErrTruncated → "Truncated"). "Unsupported" is a
 * value canonical cannot encode and "DuplicateKey" a map key that appears
 * twice (Go reports both as untyped errors). "NotCanonical" and "NonFinite"
 * come from checkCanonical (Go: ErrNotCanonical, ErrNonFinite), "TooManyNodes"
 * from checkCanonicalNodes (Go: ErrTooManyNodes).
 */
export type MsgpackErrorCode =
  | 'TooLarge'
  | 'Truncated'
  | 'TooDeep'
  | 'Trailing'
  | 'BadByte'
  | 'Empty'
  | 'Type'
  | 'Unsupported'
  | 'DuplicateKey'
  | 'NotCanonical'
  | 'NonFinite'
  | 'TooManyNodes';

/** A typed msgpack error; code says which rule was broken, the message where. */
export class MsgpackError extends Error {
  constructor(
    readonly code: MsgpackErrorCode,
    detail: string,
  ) {
    super(`msgpackx: ${detail}`);
    this.name = 'MsgpackError';
  }
}

/** Fills in the defaults of lim, as Go's Limits.withDefaults. */
export function withDefaults(lim: Limits = {}): Required<Limits> {
  return {
    maxBytes: lim.maxBytes !== undefined && lim.maxBytes > 0 ? lim.maxBytes : defaultMaxBytes,
    maxDepth: lim.maxDepth !== undefined && lim.maxDepth > 0 ? lim.maxDepth : defaultMaxDepth,
  };
}

/**
 * Verifies that b holds exactly one well-formed msgpack value within lim, and
 * throws a MsgpackError otherwise. Extension types are refused: no flowsync
 * encoding uses them.
 */
export function check(b: Uint8Array, lim?: Limits): void {
  checkNodes(b, lim, Number.MAX_SAFE_INTEGER);
}

/**
 * check that also throws "TooManyNodes" for an input of more than maxNodes
 * msgpack nodes (every scalar, array and map, each map key and value
 * counted), as soon as the walk reaches the node past it. (Go: CheckNodes.)
 */
export function checkNodes(b: Uint8Array, lim: Limits | undefined, maxNodes: number): void {
  const l = withDefaults(lim);
  if (b.length === 0) throw new MsgpackError('Empty', 'empty input');
  if (b.length > l.maxBytes) {
    throw new MsgpackError('TooLarge', `input larger than the limit: ${b.length} > ${l.maxBytes} bytes`);
  }
  const end = skipValue(b, 0, l.maxDepth, maxNodes);
  if (end !== b.length) {
    throw new MsgpackError('Trailing', `trailing bytes after the value: ${b.length - end} bytes at offset ${end}`);
  }
}

/**
 * Returns the offset just past the value that starts at off, checking it as
 * check does (without the size limit). maxDepth ≤ 0 takes the default.
 */
export function skip(b: Uint8Array, off: number, maxDepth = 0): number {
  return skipValue(b, off, maxDepth > 0 ? maxDepth : defaultMaxDepth, Number.MAX_SAFE_INTEGER);
}

/** Go's stack capacity in skip: nesting beyond it is refused whatever maxDepth says. */
const stackCap = 64;

function truncated(detail: string): MsgpackError {
  return new MsgpackError('Truncated', `declared length exceeds the bytes left${detail}`);
}

// Iterates rather than recursing on the pending element counts so that a
// long flat array costs no stack; depth is tracked explicitly, with the same
// rule as Go: refused when the pending stack would reach maxDepth.
function skipValue(b: Uint8Array, off: number, maxDepth: number, maxNodes: number): number {
  // pending[i] is how many values are still expected at depth i.
  const pending: number[] = [];
  let need = 1;
  for (let nodes = 1; ; nodes++) {
    while (need === 0) {
      if (pending.length === 0) return off;
      need = pending.pop()!;
    }
    need--;
    if (nodes > maxNodes) throw new MsgpackError('TooManyNodes', `more than ${maxNodes} nodes at offset ${off}`);
    if (off >= b.length) throw truncated(` at offset ${off}`);
    const c = b[off];
    off++;
    let payload = 0;
    let children = 0;
    let hdr = 0; // bytes of length header following the type byte
    if (c <= 0x7f || c >= 0xe0 || c === 0xc0 || c === 0xc2 || c === 0xc3) {
      // fixint, nil, bool
    } else if (c >= 0x80 && c <= 0x8f) {
      children = 2 * (c & 0x0f);
    } else if (c >= 0x90 && c <= 0x9f) {
      children = c & 0x0f;
    } else if (c >= 0xa0 && c <= 0xbf) {
      payload = c & 0x1f;
    } else if (c === 0xcc || c === 0xd0) {
      payload = 1;
    } else if (c === 0xcd || c === 0xd1) {
      payload = 2;
    } else if (c === 0xca || c === 0xce || c === 0xd2) {
      payload = 4;
    } else if (c === 0xcb || c === 0xcf || c === 0xd3) {
      payload = 8;
    } else if (c === 0xc4 || c === 0xd9) {
      hdr = 1;
    } else if (c === 0xc5 || c === 0xda || c === 0xdc || c === 0xde) {
      hdr = 2;
    } else if (c === 0xc6 || c === 0xdb || c === 0xdd || c === 0xdf) {
      hdr = 4;
    } else {
      // 0xc1, ext and fixext
      throw new MsgpackError(
        'BadByte',
        `byte 0xc1 or an extension type is not allowed: 0x${hex(c)} at offset ${off - 1}`,
      );
    }
    if (hdr > 0) {
      if (b.length - off < hdr) throw truncated(` at offset ${off}`);
      let n: number;
      if (hdr === 1) n = b[off];
      else if (hdr === 2) n = (b[off] << 8) | b[off + 1];
      else n = ((b[off] << 24) >>> 0) + ((b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]);
      off += hdr;
      const left = b.length - off;
      if (n > left) throw truncated(`: ${n} declared, ${left} left at offset ${off}`);
      if (c === 0xdc || c === 0xdd) {
        children = n;
      } else if (c === 0xde || c === 0xdf) {
        if (2 * n > left) throw truncated(`: map of ${n} entries, ${left} bytes left at offset ${off}`);
        children = 2 * n;
      } else {
        payload = n;
      }
    }
    if (payload > b.length - off) {
      throw truncated(`: ${payload} declared, ${b.length - off} left at offset ${off}`);
    }
    off += payload;
    if (children > 0) {
      if (children > b.length - off) {
        throw truncated(`: ${children} elements declared, ${b.length - off} bytes left at offset ${off}`);
      }
      if (pending.length + 1 >= maxDepth || pending.length >= stackCap) {
        throw new MsgpackError('TooDeep', `nesting deeper than the limit (${maxDepth})`);
      }
      pending.push(need);
      need = children;
    }
  }
}

export function hex(c: number): string {
  return c.toString(16).padStart(2, '0');
}
