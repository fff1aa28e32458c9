// The engine behind FlowsyncClient: it owns the parts (the local replica,
// the outbox, local storage, the lease, the connection, the writer,
// presence, the roster, the status) and carries out what involves several
// of them — an edit, a Joined, a delta from the server, a Durable, a Nack,
// a reset, the retirement of a replica id, closing.
//
// The rules it follows, and why:
//   - After every (re)connect: Join with the local causal context, merge the
//     catch-up, then resend the outbox. Merging is idempotent, so a delta the
//     server already has costs bytes, never correctness.
//   - Nack NOT_JOINED: the server no longer counts this connection in the
//     room; reconnect and rejoin. Other retryable Nacks: resend the same op
//     after backoff. Non-retryable Nacks: reset (PROTOCOL.md §9) — see reset.
//   - A failed storage write retires the replica id (see lease.ts).

import { Code, codeName, type Joined, type Nack } from '../protocol';
import type { Persistence, ReplicaLease } from '../persist/types';
import { newReplicaId } from '../persist/types';
import type { Op } from '../workflow/builder';
import { Backoff } from './backoff';
import { TokenBucket } from './bucket';
import { Connection, type Conn } from './connection';
import { FlowsyncError, RejectError, ServerError } from './errors';
import { Emitter } from './events';
import { handleFrame, type FrameHost, type SessionInfo } from './handlers';
import { checkRejoin, LeaseKeeper } from './lease';
import { LocalReplica } from './local';
import { DefaultAckTimeoutMs, DefaultClientName, type FlowsyncClientOptions, type WebSocketConstructor } from './options';
import { newEntry, Outbox } from './outbox';
import { PresenceSender } from './presence';
import { decodeDoc, type Doc } from './replica';
import { Roster } from './roster';
import { StatusTracker, type SyncState } from './status';
import { LocalStore } from './store';
import { Writer } from './writer';

/** Bound of one delta when Welcome does not announce lim.delta. */
export const DefaultMaxDeltaBytes = 1 << 20;

/** What open found in storage. */
export interface Restored {
  doc: Uint8Array | null;
  log: Uint8Array[];
  outbox: Array<{ seq: number; id: string; delta: Uint8Array }>;
  nextSeq: number;
}

export class Engine implements FrameHost {
  readonly workflowId: string;
  readonly events = new Emitter();
  readonly info: SessionInfo = { sessionId: '', user: null, role: null, limits: {} };
  readonly replica: LocalReplica;
  readonly outbox = new Outbox();
  readonly roster = new Roster();
  readonly presence: PresenceSender;
  readonly store: LocalStore;
  readonly lease: LeaseKeeper;
  readonly connection: Connection;
  readonly writer: Writer;
  readonly status: StatusTracker;

  private isClosed = false;
  /** Set by the workflow-deleted event: nothing can be stored any more. */
  private deleted = false;
  /** Set by reset: the catch-up that follows rebuilds the document; one 'change' is emitted when it completes. */
  resetting = false;
  private readonly backoff: Backoff;
  private readonly nowFn: () => number;

  constructor(
    opts: FlowsyncClientOptions,
    readonly tabSessionId: string,
    private readonly persistence: Persistence,
    private readonly ownsPersistence: boolean,
    lease: ReplicaLease,
    WS: WebSocketConstructor,
  ) {
    this.workflowId = opts.workflowId;
    this.backoff = new Backoff(opts.backoff);
    this.nowFn = opts.now ?? Date.now;
    this.replica = new LocalReplica(lease.replicaId, this.nowFn);
    this.presence = new PresenceSender(opts.workflowId);
    this.store = new LocalStore(persistence, opts.workflowId, {
      replicaId: () => this.replica.id,
      encodeDoc: () => this.replica.doc.encode(),
      maySnapshot: () => !this.deleted && !this.resetting,
      closed: () => this.isClosed,
      joining: () => this.status.syncState === 'joining',
      failed: (e) => this.storageFailed(e),
    });
    this.lease = new LeaseKeeper(lease, persistence, opts.workflowId, {
      replicaId: () => this.replica.id,
      encodeDoc: () => this.replica.doc.encode(),
      closed: () => this.isClosed,
      retryDelay: () => this.backoff.delay(0) + 1000,
      emitError: (e) => this.events.emit('error', e),
    });
    this.connection = new Connection(
      {
        url: opts.url,
        token: opts.token,
        getToken: opts.getToken,
        WS,
        clientName: opts.clientName ?? DefaultClientName,
        clientVersion: opts.clientVersion ?? '',
        backoff: this.backoff,
        ackTimeoutMs: opts.ackTimeoutMs ?? DefaultAckTimeoutMs,
      },
      {
        replicaId: () => this.replica.id,
        closed: () => this.isClosed,
        setState: (s) => this.setState(s),
        notifyStatus: () => this.notifyStatus(),
        emitError: (e) => this.events.emit('error', e),
        handleFrame: (cn, f) => handleFrame(this, cn, f),
        disconnected: () => this.disconnected(),
        awaitingAnswer: (cn) => this.outbox.awaiting(cn.gen),
      },
    );
    this.writer = new Writer(this, this.connection, this.outbox, this.presence, this.replica);
    this.status = new StatusTracker(
      () => {
        const gen = this.connection.joinedConn()?.gen ?? -1;
        return { pending: this.outbox.length, unacked: this.outbox.unacked(gen), attempt: this.connection.attempt };
      },
      (s) => this.events.emit('status', s),
    );
  }

  closed(): boolean {
    return this.isClosed;
  }

  now(): number {
    return this.nowFn();
  }

  /** The largest delta the server accepts. */
  maxDelta(): number {
    const l = this.info.limits.maxDeltaBytes;
    return l && l > 0 ? l : DefaultMaxDeltaBytes;
  }

  setState(s: SyncState): void {
    if (this.isClosed && s !== 'closed') return;
    this.status.set(s);
  }

  notifyStatus(): void {
    this.status.notify();
  }

  /** disconnected empties the roster when a connection ends: offline, nobody is shown as present. */
  private disconnected(): void {
    this.presence.dropDrag();
    if (this.roster.clear()) this.events.emit('roster', []);
  }

  // ---- loading -----------------------------------------------------------

  /** restore rebuilds the document from storage: the snapshot, merged with every log and outbox delta. */
  restore(st: Restored): void {
    const r = this.replica;
    if (st.doc) {
      try {
        r.doc = decodeDoc(st.doc);
        r.observe(st.doc);
      } catch (e) {
        // A document that no longer decodes is rebuilt from the outbox and
        // the server's catch-up; the outbox alone carries the unsent edits.
        this.events.emit('error', new FlowsyncError('persistence', `flowsync: the saved document does not decode; rebuilding it: ${(e as Error).message}`, { cause: e }));
      }
    }
    for (const l of st.log) {
      try {
        r.doc.merge(decodeDoc(l));
        r.observe(l);
        this.store.restoredLog(l.length);
      } catch (e) {
        this.events.emit('error', new FlowsyncError('persistence', `flowsync: a saved change does not decode and is skipped: ${(e as Error).message}`, { cause: e }));
      }
    }
    for (const s of st.outbox) {
      try {
        const delta = decodeDoc(s.delta);
        r.doc.merge(delta);
        r.observe(s.delta);
        this.outbox.add(newEntry(s.id, delta, s.delta, [s.seq]));
      } catch (e) {
        this.events.emit('error', new FlowsyncError('persistence', `flowsync: a saved edit does not decode and is dropped: ${(e as Error).message}`, { cause: e }));
      }
    }
    this.store.nextSeq = st.nextSeq;
    r.loaded();
    this.status.settle();
    // A long log from the last session: fold it into a snapshot when idle.
    if (this.store.hasLog()) this.store.scheduleSnapshot();
  }

  // ---- editing -----------------------------------------------------------

  /** apply: see FlowsyncClient.apply. */
  apply(op: Op): Doc {
    if (this.isClosed) throw new FlowsyncError('closed', 'flowsync: the client is closed');
    if (this.deleted) throw new FlowsyncError('workflow-deleted', `flowsync: workflow ${this.workflowId} was deleted`);
    const r = this.replica;
    if (r.ownFloor > r.max()) {
      // A Joined showed the server holding dots of this replica that the
      // local document lacks (local storage lost writes) and the catch-up
      // has not brought them yet: minting now would reuse them. Switch to a
      // fresh id first when nothing of this one is pending; else refuse.
      this.lease.retireWanted = true;
      this.maybeRetire();
      if (r.ownFloor > r.max()) {
        throw new FlowsyncError('persistence', 'flowsync: the local document is behind the server for this replica (local storage lost writes); retry once the catch-up completes');
      }
    }
    const delta = r.prepare(op);
    const enc = delta.encode();
    const limit = this.maxDelta();
    if (enc.length > limit) {
      throw new FlowsyncError('delta-too-large', `flowsync: ${op.name()} makes a delta of ${enc.length} bytes; the limit is ${limit}`);
    }
    r.doc.merge(delta);
    const seq = this.store.nextSeq++;
    const id = this.outbox.newId();
    this.outbox.add(newEntry(id, delta, enc, [seq]));
    this.store.appendLocal(seq, id, enc);
    this.events.emit('change', delta, false);
    this.notifyStatus();
    this.writer.flush();
    return delta;
  }

  setPresence(p: Parameters<PresenceSender['set']>[0]): void {
    if (this.isClosed) throw new FlowsyncError('closed', 'flowsync: the client is closed');
    this.presence.set(p);
    this.writer.flush();
  }

  drag(positions: Parameters<PresenceSender['drag']>[0]): void {
    if (this.isClosed) throw new FlowsyncError('closed', 'flowsync: the client is closed');
    if (this.presence.drag(positions, this.connection.joinedConn() !== null)) this.writer.flush();
  }

  // ---- lifecycle ---------------------------------------------------------

  goOffline(): void {
    if (this.isClosed) return;
    this.connection.goOffline();
  }

  goOnline(): void {
    if (this.isClosed) return;
    this.connection.goOnline();
  }

  whenSaved(): Promise<void> {
    if (this.outbox.length === 0) return Promise.resolve();
    if (this.isClosed) return Promise.reject(new FlowsyncError('closed', 'flowsync: the client is closed'));
    return this.status.whenSaved();
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.connection.stop();
    this.writer.stop();
    this.connection.drop(1000, 'client closing');
    this.lease.stop();
    this.store.close();
    this.status.set('closed');
    this.status.rejectWaiters(new FlowsyncError('closed', 'flowsync: the client was closed before every edit was saved'));
    try {
      // A caller-provided persistence stays open for its owner (tests share one).
      if (this.ownsPersistence) await this.persistence.close();
    } finally {
      this.lease.release();
    }
  }

  // ---- storage failures and the replica id --------------------------------

  /**
   * storageFailed reports a failed storage write ('error', kind
   * 'persistence') and retires the replica id: storage may now lack a delta
   * the server has seen, and a reload restoring the older state would mint
   * its dots again.
   */
  private storageFailed(e: FlowsyncError): void {
    this.events.emit('error', e);
    // While a retirement is not stored yet, its own retry (storeRetirement)
    // stores a snapshot of the whole document under the new id: another
    // retirement would only churn ids.
    if (this.lease.stale) return;
    this.lease.retireWanted = true;
    this.maybeRetire();
  }

  /**
   * maybeRetire switches to a fresh replica id after a storage failure, once
   * no delta of the current id is pending (those can only be sent by a
   * session whose Hello.rid is that id). The document is kept; a snapshot of
   * it is stored under the new id before the lease points at it (see
   * LeaseKeeper.storeRetirement). Until then a reload is caught on Joined.
   */
  private maybeRetire(): void {
    if (!this.lease.retireWanted || this.isClosed || this.deleted || this.resetting) return;
    if (this.outbox.length > 0) return;
    this.lease.retireWanted = false;
    const old = this.replica.id;
    const fresh = newReplicaId();
    this.replica.retire(fresh);
    this.outbox.clearRecent();
    this.store.nextSeq = 1;
    this.store.forget();
    this.lease.storeRetirement(old, fresh, this.replica.doc.encode());
    // Later sessions announce the new id.
    if (this.connection.conn) this.connection.replace('new replica id');
    this.notifyStatus();
  }

  // ---- frames ------------------------------------------------------------

  /**
   * joined handles the answer to our Join, and also a Joined on a live
   * connection: a role change made on the server re-joins the session
   * (PROTOCOL.md §4.1) with a full catch-up. Either way a new connection
   * generation starts, so every unacknowledged delta is sent again.
   */
  joined(cn: Conn, f: Joined): void {
    if (cn.phase === 'hello') return;
    const serverCtx = decodeDoc(f.context).context();
    const r = this.replica;
    const verdict = checkRejoin({
      replica: r.id,
      serverMax: serverCtx.max(r.id),
      loadMax: r.loadMax,
      sentMax: r.sentMax,
      localMax: r.max(),
      mintedHere: () => this.outbox.mintedAfter(r.id, r.loadMax),
    });
    if (verdict.kind === 'conflict') {
      this.events.emit('error', new FlowsyncError('replica-conflict', `flowsync: ${verdict.message}`));
      this.reset(new RejectError(verdict.first.id, 0, verdict.message));
      return;
    }
    if (verdict.kind === 'behind') {
      // Until the catch-up has brought the missing dots, apply must not
      // mint; the id is retired as soon as nothing of it is pending: its
      // stored state proved unreliable.
      if (verdict.floor !== undefined) r.ownFloor = verdict.floor;
      this.lease.retireWanted = true;
    }
    // Durable deltas the rejoined node lacks (its peer died before
    // replicating them): back into the outbox.
    this.outbox.requeueLacking(serverCtx, r.id);
    this.connection.joined(cn, f.catchUpChunks);
    cn.bucket = new TokenBucket(this.info.limits.maxOpsPerSecond, this.info.limits.opsBurst, this.nowFn());
    this.info.role = f.role;
    this.roster.replace(f.roster);
    this.presence.rejoined();
    if (f.catchUpChunks === 0) this.setLive(cn);
    else this.setState('joining');
    this.events.emit('roster', this.roster.list());
    this.writer.flush();
  }

  setLive(cn: Conn): void {
    if (this.connection.conn !== cn) return;
    if (this.resetting) {
      // The reset's catch-up is complete: one change for the whole new document.
      this.resetting = false;
      this.replica.finishReset();
      this.store.writeSnapshot();
      this.events.emit('change', this.replica.doc, true);
    }
    this.setState('live');
    if (this.store.snapshotDue()) this.store.scheduleSnapshot();
    // A retirement waiting for the catch-up (checkRejoin) happens now that the document is complete.
    if (this.lease.retireWanted && this.outbox.length === 0) this.maybeRetire();
  }

  /** mergeRemote merges a delta from the server and moves the clock past its latest write. */
  mergeRemote(bytes: Uint8Array, notify: boolean): void {
    let delta: Doc;
    try {
      delta = decodeDoc(bytes);
    } catch (e) {
      // The server is broken; a reconnect resyncs by context.
      throw new FlowsyncError('protocol', `flowsync: a delta from the server does not decode: ${(e as Error).message}`, { cause: e });
    }
    if (this.deleted) return;
    this.replica.doc.merge(delta);
    this.replica.observe(bytes);
    this.store.appendRemote(bytes);
    if (notify) this.events.emit('change', delta, true);
  }

  durable(opIds: string[]): void {
    const seqs = this.outbox.durable(opIds);
    if (seqs === null) return;
    this.store.removeEntries(seqs);
    this.notifyStatus();
    this.maybeRetire();
  }

  nack(cn: Conn, f: Nack): void {
    const message = f.message ?? '';
    this.events.emit('nack', { opId: f.opId, code: f.code, codeName: codeName(f.code), message, retryable: f.retryable });
    const e = this.outbox.get(f.opId);
    if (f.code === Code.NOT_JOINED) {
      // The server no longer counts this connection in the room (a newer
      // connection from the same tab replaced it): resending would be
      // refused again. Reconnect, which rejoins and resends the outbox.
      this.connection.fail(cn, new ServerError(f.code, message, true, this.workflowId));
      return;
    }
    if (!e || e.gen !== cn.gen) return;
    if (f.retryable) {
      const delay = this.backoff.delay(e.retries);
      e.retries++;
      e.gen = 0;
      e.applied = false;
      e.retryAt = this.nowFn() + delay;
      this.notifyStatus();
      this.writer.flush();
      return;
    }
    this.reset(new RejectError(f.opId, f.code, message));
  }

  /** workflowDeleted drops the outbox (nothing of it can ever be stored) and the stored state; edits are refused. */
  workflowDeleted(): void {
    this.deleted = true;
    this.outbox.clear();
    this.store.forget();
    this.store.dropReplica(this.replica.id);
    this.notifyStatus();
  }

  /**
   * reset follows PROTOCOL.md §9 after a non-retryable Nack: the local
   * replica holds writes the server will never have, and later deltas may
   * build on them. Discard the workflow's local document, outbox and recent
   * deltas; choose a new replica id (so that no dot is ever reused with
   * different content) and store it before the old state is deleted (a
   * crash in between leaves garbage, never a reused id); rejoin at once with
   * an empty context. The catch-up rebuilds the document; a single 'change'
   * (remote) is emitted when it completes.
   *
   * Every unacknowledged edit is discarded with the refused one (they were
   * made on top of it). Apps that want to keep some should re-apply them as
   * operations after the 'change'.
   */
  private reset(rej: RejectError): void {
    const old = this.replica.id;
    const fresh = newReplicaId();
    this.replica.reset(fresh);
    this.outbox.clear();
    this.presence.dropDrag();
    this.store.nextSeq = 1;
    this.resetting = true;
    this.store.forget();
    this.store.track(this.lease.replace(old, fresh));
    this.connection.drop(1000, 'resetting');
    this.events.emit('reject', rej);
    if (this.connection.wantOnline && !this.isClosed) this.connection.connect();
    else this.notifyStatus();
  }
}
