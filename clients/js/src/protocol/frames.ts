// Frames of the flowsync wire protocol (docs/PROTOCOL.md §2–§4), a port of
// sync/protocol/frames.go, encode.go and decode.go. Every message is one
// msgpack value `[type, body]`; the body is a map with short string keys.
//
// Field names follow the Go structs in lowerCamelCase (PORTING.md); the wire
// keys are written next to each field. Byte fields (contexts, deltas) are
// opaque workflow encodings: this module never interprets them.

import { FrameDecodeError } from './errors';
import { isWellFormed, parse, toPlain, utf8Length, Writer, type MsgValue } from './msgpack';

/**
 * The protocol version a client announces in Hello. Adding a frame type, an
 * optional key or an error code does not bump it; removing or retyping a key
 * does.
 */
export const ProtocolVersion = 1;

/** Frame type numbers. Client→server 0x01–0x3f, server→client 0x40–0x7f. */
export const FrameType = {
  Hello: 0x01,
  Join: 0x02,
  Leave: 0x03,
  Delta: 0x04,
  Operation: 0x05,
  Presence: 0x06,
  Drag: 0x07,
  Welcome: 0x40,
  Joined: 0x41,
  CatchUp: 0x42,
  Applied: 0x43,
  Durable: 0x44,
  Nack: 0x45,
  RemoteDelta: 0x46,
  PresenceUpdate: 0x47,
  Roster: 0x48,
  DragUpdate: 0x49,
  Event: 0x4a,
  Error: 0x4b,
} as const;
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

// Bounds (sync/protocol/doc.go).
/** Every id: workflow, operation, session, user, replica, tab, block. */
export const MaxIDBytes = 256;
/** Names, avatar URLs, messages. */
export const MaxTextBytes = 4096;
/** The Hello token. */
export const MaxTokenBytes = 16 << 10;
export const DefaultMaxFrameBytes = 1 << 20;
export const DefaultMaxDepth = 32;
export const MaxArrayElements = 131072;
export const MaxMapPairs = 65536;
export const MaxContainers = 32768;
/** Keys of a map that is a fixed record (every map but Drag.pos and a payload). */
const maxStructKeys = 64;

export type Role = 'read' | 'write' | 'admin';
export interface Point {
  x: number;
  y: number;
}
export type SelectionType = 'none' | 'block' | 'edge';
/** A selection; `id` names the block or edge and is absent for none. */
export interface Selection {
  type: SelectionType;
  id?: string;
}
export interface User {
  id: string;
  name?: string;
  avatar?: string;
}
/** Limits the server announces in Welcome; absent = not announced. */
export interface ServerLimits {
  maxFrameBytes?: number; // lim.frame
  maxDeltaBytes?: number; // lim.delta
  maxOpsPerSecond?: number; // lim.ops
  opsBurst?: number; // lim.burst
  maxClockSkewMs?: number; // lim.skew
}
export interface Origin {
  userId: string; // uid
  replicaId?: string; // rid; absent for a thin client's Operation
  sessionId: string; // sid
}
export interface RosterEntry {
  sessionId: string; // sid
  tabSessionId?: string; // tab
  userId: string; // uid
  name?: string;
  avatar?: string;
  role: Role;
  joinedAtMs: number; // joined
  lastActivityMs: number; // active
  cursor: Point | null; // cur
  selection?: Selection; // sel
}

export interface Hello {
  type: typeof FrameType.Hello;
  protocolVersion: number; // v
  token: string; // tok
  replicaId?: string; // rid
  clientName?: string; // cn
  clientVersion?: string; // cv
}
export interface Join {
  type: typeof FrameType.Join;
  workflowId: string; // wf
  context?: Uint8Array; // ctx; absent/empty = I have nothing
  tabSessionId?: string; // tab
}
export interface Leave {
  type: typeof FrameType.Leave;
  workflowId: string;
}
export interface Delta {
  type: typeof FrameType.Delta;
  workflowId: string;
  opId: string; // op
  delta: Uint8Array; // d
}
export interface Operation {
  type: typeof FrameType.Operation;
  workflowId: string;
  opId: string;
  name: string;
  target: string;
  payload: Record<string, unknown>;
}
export interface Presence {
  type: typeof FrameType.Presence;
  workflowId: string;
  cursor: Point | null; // cur; null = pointer not on the canvas
  selection?: Selection; // sel; absent = none
}
export interface Drag {
  type: typeof FrameType.Drag;
  workflowId: string;
  positions: Record<string, Point>; // pos
}
export interface Welcome {
  type: typeof FrameType.Welcome;
  protocolVersion: number;
  sessionId: string; // sid
  user: User;
  serverVersion?: string; // sv
  limits: ServerLimits; // lim
  serverTimeMs: number; // now
}
export interface Joined {
  type: typeof FrameType.Joined;
  workflowId: string;
  role: Role;
  context: Uint8Array;
  roster: RosterEntry[];
  catchUpChunks: number; // chunks
}
export interface CatchUp {
  type: typeof FrameType.CatchUp;
  workflowId: string;
  seq: number;
  last: boolean;
  delta: Uint8Array;
}
export interface Applied {
  type: typeof FrameType.Applied;
  opId: string;
}
export interface Durable {
  type: typeof FrameType.Durable;
  opIds: string[]; // ops
}
export interface Nack {
  type: typeof FrameType.Nack;
  opId: string;
  code: number;
  message?: string; // msg
  retryable: boolean; // retry
}
export interface RemoteDelta {
  type: typeof FrameType.RemoteDelta;
  workflowId: string;
  delta: Uint8Array;
  origin: Origin; // from
}
export interface PresenceUpdate {
  type: typeof FrameType.PresenceUpdate;
  workflowId: string;
  sessionId: string;
  userId: string;
  name?: string;
  avatar?: string;
  cursor: Point | null;
  selection?: Selection;
}
export interface Roster {
  type: typeof FrameType.Roster;
  workflowId: string;
  entries: RosterEntry[];
}
export interface DragUpdate {
  type: typeof FrameType.DragUpdate;
  workflowId: string;
  sessionId: string;
  userId: string;
  positions: Record<string, Point>;
}
export interface Event {
  type: typeof FrameType.Event;
  workflowId: string;
  kind: string; // workflow-deleted, workflow-updated, … ; ignore unknown kinds
  message?: string;
  timestampMs: number; // ts
}
export interface ErrorFrame {
  type: typeof FrameType.Error;
  code: number;
  message?: string;
  retryable: boolean;
  workflowId?: string;
}

export type ClientFrame = Hello | Join | Leave | Delta | Operation | Presence | Drag;
export type ServerFrame =
  | Welcome
  | Joined
  | CatchUp
  | Applied
  | Durable
  | Nack
  | RemoteDelta
  | PresenceUpdate
  | Roster
  | DragUpdate
  | Event
  | ErrorFrame;
export type Frame = ClientFrame | ServerFrame;

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

// ---- validation (shared by encode and decode) ---------------------------

function invalid(key: string, why: string): FrameDecodeError {
  return new FrameDecodeError('InvalidValue', `"${key}" ${why}`);
}

function checkID(key: string, s: string | undefined, required: boolean): void {
  if (s === undefined || s === '') {
    if (required) throw invalid(key, 'is empty');
    return;
  }
  if (!isWellFormed(s)) throw invalid(key, 'is not valid UTF-8');
  if (utf8Length(s) > MaxIDBytes) throw invalid(key, `is longer than ${MaxIDBytes} bytes`);
}

function checkText(key: string, s: string | undefined, max: number): void {
  if (s === undefined) return;
  if (!isWellFormed(s)) throw invalid(key, 'is not valid UTF-8');
  if (utf8Length(s) > max) throw invalid(key, `is longer than ${max} bytes`);
}

function checkPoint(key: string, p: Point | null | undefined): void {
  if (p == null) return;
  if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) throw invalid(key, 'is not finite');
}

function checkSelection(s: Selection | undefined): void {
  if (s === undefined) return;
  switch (s.type) {
    case 'none':
      if (s.id !== undefined && s.id !== '') throw invalid('sel', 'has an id but selects nothing');
      return;
    case 'block':
    case 'edge':
      checkID('sel.id', s.id, true);
      return;
  }
  throw invalid('sel.t', 'is not block, edge or none');
}

function checkPositions(ps: Record<string, Point>): void {
  for (const id of Object.keys(ps)) {
    checkID('pos', id, true);
    checkPoint('pos', ps[id]);
  }
}

function checkRole(r: string): void {
  if (r !== 'read' && r !== 'write' && r !== 'admin') throw invalid('role', 'is not read, write or admin');
}

function checkRoster(es: RosterEntry[]): void {
  for (const e of es) {
    checkID('sid', e.sessionId, true);
    checkID('tab', e.tabSessionId, false);
    checkID('uid', e.userId, true);
    checkText('name', e.name, MaxTextBytes);
    checkText('avatar', e.avatar, MaxTextBytes);
    checkRole(e.role);
    checkPoint('cur', e.cursor);
    checkSelection(e.selection);
  }
}

function checkBin(key: string, b: Uint8Array | undefined): void {
  if (!b || b.length === 0) throw invalid(key, 'is empty');
}

function checkCode(c: number): void {
  if (!Number.isInteger(c) || c <= 0 || c > 0xffff) throw invalid('code', 'is not a code from 1 to 65535');
}

/**
 * validateFrame checks the rules that encodeFrame and decodeFrame share, so
 * that whatever one accepts the other does. It throws a FrameDecodeError of
 * kind InvalidValue.
 */
export function validateFrame(f: Frame): void {
  switch (f.type) {
    case FrameType.Hello:
      if (!f.protocolVersion) throw invalid('v', 'is zero');
      checkText('tok', f.token, MaxTokenBytes);
      checkID('rid', f.replicaId, false);
      checkText('cn', f.clientName, MaxIDBytes);
      checkText('cv', f.clientVersion, MaxIDBytes);
      return;
    case FrameType.Welcome:
      if (!f.protocolVersion) throw invalid('v', 'is zero');
      checkID('sid', f.sessionId, true);
      checkID('user.id', f.user.id, true);
      checkText('user.name', f.user.name, MaxTextBytes);
      checkText('user.avatar', f.user.avatar, MaxTextBytes);
      checkText('sv', f.serverVersion, MaxIDBytes);
      return;
    case FrameType.Join:
      checkID('wf', f.workflowId, true);
      checkID('tab', f.tabSessionId, false);
      return;
    case FrameType.Joined:
      checkBin('ctx', f.context);
      checkID('wf', f.workflowId, true);
      checkRole(f.role);
      checkRoster(f.roster);
      return;
    case FrameType.CatchUp:
      checkBin('d', f.delta);
      checkID('wf', f.workflowId, true);
      return;
    case FrameType.Leave:
      checkID('wf', f.workflowId, true);
      return;
    case FrameType.Delta:
      checkBin('d', f.delta);
      checkID('wf', f.workflowId, true);
      checkID('op', f.opId, true);
      return;
    case FrameType.Operation:
      if (f.payload == null || typeof f.payload !== 'object' || Array.isArray(f.payload)) throw invalid('payload', 'is not a map');
      checkID('wf', f.workflowId, true);
      checkID('op', f.opId, true);
      checkID('name', f.name, true);
      checkID('target', f.target, true);
      return;
    case FrameType.Applied:
      checkID('op', f.opId, true);
      return;
    case FrameType.Durable:
      if (f.opIds.length === 0) throw invalid('ops', 'is empty');
      for (const id of f.opIds) checkID('ops', id, true);
      return;
    case FrameType.Nack:
      checkCode(f.code);
      checkID('op', f.opId, true);
      checkText('msg', f.message, MaxTextBytes);
      return;
    case FrameType.RemoteDelta:
      checkBin('d', f.delta);
      checkID('wf', f.workflowId, true);
      checkID('from.uid', f.origin.userId, true);
      checkID('from.rid', f.origin.replicaId, false);
      checkID('from.sid', f.origin.sessionId, true);
      return;
    case FrameType.Presence:
      checkID('wf', f.workflowId, true);
      checkPoint('cur', f.cursor);
      checkSelection(f.selection);
      return;
    case FrameType.PresenceUpdate:
      checkID('wf', f.workflowId, true);
      checkID('sid', f.sessionId, true);
      checkID('uid', f.userId, true);
      checkText('name', f.name, MaxTextBytes);
      checkText('avatar', f.avatar, MaxTextBytes);
      checkPoint('cur', f.cursor);
      checkSelection(f.selection);
      return;
    case FrameType.Roster:
      checkID('wf', f.workflowId, true);
      checkRoster(f.entries);
      return;
    case FrameType.Drag:
      checkID('wf', f.workflowId, true);
      checkPositions(f.positions);
      return;
    case FrameType.DragUpdate:
      checkID('wf', f.workflowId, true);
      checkID('sid', f.sessionId, true);
      checkID('uid', f.userId, true);
      checkPositions(f.positions);
      return;
    case FrameType.Event:
      checkID('wf', f.workflowId, true);
      checkID('kind', f.kind, true);
      checkText('msg', f.message, MaxTextBytes);
      return;
    case FrameType.Error:
      checkCode(f.code);
      checkText('msg', f.message, MaxTextBytes);
      checkID('wf', f.workflowId, false);
      return;
  }
  throw new FrameDecodeError('UnknownFrameType', `0x${Number((f as { type: number }).type).toString(16)}`);
}

// ---- encoding -----------------------------------------------------------

/** An optional string is written only when non-empty: absent and "" mean the same. */
function present(s: string | undefined): s is string {
  return s !== undefined && s !== '';
}

function count(...ps: boolean[]): number {
  return ps.filter(Boolean).length;
}

function writePoint(w: Writer, p: Point): void {
  w.mapHeader(2).str('x').float64(p.x).str('y').float64(p.y);
}

function writeCursor(w: Writer, p: Point | null | undefined): void {
  w.str('cur');
  if (p == null) w.nil();
  else writePoint(w, p);
}

function writeSelection(w: Writer, s: Selection): void {
  w.str('sel').mapHeader(1 + count(present(s.id)));
  w.str('t').str(s.type);
  if (present(s.id)) w.str('id').str(s.id);
}

function writePositions(w: Writer, ps: Record<string, Point>): void {
  const ids = Object.keys(ps).sort();
  w.str('pos').mapHeader(ids.length);
  for (const id of ids) {
    w.str(id);
    writePoint(w, ps[id]);
  }
}

function optStr(w: Writer, k: string, v: string | undefined): void {
  if (present(v)) w.str(k).str(v);
}

function writeRosterEntry(w: Writer, e: RosterEntry): void {
  // cur is always written (nil = no cursor) so that an entry has a fixed shape.
  w.mapHeader(6 + count(present(e.tabSessionId), present(e.name), present(e.avatar), e.selection !== undefined));
  w.str('sid').str(e.sessionId);
  optStr(w, 'tab', e.tabSessionId);
  w.str('uid').str(e.userId);
  optStr(w, 'name', e.name);
  optStr(w, 'avatar', e.avatar);
  w.str('role').str(e.role);
  w.str('joined').int(e.joinedAtMs);
  w.str('active').int(e.lastActivityMs);
  writeCursor(w, e.cursor);
  if (e.selection !== undefined) writeSelection(w, e.selection);
}

function writeBody(w: Writer, f: Frame): void {
  switch (f.type) {
    case FrameType.Hello:
      w.mapHeader(2 + count(present(f.replicaId), present(f.clientName), present(f.clientVersion)));
      w.str('v').uint(f.protocolVersion);
      w.str('tok').str(f.token);
      optStr(w, 'rid', f.replicaId);
      optStr(w, 'cn', f.clientName);
      optStr(w, 'cv', f.clientVersion);
      return;
    case FrameType.Welcome: {
      const l = f.limits;
      const lim: Array<[string, number | undefined]> = [
        ['frame', l.maxFrameBytes],
        ['delta', l.maxDeltaBytes],
        ['ops', l.maxOpsPerSecond],
        ['burst', l.opsBurst],
        ['skew', l.maxClockSkewMs],
      ];
      const set = lim.filter(([, v]) => v !== undefined && v !== 0) as Array<[string, number]>;
      w.mapHeader(4 + count(present(f.serverVersion), set.length > 0));
      w.str('v').uint(f.protocolVersion);
      w.str('sid').str(f.sessionId);
      w.str('user').mapHeader(1 + count(present(f.user.name), present(f.user.avatar)));
      w.str('id').str(f.user.id);
      optStr(w, 'name', f.user.name);
      optStr(w, 'avatar', f.user.avatar);
      optStr(w, 'sv', f.serverVersion);
      if (set.length > 0) {
        w.str('lim').mapHeader(set.length);
        for (const [k, v] of set) w.str(k).uint(v);
      }
      w.str('now').int(f.serverTimeMs);
      return;
    }
    case FrameType.Join: {
      const hasCtx = f.context !== undefined && f.context.length > 0;
      w.mapHeader(1 + count(hasCtx, present(f.tabSessionId)));
      w.str('wf').str(f.workflowId);
      if (hasCtx) w.str('ctx').bin(f.context!);
      optStr(w, 'tab', f.tabSessionId);
      return;
    }
    case FrameType.Joined:
      w.mapHeader(5);
      w.str('wf').str(f.workflowId);
      w.str('role').str(f.role);
      w.str('ctx').bin(f.context);
      w.str('roster').arrayHeader(f.roster.length);
      for (const e of f.roster) writeRosterEntry(w, e);
      w.str('chunks').uint(f.catchUpChunks);
      return;
    case FrameType.CatchUp:
      w.mapHeader(4);
      w.str('wf').str(f.workflowId);
      w.str('seq').uint(f.seq);
      w.str('last').bool(f.last);
      w.str('d').bin(f.delta);
      return;
    case FrameType.Leave:
      w.mapHeader(1).str('wf').str(f.workflowId);
      return;
    case FrameType.Delta:
      w.mapHeader(3);
      w.str('wf').str(f.workflowId);
      w.str('op').str(f.opId);
      w.str('d').bin(f.delta);
      return;
    case FrameType.Operation:
      w.mapHeader(5);
      w.str('wf').str(f.workflowId);
      w.str('op').str(f.opId);
      w.str('name').str(f.name);
      w.str('target').str(f.target);
      w.str('payload').canonical(f.payload);
      return;
    case FrameType.Applied:
      w.mapHeader(1).str('op').str(f.opId);
      return;
    case FrameType.Durable:
      w.mapHeader(1).str('ops').arrayHeader(f.opIds.length);
      for (const id of f.opIds) w.str(id);
      return;
    case FrameType.Nack:
      w.mapHeader(3 + count(present(f.message)));
      w.str('op').str(f.opId);
      w.str('code').uint(f.code);
      optStr(w, 'msg', f.message);
      w.str('retry').bool(f.retryable);
      return;
    case FrameType.RemoteDelta:
      w.mapHeader(3);
      w.str('wf').str(f.workflowId);
      w.str('d').bin(f.delta);
      w.str('from').mapHeader(2 + count(present(f.origin.replicaId)));
      w.str('uid').str(f.origin.userId);
      optStr(w, 'rid', f.origin.replicaId);
      w.str('sid').str(f.origin.sessionId);
      return;
    case FrameType.Presence:
      w.mapHeader(2 + count(f.selection !== undefined));
      w.str('wf').str(f.workflowId);
      writeCursor(w, f.cursor);
      if (f.selection !== undefined) writeSelection(w, f.selection);
      return;
    case FrameType.PresenceUpdate:
      w.mapHeader(4 + count(present(f.name), present(f.avatar), f.selection !== undefined));
      w.str('wf').str(f.workflowId);
      w.str('sid').str(f.sessionId);
      w.str('uid').str(f.userId);
      optStr(w, 'name', f.name);
      optStr(w, 'avatar', f.avatar);
      writeCursor(w, f.cursor);
      if (f.selection !== undefined) writeSelection(w, f.selection);
      return;
    case FrameType.Roster:
      w.mapHeader(2);
      w.str('wf').str(f.workflowId);
      w.str('entries').arrayHeader(f.entries.length);
      for (const e of f.entries) writeRosterEntry(w, e);
      return;
    case FrameType.Drag:
      w.mapHeader(2);
      w.str('wf').str(f.workflowId);
      writePositions(w, f.positions);
      return;
    case FrameType.DragUpdate:
      w.mapHeader(4);
      w.str('wf').str(f.workflowId);
      w.str('sid').str(f.sessionId);
      w.str('uid').str(f.userId);
      writePositions(w, f.positions);
      return;
    case FrameType.Event:
      w.mapHeader(3 + count(present(f.message)));
      w.str('wf').str(f.workflowId);
      w.str('kind').str(f.kind);
      optStr(w, 'msg', f.message);
      w.str('ts').int(f.timestampMs);
      return;
    case FrameType.Error:
      w.mapHeader(2 + count(present(f.message), present(f.workflowId)));
      w.str('code').uint(f.code);
      optStr(w, 'msg', f.message);
      w.str('retry').bool(f.retryable);
      optStr(w, 'wf', f.workflowId);
      return;
  }
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
  writeBody(w, f);
  return w.bytes();
}

// ---- decoding -----------------------------------------------------------

/** Fields reads a fixed-record map: known keys are taken, unknown ones ignored. */
class Fields {
  private readonly m = new Map<string, MsgValue>();

  constructor(v: MsgValue, what: string) {
    if (v.t !== 'map') throw new FrameDecodeError('WrongType', `${what}: want a map`);
    if (v.v.length > maxStructKeys) {
      throw new FrameDecodeError('TooLarge', `${what}: map of ${v.v.length} keys (at most ${maxStructKeys})`);
    }
    for (const [k, e] of v.v) this.m.set(k, e); // duplicates were refused by parse
  }

  /** raw returns a key's value; an optional key's nil reads as absent. */
  private raw(k: string, required: boolean): MsgValue | undefined {
    const v = this.m.get(k);
    if (v === undefined || (!required && v.t === 'nil')) {
      if (required) throw new FrameDecodeError('MissingKey', JSON.stringify(k));
      return undefined;
    }
    return v;
  }

  private wrong(k: string, want: string): FrameDecodeError {
    return new FrameDecodeError('WrongType', `key "${k}": want ${want}`);
  }

  str(k: string): string;
  str(k: string, required: false): string | undefined;
  str(k: string, required = true): string | undefined {
    const v = this.raw(k, required);
    if (v === undefined) return undefined;
    if (v.t !== 'str') throw this.wrong(k, 'a string');
    return v.v;
  }

  bin(k: string): Uint8Array;
  bin(k: string, required: false): Uint8Array | undefined;
  bin(k: string, required = true): Uint8Array | undefined {
    const v = this.raw(k, required);
    if (v === undefined) return undefined;
    if (v.t !== 'bin') throw this.wrong(k, 'bin');
    return v.v;
  }

  bool(k: string): boolean {
    const v = this.raw(k, true)!;
    if (v.t !== 'bool') throw this.wrong(k, 'a bool');
    return v.v;
  }

  uint(k: string): number;
  uint(k: string, required: false): number | undefined;
  uint(k: string, required = true): number | undefined {
    const v = this.raw(k, required);
    if (v === undefined) return undefined;
    if (v.t !== 'int' || v.v < 0) throw this.wrong(k, 'an unsigned integer');
    return Number(v.v);
  }

  /** int reads a signed 64-bit integer (a uint64 above 2^63-1 does not fit). */
  int(k: string): number {
    const v = this.raw(k, true)!;
    if (v.t !== 'int' || (typeof v.v === 'bigint' && v.v > 0x7fffffffffffffffn)) throw this.wrong(k, 'an int64');
    return Number(v.v);
  }

  value(k: string, required = true): MsgValue | undefined {
    return this.raw(k, required);
  }

  /** nilable returns a present key's value, nil included (cur: nil means "no cursor"). */
  has(k: string): boolean {
    return this.m.has(k);
  }
}

function num(v: MsgValue, k: string): number {
  if (v.t === 'float' || v.t === 'int') return Number(v.v);
  throw new FrameDecodeError('WrongType', `key "${k}": want a number`);
}

function readPoint(v: MsgValue, what: string): Point {
  const f = new Fields(v, what);
  return { x: num(f.value('x')!, 'x'), y: num(f.value('y')!, 'y') };
}

function readCursor(f: Fields): Point | null {
  const v = f.value('cur', false);
  return v === undefined ? null : readPoint(v, 'cur');
}

function readSelection(f: Fields): Selection | undefined {
  const v = f.value('sel', false);
  if (v === undefined) return undefined;
  const s = new Fields(v, 'sel');
  const t = s.value('t', false);
  if (t === undefined) throw new FrameDecodeError('MissingKey', '"sel.t"');
  if (t.t !== 'str') throw new FrameDecodeError('WrongType', 'key "sel.t": want a string');
  const id = s.str('id', false);
  if (t.v === '' && (id === undefined || id === '')) return undefined; // Go's zero Selection
  const sel: Selection = { type: t.v as SelectionType };
  if (id !== undefined && id !== '') sel.id = id;
  return sel;
}

function readPositions(f: Fields): Record<string, Point> {
  const v = f.value('pos')!;
  if (v.t !== 'map') throw new FrameDecodeError('WrongType', 'key "pos": want a map of positions');
  const out: Record<string, Point> = {};
  for (const [id, p] of v.v) {
    Object.defineProperty(out, id, { value: readPoint(p, 'pos'), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function readRoster(v: MsgValue, k: string): RosterEntry[] {
  if (v.t !== 'arr') throw new FrameDecodeError('WrongType', `key "${k}": want an array`);
  return v.v.map((ev) => {
    const e = new Fields(ev, 'roster entry');
    const out: RosterEntry = {
      sessionId: e.str('sid'),
      userId: e.str('uid'),
      role: e.str('role') as Role,
      joinedAtMs: e.int('joined'),
      lastActivityMs: e.int('active'),
      cursor: readCursor(e),
    };
    setOpt(out, 'tabSessionId', e.str('tab', false));
    setOpt(out, 'name', e.str('name', false));
    setOpt(out, 'avatar', e.str('avatar', false));
    const sel = readSelection(e);
    if (sel) out.selection = sel;
    return out;
  });
}

/** setOpt sets an optional string only when non-empty, so that decode(encode(x)) has the same shape. */
function setOpt<T extends object, K extends keyof T>(o: T, k: K, v: string | undefined): void {
  if (v !== undefined && v !== '') o[k] = v as T[K];
}

function decodeBody(type: number, body: MsgValue): Frame {
  const f = new Fields(body, 'body');
  switch (type) {
    case FrameType.Hello: {
      const out: Hello = { type, protocolVersion: f.uint('v'), token: f.str('tok') };
      setOpt(out, 'replicaId', f.str('rid', false));
      setOpt(out, 'clientName', f.str('cn', false));
      setOpt(out, 'clientVersion', f.str('cv', false));
      return out;
    }
    case FrameType.Welcome: {
      const u = new Fields(f.value('user')!, 'user');
      const user: User = { id: u.str('id') };
      setOpt(user, 'name', u.str('name', false));
      setOpt(user, 'avatar', u.str('avatar', false));
      const limits: ServerLimits = {};
      const lv = f.value('lim', false);
      if (lv !== undefined) {
        const l = new Fields(lv, 'lim');
        const set = (k: keyof ServerLimits, key: string) => {
          const n = l.uint(key, false);
          if (n) limits[k] = n; // 0 = not announced, as absent
        };
        set('maxFrameBytes', 'frame');
        set('maxDeltaBytes', 'delta');
        set('maxOpsPerSecond', 'ops');
        set('opsBurst', 'burst');
        set('maxClockSkewMs', 'skew');
      }
      const out: Welcome = {
        type,
        protocolVersion: f.uint('v'),
        sessionId: f.str('sid'),
        user,
        limits,
        serverTimeMs: f.int('now'),
      };
      setOpt(out, 'serverVersion', f.str('sv', false));
      return out;
    }
    case FrameType.Join: {
      const out: Join = { type, workflowId: f.str('wf') };
      const ctx = f.bin('ctx', false);
      if (ctx && ctx.length > 0) out.context = ctx;
      setOpt(out, 'tabSessionId', f.str('tab', false));
      return out;
    }
    case FrameType.Joined:
      return {
        type,
        workflowId: f.str('wf'),
        role: f.str('role') as Role,
        context: f.bin('ctx'),
        roster: readRoster(f.value('roster')!, 'roster'),
        catchUpChunks: f.uint('chunks'),
      };
    case FrameType.CatchUp:
      return { type, workflowId: f.str('wf'), seq: f.uint('seq'), last: f.bool('last'), delta: f.bin('d') };
    case FrameType.Leave:
      return { type, workflowId: f.str('wf') };
    case FrameType.Delta:
      return { type, workflowId: f.str('wf'), opId: f.str('op'), delta: f.bin('d') };
    case FrameType.Operation: {
      const p = f.value('payload')!;
      if (p.t !== 'map') throw new FrameDecodeError('WrongType', 'key "payload": want a map');
      return {
        type,
        workflowId: f.str('wf'),
        opId: f.str('op'),
        name: f.str('name'),
        target: f.str('target'),
        payload: toPlain(p) as Record<string, unknown>,
      };
    }
    case FrameType.Presence: {
      const out: Presence = { type, workflowId: f.str('wf'), cursor: readCursor(f) };
      const sel = readSelection(f);
      if (sel) out.selection = sel;
      return out;
    }
    case FrameType.Drag:
      return { type, workflowId: f.str('wf'), positions: readPositions(f) };
    case FrameType.Applied:
      return { type, opId: f.str('op') };
    case FrameType.Durable: {
      const v = f.value('ops')!;
      if (v.t !== 'arr') throw new FrameDecodeError('WrongType', 'key "ops": want an array of strings');
      return {
        type,
        opIds: v.v.map((e) => {
          if (e.t !== 'str') throw new FrameDecodeError('WrongType', 'key "ops": want an array of strings');
          return e.v;
        }),
      };
    }
    case FrameType.Nack: {
      const out: Nack = { type, opId: f.str('op'), code: f.uint('code'), retryable: f.bool('retry') };
      setOpt(out, 'message', f.str('msg', false));
      return out;
    }
    case FrameType.RemoteDelta: {
      const o = new Fields(f.value('from')!, 'from');
      const origin: Origin = { userId: o.str('uid'), sessionId: o.str('sid') };
      setOpt(origin, 'replicaId', o.str('rid', false));
      return { type, workflowId: f.str('wf'), delta: f.bin('d'), origin };
    }
    case FrameType.PresenceUpdate: {
      const out: PresenceUpdate = {
        type,
        workflowId: f.str('wf'),
        sessionId: f.str('sid'),
        userId: f.str('uid'),
        cursor: readCursor(f),
      };
      setOpt(out, 'name', f.str('name', false));
      setOpt(out, 'avatar', f.str('avatar', false));
      const sel = readSelection(f);
      if (sel) out.selection = sel;
      return out;
    }
    case FrameType.Roster:
      return { type, workflowId: f.str('wf'), entries: readRoster(f.value('entries')!, 'entries') };
    case FrameType.DragUpdate:
      return {
        type,
        workflowId: f.str('wf'),
        sessionId: f.str('sid'),
        userId: f.str('uid'),
        positions: readPositions(f),
      };
    case FrameType.Event: {
      const out: Event = { type, workflowId: f.str('wf'), kind: f.str('kind'), timestampMs: f.int('ts') };
      setOpt(out, 'message', f.str('msg', false));
      return out;
    }
    case FrameType.Error: {
      const out: ErrorFrame = { type, code: f.uint('code'), retryable: f.bool('retry') };
      setOpt(out, 'message', f.str('msg', false));
      setOpt(out, 'workflowId', f.str('wf', false));
      return out;
    }
  }
  throw new FrameDecodeError('UnknownFrameType', `0x${type.toString(16).padStart(2, '0')}`);
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
  if (!typeNames.has(type)) {
    const e = new FrameDecodeError('UnknownFrameType', `0x${type.toString(16).padStart(2, '0')}`);
    e.frameType = type;
    throw e;
  }
  try {
    const f = decodeBody(type, body);
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
