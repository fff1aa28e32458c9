// The engine behind FlowsyncClient: it owns the parts (the local replica,
// the outbox, the kept receipts, local storage, the lease, the connection,
// the writer, presence, the roster, the status) and carries out what
// involves several of them — an edit, a Joined, a delta from the server, a
// Durable, a Nack, a replica reset, a deleted workflow, a reset, the
// retirement of a replica id, closing.
//
// The rules it follows, and why:
//   - After every (re)connect: Join with the local causal context, merge the
//     catch-up, hand back the kept deltas a new room may have lost (Vouch),
//     then resend the outbox. Merging is idempotent, so a delta the server
//     already has costs bytes, never correctness.
//   - Nack NOT_JOINED: the server no longer counts this connection in the
//     room; reconnect and rejoin. Other retryable Nacks: resend the same op
//     after backoff. A final Nack of a folded frame: resend its edits one per
//     frame; of one edit: that edit is refused (kept, counted in the status,
//     reported by 'reject') and the others go on.
//   - REPLICA_BEHIND (or a Joined holding dots of our id we never saw): take
//     a new replica id, re-mint the unsent edits under it, store, rejoin.
//   - WORKFLOW_DELETED however it arrives: the deleted state.
//   - A failed storage write retires the replica id (see lease.ts).

import { CloseCode, Code, codeName, type Joined, type Nack } from '../protocol';
import { Context, type Range } from '../crdt/context';
import { DeltaCaps, safeBytes, withinCaps } from '../workflow/codec';
import type { Persistence, ReplicaLease, ReplicaState, StoredEntry, StoredReceipt } from '../persist/types';
import { newReplicaId } from '../persist/types';
import type { Op } from '../workflow/builder';
import { Backoff } from './backoff';
import { TokenBucket } from './bucket';
import { Connection, type Conn } from './connection';
import { FlowsyncError, RejectError, ServerError } from './errors';
import { Emitter } from './events';
import { handleFrame, type FrameHost, type SessionInfo } from './handlers';
import { History } from './history';
import { isBehind, LeaseKeeper } from './lease';
import { LocalReplica } from './local';
import { DefaultAckTimeoutMs, DefaultClientName, type FlowsyncClientOptions, type WebSocketConstructor } from './options';
import { leaves, newEntry, Outbox, resend, type Entry } from './outbox';
import { PresenceSender } from './presence';
import { receiptKey, Receipts, type KeptReceipt, type ReceiptStats } from './receipts';
import { decodeDoc, mintedBy, remintDoc, remintRanges, writesSince, type Doc } from './replica';
import { Roster } from './roster';
import { RenameTracker } from './renames';
import { refusedError, StatusTracker, type SyncState } from './status';
import { LocalStore } from './store';
import { Writer } from './writer';

/** Bound of one delta when Welcome does not announce lim.delta. */
export const DefaultMaxDeltaBytes = 1 << 20;

/** What open found in storage. */
export interface Restored {
  doc: Uint8Array | null;
  log: Uint8Array[];
  outbox: StoredEntry[];
  nextSeq: number;
  receipts: StoredReceipt[];
}

export class Engine implements FrameHost {
  readonly workflowId: string;
  readonly events = new Emitter();
  /** Which renames of our blocks the 'rename' event has reported. */
  private readonly renames = new RenameTracker();
  readonly info: SessionInfo = { sessionId: '', user: null, role: null, limits: {} };
  readonly replica: LocalReplica;
  readonly outbox = new Outbox();
  readonly receipts = new Receipts();
  readonly roster = new Roster();
  readonly presence: PresenceSender;
  readonly store: LocalStore;
  readonly lease: LeaseKeeper;
  readonly connection: Connection;
  readonly writer: Writer;
  readonly status: StatusTracker;
  /** Undo and redo of this page's own edits. */
  readonly history: History;

  private isClosed = false;
  /** Set once the workflow is known deleted: nothing can be stored any more. */
  private deleted = false;
  /** Replica resets since the last join that was not behind: a second one in a row waits out the backoff. */
  private behindInRow = 0;
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
    this.history = new History(opts.undo, (h) => this.events.emit('history', h));
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
      replicaState: () => this.replicaState(),
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
        terminalClose: (code, reason) => {
          if (code === CloseCode.WORKFLOW_DELETED) this.enterDeleted(reason || 'the connection was closed with 4503');
        },
        awaitingAnswer: (cn) => this.outbox.awaiting(cn.gen) || this.receipts.awaiting(cn.gen),
      },
    );
    this.writer = new Writer(this, this.connection, this.outbox, this.receipts, this.presence, this.replica);
    this.status = new StatusTracker(
      () => {
        const gen = this.connection.joinedConn()?.gen ?? -1;
        return { pending: this.outbox.length, unacked: this.outbox.unacked(gen), rejected: this.outbox.refused.length, attempt: this.connection.attempt };
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
    // Deleted is for good: only close() leaves it.
    if (this.deleted && !this.isClosed) s = 'deleted';
    this.status.set(s);
  }

  /** receiptStats: see FlowsyncClient.receipts. */
  receiptStats(): ReceiptStats {
    return this.receipts.stats();
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
        const e = newEntry(s.id, delta, s.delta, [s.seq], s.mine ?? mintedBy(delta, r.id));
        if (s.rejected) this.outbox.refused.push({ entry: e, code: s.rejected.code, message: s.rejected.message });
        else this.outbox.add(e);
      } catch (e) {
        this.events.emit('error', new FlowsyncError('persistence', `flowsync: a saved edit does not decode and is dropped: ${(e as Error).message}`, { cause: e }));
      }
    }
    // Receipts past the bound (a smaller bound than the one they were kept under) are dropped from storage too.
    this.store.removeReceipts(this.receipts.restore(st.receipts).map(receiptKey));
    this.store.nextSeq = st.nextSeq;
    r.loaded();
    this.renames.seed(r.doc, r.id);
    this.status.settle();
    // A long log from the last session: fold it into a snapshot when idle.
    if (this.store.hasLog()) this.store.scheduleSnapshot();
  }

  // ---- editing -----------------------------------------------------------

  /** apply: see FlowsyncClient.apply. */
  apply(op: Op): Doc {
    this.checkEditable();
    const r = this.replica;
    const ts = r.stamp();
    const delta = r.doc.prepare(ts, op);
    this.commitLocal(delta, op.name(), () => this.history.record(r.doc, delta, ts));
    return delta;
  }

  /**
   * undo (redo) writes the inverse of this page's newest undoable (undone)
   * entry as an ordinary edit, sent and stored like apply's; undefined when
   * there is nothing to undo (redo). Edits of other replicas are never
   * undone, and a value another replica wrote since stays theirs
   * (docs/ARCHITECTURE.md, "Undo and redo").
   */
  undoRedo(redo: boolean): Doc | undefined {
    this.checkEditable();
    const r = this.replica;
    const s = this.history.prepare(r.doc, r.stamp(), redo);
    if (s === undefined) return undefined;
    this.commitLocal(s.delta, redo ? 'redo' : 'undo', () => {});
    this.history.committed(s);
    return s.delta;
  }

  private checkEditable(): void {
    if (this.isClosed) throw new FlowsyncError('closed', 'flowsync: the client is closed');
    if (this.deleted) throw new FlowsyncError('workflow-deleted', `flowsync: workflow ${this.workflowId} was deleted`);
  }

  /**
   * commitLocal merges a local edit's delta (prepared, not merged), queues
   * it in the outbox and storage, and emits 'change'. beforeMerge runs once
   * the delta is known to fit, before the merge (the undo capture).
   */
  private commitLocal(delta: Doc, what: string, beforeMerge: () => void): void {
    const r = this.replica;
    const before = r.max();
    const enc = delta.encode();
    const limit = this.maxDelta();
    if (enc.length > limit) {
      throw new FlowsyncError('delta-too-large', `flowsync: ${what} makes a delta of ${enc.length} bytes; the limit is ${limit}`);
    }
    beforeMerge();
    r.doc.merge(delta);
    // Minted by this edit: the replica's counters past before (the
    // context also names older dots the edit overwrote or removed).
    const minted = (d: Doc): Range[] =>
      d
        .context()
        .ranges(r.id)
        .filter((rg) => rg.hi > before)
        .map((rg) => ({ lo: Math.max(rg.lo, before + 1), hi: rg.hi }));
    // An edit past the work caps a server holds every delta to (DeltaCaps)
    // goes as its chunks, each a delta the server admits; they commute.
    const parts =
      enc.length <= safeBytes(DeltaCaps) || withinCaps(delta.counts(), DeltaCaps)
        ? [{ d: delta, enc }]
        : delta.encodeChunks(limit).map((c) => ({ d: decodeDoc(c), enc: c }));
    const stored = parts.map((p) => {
      const seq = this.store.nextSeq++;
      const id = this.outbox.newId();
      const mine = minted(p.d);
      this.outbox.add(newEntry(id, p.d, p.enc, [seq], mine));
      return { seq, id, delta: p.enc, mine };
    });
    this.store.appendLocal(stored);
    this.events.emit('change', delta, false);
    this.notifyStatus();
    this.writer.flush();
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
    if (this.isClosed || this.deleted) return;
    this.connection.goOnline();
  }

  whenSaved(): Promise<void> {
    if (this.outbox.length === 0 && this.outbox.refused.length > 0) return Promise.reject(refusedError(this.outbox.refused.length));
    if (this.outbox.length === 0) return Promise.resolve();
    if (this.isClosed) return Promise.reject(new FlowsyncError('closed', 'flowsync: the client is closed'));
    return this.status.whenSaved();
  }

  /**
   * renumber gives the outbox and the refused edits storage seqs from 1, in
   * their order, for the state a new replica id starts with (see
   * replicaState): each then stands for one stored entry, and the next edit
   * takes the seq after them.
   */
  private renumber(): void {
    let seq = 1;
    for (const e of this.outbox.pending()) for (const l of leaves(e)) l.seqs = [seq++];
    for (const x of this.outbox.refused) x.entry.seqs = [seq++];
    for (const e of this.outbox.pending()) if (e.parts) e.seqs = leaves(e).flatMap((l) => l.seqs);
    this.store.nextSeq = seq;
  }

  /**
   * replicaState is the whole local state as storage keeps it: the
   * document, the outbox and the refused edits one stored entry per edit,
   * the counter and the kept receipts (what a switch to a new id stores).
   */
  replicaState(): ReplicaState {
    const stored = (e: Entry, rejected?: { code: number; message: string }): StoredEntry[] =>
      leaves(e)
        .filter((l) => l.seqs.length > 0)
        .map((l) => ({ seq: l.seqs[0], id: l.id, delta: l.enc, mine: l.mine, ...(rejected ? { rejected } : {}) }));
    const outbox = [
      ...this.outbox.pending().flatMap((e) => stored(e)),
      ...this.outbox.refused.flatMap((x) => stored(x.entry, { code: x.code, message: x.message })),
    ].sort((a, b) => a.seq - b.seq);
    return { doc: this.replica.doc.encode(), outbox, nextSeq: this.store.nextSeq, receipts: this.receipts.all() };
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
    // While a switch to a new id is not stored yet, its own retry
    // (LeaseKeeper.switchTo) stores the whole state under the new id:
    // another retirement would only churn ids.
    if (this.lease.stale) return;
    this.lease.retireWanted = true;
    this.maybeRetire();
  }

  /**
   * maybeRetire switches to a fresh replica id after a storage failure, once
   * no delta of the current id is pending (those can only be sent by a
   * session whose Hello.rid is that id). The document is kept; the whole
   * state is stored under the new id before the lease points at it (see
   * LeaseKeeper.switchTo). Until then a reload is caught at the join (see
   * replicaBehind).
   */
  private maybeRetire(): void {
    if (!this.lease.retireWanted || this.isClosed || this.deleted || this.resetting) return;
    if (this.outbox.length > 0) return;
    this.lease.retireWanted = false;
    const old = this.replica.id;
    const fresh = newReplicaId();
    this.replica.retire(fresh);
    this.outbox.clearRecent();
    this.renumber();
    this.store.forget();
    void this.lease.switchTo(old, fresh);
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
    if (isBehind(serverCtx.max(r.id), r.loadMax, r.sentMax)) {
      this.replicaBehind(
        serverCtx,
        `the server holds dots of replica ${r.id} up to ${serverCtx.max(r.id)}, beyond the ${Math.max(r.loadMax, r.sentMax)} this client loaded or sent`,
      );
      return;
    }
    this.behindInRow = 0;
    // Durable deltas the rejoined node lacks (its peer died before
    // replicating them): back into the outbox.
    this.outbox.requeueLacking(serverCtx, r.id);
    this.ownCatchUp(serverCtx);
    // Kept deltas: durable in this epoch, held by this room, or to hand back.
    const gone = this.receipts.joined(f.epoch, f.stable, (d) => {
      try {
        return serverCtx.covers(decodeDoc(d).context());
      } catch {
        return true; // a delta that does not decode cannot be handed back
      }
    });
    this.store.removeReceipts([...gone, ...this.receipts.refuseLarger(this.maxDelta())].map(receiptKey));
    this.connection.joined(cn, f.catchUpChunks);
    cn.epoch = f.epoch;
    // A catch-up that is not durable yet is kept too, under the join's sequence.
    cn.catchUpSeq = f.epoch !== undefined && f.seq !== undefined && (f.stable ?? 0) < f.seq ? f.seq : undefined;
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
      this.reportRenames();
    }
    this.setState('live');
    if (this.store.snapshotDue()) this.store.scheduleSnapshot();
    // A retirement waiting for the catch-up happens now that the document is complete.
    if (this.lease.retireWanted && this.outbox.length === 0) this.maybeRetire();
  }

  /**
   * ownCatchUp queues, as outbox entries, the writes of our replica that
   * neither the server (its Joined context) nor the outbox holds, nor a
   * refused edit covers: the catch-up in the other direction (PROTOCOL.md
   * §3). They are durable writes a dead server node took with it after the
   * recent ones were forgotten (a reload forgets them all), and the writes a
   * replica reset re-minted under the new id. They are not stored: the
   * document holds them, and the next join computes them again.
   */
  private ownCatchUp(server: Context): void {
    const r = this.replica;
    const skip = new Context();
    for (const e of this.outbox.pending()) skip.merge(e.delta.context());
    for (const x of this.outbox.refused) skip.merge(x.entry.delta.context());
    const w = writesSince(r.doc, r.id, server, skip);
    if (w.isEmpty()) return;
    for (const chunk of w.encodeChunks(Math.floor((this.maxDelta() * 3) / 4))) {
      const d = decodeDoc(chunk);
      const mine = new Context();
      for (const rg of d.context().ranges(r.id)) mine.addRange(r.id, rg);
      this.outbox.add(newEntry(this.outbox.newId(), d, chunk, [], [...mine.missing(server).ranges(r.id)]));
    }
  }

  /**
   * mergeRemote merges a delta from the server and moves the clock past its
   * latest write; a delta that came with a receipt is kept until durable.
   */
  mergeRemote(bytes: Uint8Array, notify: boolean, receipt?: StoredReceipt): void {
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
    if (receipt) this.store.removeReceipts(this.receipts.keep(receipt).map(receiptKey));
    this.store.appendRemote(bytes, receipt);
    if (notify) {
      this.events.emit('change', delta, true);
      this.reportRenames(delta);
    }
  }

  /**
   * reportRenames emits 'rename' for each block of ours that a merge left
   * showing under another name, once per rename. delta, if given, is what
   * was just merged (see RenameTracker.check). Without a listener nothing
   * is computed.
   */
  private reportRenames(delta?: Doc): void {
    if (!this.events.listening('rename')) return;
    const r = this.replica;
    for (const ev of this.renames.check(r.doc, r.id, delta)) this.events.emit('rename', ev);
  }

  /** stable drops the kept deltas the room's durable mark now covers. */
  stable(epoch: string, seq: number): void {
    this.store.removeReceipts(this.receipts.stable(epoch, seq).map(receiptKey));
  }

  durable(opIds: string[]): void {
    const vouched = this.receipts.durable(opIds);
    this.store.removeReceipts(vouched.map(receiptKey));
    const seqs = this.outbox.durable(opIds);
    if (seqs === null) return;
    this.store.removeEntries(seqs);
    this.notifyStatus();
    this.maybeRetire();
  }

  nack(cn: Conn, f: Nack): void {
    const message = f.message ?? '';
    this.events.emit('nack', { opId: f.opId, code: f.code, codeName: codeName(f.code), message, retryable: f.retryable });
    if (f.code === Code.WORKFLOW_DELETED) {
      this.enterDeleted(message || 'an edit was refused with WORKFLOW_DELETED');
      return;
    }
    if (f.code === Code.NOT_JOINED) {
      // The server no longer counts this connection in the room (a newer
      // connection from the same tab replaced it): resending would be
      // refused again. Reconnect, which rejoins and resends the outbox.
      this.connection.fail(cn, new ServerError(f.code, message, true, this.workflowId));
      return;
    }
    const k = this.receipts.byOp(f.opId);
    if (k) {
      this.vouchNacked(cn, k, f);
      return;
    }
    const e = this.outbox.get(f.opId);
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
    // A folded frame answers for all its edits: refuse none yet, let the
    // server answer each.
    if (this.outbox.unfold(e)) {
      this.writer.flush();
      return;
    }
    this.outbox.reject(e, f.code, message);
    this.store.markRejected(e.seqs, { code: f.code, message });
    this.events.emit('reject', new RejectError(e.id, f.code, message, e.delta));
    this.notifyStatus();
    this.maybeRetire();
  }

  /** vouchNacked answers a refused Vouch: retry it later, or drop it (BAD_RECEIPT and other final refusals). */
  private vouchNacked(cn: Conn, k: KeptReceipt, f: Nack): void {
    if (k.gen !== cn.gen) return;
    if (f.retryable) {
      const delay = this.backoff.delay(k.retries);
      k.retries++;
      k.gen = 0;
      k.applied = false;
      k.retryAt = this.nowFn() + delay;
      this.writer.flush();
      return;
    }
    this.receipts.refuse(k);
    this.store.removeReceipts([receiptKey(k)]);
  }

  /**
   * enterDeleted enters the deleted state, once: the workflow was deleted on
   * the server (an Event, a Join refused with WORKFLOW_DELETED after an
   * offline spell, a Nack or Error with that code, close 4503). Nothing of
   * the outbox can ever be stored: it is dropped, with the refused edits,
   * the kept receipts and the stored state; edits are refused from now on;
   * the client does not reconnect. Unless the server's Event said so, an
   * 'event' workflow-deleted is emitted, so that apps have one place to react.
   */
  enterDeleted(message: string, fromEvent = false): void {
    if (this.deleted || this.isClosed) return;
    this.deleted = true;
    this.history.clear();
    this.outbox.clear();
    this.receipts.clear();
    this.store.forget();
    this.store.dropReplica(this.replica.id);
    this.connection.stop();
    this.connection.drop(1000, 'workflow deleted');
    this.setState('deleted');
    if (!fromEvent) this.events.emit('event', { kind: 'workflow-deleted', msg: message, ts: this.nowFn() });
  }

  /**
   * replicaBehind handles a server that holds dots of our replica id that
   * this page never saw (local storage lost writes, and a reload reused the
   * id): Error REPLICA_BEHIND at join (server null), or a Joined whose
   * context is beyond what the page loaded or sent. Dots minted since may be
   * the very ones the server holds with other content, which it would drop
   * as duplicates. So: a fresh id; the outbox's edits re-minted under it
   * (workflow's remint: same values, timestamps and covered dots), and, when
   * the server's context is known, the replica's other writes it lacks; the
   * whole state stored under the new id before the next Hello names it; then
   * join again. The catch-up brings the server's version of the old id's dots.
   */
  replicaBehind(server: Context | null, why: string): void {
    if (this.isClosed || this.deleted) return;
    const r = this.replica;
    const old = r.id;
    const fresh = newReplicaId();
    if (server) this.outbox.requeueLacking(server, old);
    this.outbox.unfoldAll();
    const which = new Context();
    for (const e of this.outbox.pending()) for (const rg of e.mine) which.addRange(old, rg);
    if (server) {
      const own = new Context();
      for (const rg of r.doc.context().ranges(old)) own.addRange(old, rg);
      let lacking = own.missing(server);
      for (const x of this.outbox.refused) lacking = lacking.missing(x.entry.delta.context());
      which.merge(lacking);
    }
    r.remint(fresh, which);
    this.history.clear(); // its entries name the old id's dots
    for (const e of this.outbox.pending()) {
      e.delta = remintDoc(e.delta, old, fresh, which);
      e.enc = e.delta.encode();
      e.mine = remintRanges(e.mine, which, old);
      e.solo = false;
      resend(e);
    }
    this.renumber();
    this.outbox.clearRecent(); // durable writes of the old id: no session of the new one may send them
    this.lease.retireWanted = false;
    this.store.forget();
    this.presence.dropDrag();
    this.connection.drop(1000, 'new replica id');
    this.setState('offline');
    this.behindInRow++;
    const again = this.behindInRow > 1;
    this.events.emit(
      'error',
      new FlowsyncError(
        'replica-conflict',
        `flowsync: ${why} (local storage lost writes); switched to replica ${fresh} and re-minted ${which.len()} dot(s) of ${this.outbox.length} unsent edit(s) under it`,
      ),
    );
    this.events.emit('change', r.doc, true);
    void this.lease.switchTo(old, fresh).then(() => {
      if (this.isClosed || this.deleted || this.replica.id !== fresh) return;
      // A fresh id cannot be behind: a server that says so again is broken,
      // and reconnecting at once would spin.
      if (again) this.connection.retryLater();
      else this.connection.connect();
    });
  }

  /**
   * reset discards the local state of the workflow (document, outbox,
   * refused edits), switches to a new replica id and rejoins with an empty
   * context; the catch-up rebuilds the document from the server, and one
   * 'change' (remote) is emitted when it completes. It is how an app
   * converges with the server after an edit was refused for good (PROTOCOL.md
   * §9): the local document still holds the refused writes, and later edits
   * may build on them. Every unacknowledged edit is discarded with them;
   * re-apply the ones the user still wants after the 'change'. The new id is
   * stored before the old one's state is deleted (a crash in between leaves
   * garbage, never a reused id).
   */
  reset(): void {
    if (this.isClosed) throw new FlowsyncError('closed', 'flowsync: the client is closed');
    if (this.deleted) throw new FlowsyncError('workflow-deleted', `flowsync: workflow ${this.workflowId} was deleted`);
    const old = this.replica.id;
    const fresh = newReplicaId();
    this.replica.reset(fresh);
    this.history.clear();
    this.outbox.clear();
    this.presence.dropDrag();
    this.store.nextSeq = 1;
    this.resetting = true;
    this.store.forget();
    this.store.track(this.lease.replace(old, fresh));
    this.connection.drop(1000, 'resetting');
    if (this.connection.wantOnline && !this.isClosed) this.connection.connect();
    else this.notifyStatus();
  }
}
