// Port of crdt/workflow/encode.go, the API: decoding bytes into a Doc, and
// the encoding of causal contexts (PROTOCOL.md §7.2–7.4). The byte layout
// itself is in codec.ts; Doc.encode writes it.

import type { Context } from '../crdt/context';
import type { Limits } from '../msgpackx/check';
import { DeltaCaps, decodeState, DeltaLimits, DocLimits, type Caps } from './codec';
import { Doc } from './doc';

export { FormatVersion, DocLimits, DeltaLimits, DeltaCaps, type Caps, type Counts } from './codec';

/**
 * Parses an encoded document or delta, checking it against lim first
 * (default DocLimits; pass DeltaLimits for what a peer sends): a hostile
 * input is an error, never a large allocation. caps (none by default) bound
 * the delta's values, replicas, ranges and value nodes. See decodeState in
 * codec.ts for what is refused; the returned document does not alias bytes.
 */
export function decode(bytes: Uint8Array, lim: Limits = DocLimits, caps: Caps = {}): Doc {
  const { ctx, store, texts } = decodeState(bytes, lim, caps);
  return new Doc(ctx, store, texts);
}

/**
 * Decodes a delta as a server does one a client or cluster peer sends:
 * under DeltaLimits and DeltaCaps. (Go: DecodeDelta.)
 */
export function decodeDelta(bytes: Uint8Array): Doc {
  return decode(bytes, DeltaLimits, DeltaCaps);
}

/**
 * Encodes a causal context as bytes: a document with an empty store
 * (PROTOCOL.md §7.4), e.g. Join.ctx. An empty context is 01 93 90 90 90.
 */
export function encodeContext(ctx: Context): Uint8Array {
  return new Doc(ctx).encode();
}

/**
 * Decodes a causal context sent as bytes (a document whose store is
 * ignored, as the Go server reads Join.ctx), checked against lim (default
 * DeltaLimits). Throws DecodeError as decode does.
 */
export function decodeContext(bytes: Uint8Array, lim: Limits = DeltaLimits): Context {
  return decodeState(bytes, lim).ctx;
}
