// What the client does with each frame the server sends: one handler per
// frame type, in a table. Handlers check that a frame is for this workflow
// and this phase of the connection, then act through the host; what spans
// several parts of the client (a Joined, a delta, a Durable, a Nack) is the
// host's.

import {
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
import { encodeContextOf } from './replica';
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
  readonly roster: Roster;
  readonly connection: Connection;
  readonly events: Emitter;
  /** Set while a reset's catch-up rebuilds the document: its deltas are reported as one change at the end. */
  readonly resetting: boolean;
  setState(s: SyncState): void;
  notifyStatus(): void;
  /** joined handles a Joined for this workflow (the answer to Join, or a re-join after a role change). */
  joined(cn: Conn, f: Joined): void;
  /** mergeRemote merges a delta from the server (reported as a change when notify). */
  mergeRemote(bytes: Uint8Array, notify: boolean): void;
  /** setLive ends a catch-up. */
  setLive(cn: Conn): void;
  durable(opIds: string[]): void;
  nack(cn: Conn, f: Nack): void;
  workflowDeleted(): void;
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
    h.mergeRemote(f.delta, !h.resetting);
    cn.got++;
    if (f.last || cn.got >= cn.chunks) h.setLive(cn);
  },

  [FrameType.RemoteDelta]: (h, _cn, f) => {
    if (f.workflowId !== h.workflowId) return;
    h.mergeRemote(f.delta, !h.resetting);
  },

  [FrameType.Applied]: (h, cn, f) => {
    const e = h.outbox.get(f.opId);
    if (e && e.gen === cn.gen) {
      e.applied = true;
      h.notifyStatus();
    }
  },

  [FrameType.Durable]: (h, _cn, f) => h.durable(f.opIds),

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
    if (f.kind === 'workflow-deleted') h.workflowDeleted();
    const ev: LifecycleEvent = { kind: f.kind, ts: f.timestampMs };
    if (f.message) ev.msg = f.message;
    h.events.emit('event', ev);
  },

  // A durable mark only lets a client forget the receipts it kept; this
  // client keeps none yet (§9 receipts), so there is nothing to free.
  [FrameType.Stable]: () => {},

  [FrameType.Error]: (h, cn, f) => {
    const err = new ServerError(f.code, f.message ?? '', f.retryable, f.workflowId);
    cn.lastError = err;
    if (f.workflowId === h.workflowId && !f.retryable) {
      // A refused Join (ACCESS_DENIED, UNKNOWN_WORKFLOW, WORKFLOW_DELETED)
      // or a room-level refusal: retrying would repeat it.
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
