// Frames of the flowsync wire protocol (docs/PROTOCOL.md §2–§4), a port of
// sync/protocol. Every message is one msgpack value `[type, body]`; the body
// is a map with short string keys.
//
// The frame interfaces, constants and per-frame tables live in schema.ts,
// generated from the Go tables (sync/protocol/schema.go), and codec.ts
// interprets the tables; this module is the public face of both. Field
// names follow the Go structs in lowerCamelCase (PORTING.md). Byte fields
// (contexts, deltas) are opaque workflow encodings: this module never
// interprets them.

import { readRecord, validateRecord, writeRecord } from './codec';
import { FrameDecodeError } from './errors';
import { parse, Writer } from './msgpack';
import { DefaultMaxDepth, DefaultMaxFrameBytes, FrameType, frameBodies, MaxArrayElements, MaxContainers, MaxMapPairs, type Frame } from './schema';

export {
  DefaultMaxDepth,
  DefaultMaxFrameBytes,
  FrameType,
  MaxArrayElements,
  MaxContainers,
  MaxDragBlocks,
  MaxDragBytes,
  MaxIDBytes,
  MaxMapPairs,
  MaxTextBytes,
  MaxTokenBytes,
  ProtocolVersion,
} from './schema';
/** The Hello.caps name asking for Acks frames instead of an Applied per edit and a Durable per store write. */
export const CapabilityAcks = 'acks';

export type {
  Acks,
  Applied,
  CatchUp,
  ClientFrame,
  Delta,
  Drag,
  DragUpdate,
  Durable,
  ErrorFrame,
  Event,
  Frame,
  Hello,
  Join,
  Joined,
  Leave,
  Nack,
  Operation,
  Origin,
  Point,
  Presence,
  PresenceUpdate,
  RemoteDelta,
  Role,
  Roster,
  RosterEntry,
  Selection,
  SelectionType,
  ServerFrame,
  ServerLimits,
  TextCaret,
  TextPos,
  User,
  Welcome,
} from './schema';

export type FrameTypeName = keyof typeof FrameType;

const typeNames = new Map<number, FrameTypeName>(
  (Object.entries(FrameType) as Array<[FrameTypeName, number]>).map(([k, v]) => [v, k]),
);

/** frameTypeName names a frame type, e.g. "Delta", or `FrameType(0x..)`. */
export function frameTypeName(t: number): string {
  return typeNames.get(t) ?? `FrameType(0x${t.toString(16).padStart(2, '0')})`;
}

/** isClientFrameType reports whether t is in the client→server range. */
export function isClientFrameType(t: number): boolean {
  return t >= 0x01 && t <= 0x3f;
}

/** isServerFrameType reports whether t is in the server→client range. */
export function isServerFrameType(t: number): boolean {
  return t >= 0x40 && t <= 0x7f;
}

/** Lifecycle event kinds this build knows. New kinds arrive without a version bump. */
export const EventKind = {
  WorkflowDeleted: 'workflow-deleted',
  WorkflowUpdated: 'workflow-updated',
  WorkflowReverted: 'workflow-reverted',
  WorkflowDeployed: 'workflow-deployed',
  AccessRevoked: 'access-revoked',
} as const;

/** Limits bounds what decodeFrame accepts; absent fields take the defaults. */
export interface Limits {
  /** Encoded size of one frame. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Nesting of arrays and maps, counting the envelope. Default 32. */
  maxDepth?: number;
}

function unknownType(type: number): FrameDecodeError {
  return new FrameDecodeError('UnknownFrameType', `0x${type.toString(16).padStart(2, '0')}`);
}

/**
 * validateFrame checks the rules that encodeFrame and decodeFrame share, so
 * that whatever one accepts the other does. It throws a FrameDecodeError of
 * kind InvalidValue.
 */
export function validateFrame(f: Frame): void {
  const body = frameBodies.get(f.type);
  if (body === undefined) throw unknownType(Number((f as { type: number }).type));
  validateRecord(body, f as unknown as Record<string, unknown>, '');
}

/**
 * encodeFrame validates f and returns its encoding, `[type, body]`, byte for
 * byte what the Go encoder writes for the same frame. It throws a
 * FrameDecodeError (kind InvalidValue) for a frame the peer would refuse,
 * and a TypeError for an Operation payload that is not JSON-shaped.
 */
export function encodeFrame(f: Frame): Uint8Array {
  validateFrame(f);
  const w = new Writer();
  w.arrayHeader(2).uint(f.type);
  writeRecord(w, frameBodies.get(f.type)!, f as unknown as Record<string, unknown>);
  return w.bytes();
}

/**
 * decodeFrame decodes one frame. It checks the whole input first (size,
 * nesting, every declared length, element caps, no ext types, valid UTF-8,
 * string keys, no duplicate keys, no trailing bytes) and only then reads
 * fields; unknown body keys are ignored, optional keys holding nil read as
 * absent. Any failure throws a FrameDecodeError; its `frameType` is set once
 * the envelope was readable. Byte fields are copies, safe to keep.
 */
export function decodeFrame(b: Uint8Array, lim: Limits = {}): Frame {
  const maxFrameBytes = lim.maxFrameBytes && lim.maxFrameBytes > 0 ? lim.maxFrameBytes : DefaultMaxFrameBytes;
  const maxDepth = lim.maxDepth && lim.maxDepth > 0 ? lim.maxDepth : DefaultMaxDepth;
  if (b.length > maxFrameBytes) {
    throw new FrameDecodeError('TooLarge', `${b.length} > ${maxFrameBytes} bytes`);
  }
  const v = parse(b, { maxDepth, maxArrayElements: MaxArrayElements, maxMapPairs: MaxMapPairs, maxContainers: MaxContainers });
  if (v.t !== 'arr' || v.v.length !== 2) {
    throw new FrameDecodeError('WrongType', 'envelope is not a 2-element array [type, body]');
  }
  const [tv, body] = v.v;
  if (tv.t !== 'int' || typeof tv.v !== 'number' || tv.v < 0 || tv.v > 0xff) {
    throw new FrameDecodeError('WrongType', 'frame type is not a small unsigned integer');
  }
  const type = tv.v;
  const schema = frameBodies.get(type);
  if (schema === undefined) {
    const e = unknownType(type);
    e.frameType = type;
    throw e;
  }
  try {
    const f = readRecord(schema, body, '', 'body', { type }) as unknown as Frame;
    validateFrame(f);
    return f;
  } catch (e) {
    if (e instanceof FrameDecodeError) {
      e.frameType = type;
      e.message = e.message.replace(/^(protocol: [a-z ]+)/, `$1 in ${frameTypeName(type)}`);
    }
    throw e;
  }
}
