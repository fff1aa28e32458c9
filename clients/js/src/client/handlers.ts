// What the client does with each frame the server sends: one handler per
// frame type, in a table. Handlers check that a frame is for this workflow
// and this phase of the connection, then act through the host; what spans
// several parts of the client (a Joined, a delta, a Durable, a Nack) is the
// host's.

import type { StoredReceipt } from '../persist/types';
import {
  Code,
  FrameType,
  ProtocolVersion,
  type Frame,
  type Joined,
  type Nack,
  type Role,
  type ServerFrame,
  type ServerLimits,
} from '../protocol';
import type { Conn, Connection } from './connection';
import { FlowsyncError, ServerError } from './errors';
import type { Emitter, LifecycleEvent, User } from './events';
import type { LocalReplica } from './local';
import type { Outbox } from './outbox';
import type { Receipts } from './receipts';
import { encodeContextOf, type Context } from './replica';
import type { Roster } from './roster';
import type { SyncState } from './status';

/** What the latest session told us about itself. */
export interface SessionInfo {
  /** From Welcome; '' until then. */
  sessionId: string;
  user: User | null;
  /** From Joined; null until joined. */
  role: Role | null;
  limits: ServerLimits;
}

/** What the handlers act on. */
export interface FrameHost {
  readonly workflowId: string;
  readonly tabSessionId: string;
  readonly info: SessionInfo;
  readonly replica: LocalReplica;
  readonly outbox: Outbox;
  readonly receipts: Receipts;
  readonly roster: Roster;
  readonly connection: Connection;
  readonly events: Emitter;
  /** Set while a reset's catch-up rebuilds the document: its deltas are reported as one change at the end. */
  readonly resetting: boolean;
  setState(s: SyncState): void;
  notifyStatus(): void;
  /** joined handles a Joined for this workflow (the answer to Join, or a re-join after a role change). */
  joined(cn: Conn, f: Joined): void;
  /** mergeRemote merges a delta from the server (reported as a change when notify), keeping it with its receipt if given. */
  mergeRemote(bytes: Uint8Array, notify: boolean, receipt?: StoredReceipt): void;
  /** setLive ends a catch-up. */
  setLive(cn: Conn): void;
  /** stable drops the kept deltas of epoch up to seq (durable now). */
  stable(epoch: string, seq: number): void;
  durable(opIds: string[]): void;
  nack(cn: Conn, f: Nack): void;
  /** enterDeleted enters the deleted state (fromEvent: the server's Event already says so). */
  enterDeleted(message: string, fromEvent?: boolean): void;
  /** replicaBehind switches to a new replica id and re-mints the unsent edits (server: Joined.ctx, or null after REPLICA_BEHIND). */
  replicaBehind(server: Context | null, why: string): void;
}

/** receiptOf returns what to keep of a received delta: only a delta with a receipt, of a room with an epoch. */
function receiptOf(epoch: string | undefined, seq: number | undefined, sub: number, delta: Uint8Array, keyId?: string, mac?: Uint8Array): StoredReceipt | undefined {
  if (epoch === undefined || seq === undefined || !keyId || !mac) return undefined;
  return { epoch, seq, sub, delta, keyId, mac };
}

/** applied marks the edit or Vouch sent on cn as op id merged by the server. */
function applied(h: FrameHost, cn: Conn, opId: string): void {
  const e = h.outbox.get(opId);
  if (e && e.gen === cn.gen) {
    e.applied = true;
    h.notifyStatus();
    return;
  }
  const k = h.receipts.byOp(opId);
  if (k && k.gen === cn.gen) k.applied = true;
}

type Handler<T extends ServerFrame['type']> = (h: FrameHost, cn: Conn, f: Extract<ServerFrame, { type: T }>) => void;
type Handlers = { [T in ServerFrame['type']]: Handler<T> };

const handlers: Handlers = {
  [FrameType.Welcome]: (h, cn, f) => {
    if (cn.phase !== 'hello') return;
    if (f.protocolVersion !== ProtocolVersion) {
      throw new FlowsyncError('protocol', `flowsync: the server speaks protocol ${f.protocolVersion}, not ${ProtocolVersion}`);
    }
    h.info.sessionId = f.sessionId;
    h.info.user = { id: f.user.id, name: f.user.name ?? f.user.id, ...(f.user.avatar ? { avatar: f.user.avatar } : {}) };
    h.info.limits = f.limits;
    h.replica.observeServerTime(f.serverTimeMs);
    cn.phase = 'join';
    h.connection.send(cn, { type: FrameType.Join, workflowId: h.workflowId, context: encodeContextOf(h.replica.doc), tabSessionId: h.tabSessionId });
    h.setState('joining');
  },

  [FrameType.Joined]: (h, cn, f) => {
    if (f.workflowId !== h.workflowId) return;
    h.joined(cn, f);
  },

  [FrameType.CatchUp]: (h, cn, f) => {
    if (f.workflowId !== h.workflowId || cn.phase !== 'joined') return;
    // Chunks of a catch-up that is not durable yet are kept under the
    // join's sequence (sub: the chunk number + 1).
    h.mergeRemote(f.delta, !h.resetting, receiptOf(cn.epoch, cn.catchUpSeq, f.seq + 1, f.delta, f.receiptKeyId, f.receiptMac));
    cn.got++;
    if (f.last || cn.got >= cn.chunks) h.setLive(cn);
  },

  [FrameType.RemoteDelta]: (h, cn, f) => {
    if (f.workflowId !== h.workflowId) return;
    h.mergeRemote(f.delta, !h.resetting, receiptOf(cn.epoch, f.seq, 0, f.delta, f.receiptKeyId, f.receiptMac));
  },

  [FrameType.Applied]: (h, cn, f) => applied(h, cn, f.opId),

  [FrameType.Durable]: (h, _cn, f) => h.durable(f.opIds),

  // Asked for in Hello: what one server flush answered, applied ids first.
  [FrameType.Acks]: (h, cn, f) => {
    for (const id of f.applied ?? []) applied(h, cn, id);
    if (f.durable && f.durable.length > 0) h.durable(f.durable);
  },

  [FrameType.Nack]: (h, cn, f) => h.nack(cn, f),

  [FrameType.Roster]: (h, _cn, f) => {
    if (f.workflowId !== h.workflowId) return;
    h.roster.replace(f.entries);
    h.events.emit('roster', h.roster.list());
  },

  [FrameType.PresenceUpdate]: (h, _cn, f) => {
    if (f.workflowId !== h.workflowId) return;
    h.events.emit('presence', h.roster.presence(f));
  },

  [FrameType.DragUpdate]: (h, _cn, f) => {
    if (f.workflowId !== h.workflowId) return;
    h.events.emit('drag', { sid: f.sessionId, uid: f.userId, pos: f.positions });
  },

  [FrameType.Event]: (h, _cn, f) => {
    if (f.workflowId !== h.workflowId) return;
    if (f.kind === 'workflow-deleted') h.enterDeleted(f.message ?? '', true);
    const ev: LifecycleEvent = { kind: f.kind, ts: f.timestampMs };
    if (f.message) ev.msg = f.message;
    h.events.emit('event', ev);
  },

  [FrameType.Stable]: (h, _cn, f) => {
    if (f.workflowId !== h.workflowId) return;
    h.stable(f.epoch, f.seq);
  },

  [FrameType.Error]: (h, cn, f) => {
    const err = new ServerError(f.code, f.message ?? '', f.retryable, f.workflowId);
    cn.lastError = err;
    if (f.workflowId === h.workflowId && f.code === Code.REPLICA_BEHIND) {
      // Our Join's context lacks dots of our own replica that the server holds.
      h.replicaBehind(null, `the server refused the join: ${f.message || 'REPLICA_BEHIND'}`);
      return;
    }
    if (f.workflowId === h.workflowId && f.code === Code.WORKFLOW_DELETED) {
      h.events.emit('error', err);
      h.enterDeleted(f.message || 'the workflow was deleted');
      return;
    }
    if (f.workflowId === h.workflowId && cn.phase === 'joined' &&
      (f.code === Code.PERMISSION_DENIED || f.code === Code.TOO_LARGE || f.code === Code.WORKFLOW_LOCKED)) {
      // A refused Drag (a read role's, one over MaxDragBlocks or
      // MaxDragBytes, or one in a locked workflow): nothing was relayed,
      // the session goes on.
      h.events.emit('error', err);
      return;
    }
    if (f.workflowId === h.workflowId && !f.retryable) {
      // A refused Join (ACCESS_DENIED, UNKNOWN_WORKFLOW, TOO_MANY_ROOMS,
      // WORKFLOW_DELETED) or a room-level refusal: retrying would repeat it.
      h.events.emit('error', err);
      h.connection.refused();
      return;
    }
    if (f.workflowId === h.workflowId && cn.phase === 'join') {
      // A retryable refusal of the Join (OVERLOADED, RATE_LIMITED).
      h.connection.fail(cn, err);
      return;
    }
    h.events.emit('error', err);
  },
};

/**
 * handleFrame runs f's handler. A client→server frame from the server is
 * ignored, as the Go client ignores it.
 */
export function handleFrame(h: FrameHost, cn: Conn, f: Frame): void {
  const handler = (handlers as Partial<Record<number, Handler<ServerFrame['type']>>>)[f.type];
  if (handler) handler(h, cn, f as ServerFrame as never);
}
