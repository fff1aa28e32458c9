// The client's writes to local storage: each local delta (its outbox entry
// and its log entry, in one transaction), remote deltas batched into the
// log (with the receipts kept for some of them, in the same transaction),
// and now and then a snapshot of the whole document that folds the log. The cost of an edit is then the size of its delta, not of the
// document. Opening the storage is here too.

import { IndexedDBPersistence } from '../persist/indexeddb';
import { MemoryPersistence } from '../persist/memory';
import type { LockManagerLike, Persistence, ReceiptKey, StoredEntry, StoredReceipt } from '../persist/types';
import { FlowsyncError } from './errors';

/** Remote changes are written to the storage log at most this often (batched). */
export const DocSaveDelayMs = 250;
/** The snapshot is rewritten after this many log entries (or SnapshotLogBytes)... */
export const SnapshotEveryDeltas = 256;
export const SnapshotLogBytes = 4 << 20;
/** ...or once the document has been idle this long, and on close. */
export const SnapshotIdleMs = 5_000;

/** What the store asks of the client it writes for. */
export interface StoreHost {
  /** The replica id whose state is written. */
  replicaId(): string;
  /** The whole document, encoded, for a snapshot. */
  encodeDoc(): Uint8Array;
  /**
   * Whether the document may be snapshotted: not after the workflow was
   * deleted, and not while a reset's catch-up rebuilds it (a snapshot then
   * would store a half-built document under the new id).
   */
  maySnapshot(): boolean;
  closed(): boolean;
  /** While a catch-up streams in, a snapshot would re-encode a document that is still growing. */
  joining(): boolean;
  /** A write failed (see FlowsyncClient's handling: the replica id is retired). */
  failed(e: FlowsyncError): void;
}

export class LocalStore {
  /** The storage seq of the next local delta (the outbox's order in storage). */
  nextSeq = 1;
  private saveTimer?: ReturnType<typeof setTimeout>;
  /** Remote deltas merged but not yet written to the storage log (written every DocSaveDelayMs). */
  private pendingLog: Uint8Array[] = [];
  /** Receipts kept for deltas of pendingLog (or received since), written with the next batch. */
  private pendingReceipts: StoredReceipt[] = [];
  /** Log entries (and their bytes) written since the last snapshot. */
  private logCount = 0;
  private logBytes = 0;
  private snapshotTimer?: ReturnType<typeof setTimeout>;

  constructor(
    readonly persistence: Persistence,
    private readonly workflowId: string,
    private readonly host: StoreHost,
  ) {}

  /** track reports a failed write to the host. */
  track(p: Promise<void>): void {
    p.catch((e) => {
      this.host.failed(e instanceof FlowsyncError ? e : new FlowsyncError('persistence', `flowsync: ${(e as Error).message}`, { cause: e }));
    });
  }

  /** restoredLog counts log entries loaded from storage, so that they are folded into a snapshot soon. */
  restoredLog(bytes: number): void {
    this.logCount++;
    this.logBytes += bytes;
  }

  /** hasLog reports whether a log waits to be folded into a snapshot. */
  hasLog(): boolean {
    return this.logCount > 0;
  }

  /** appendLocal stores a local edit, in one write: its outbox entries and their log entries. */
  appendLocal(entries: StoredEntry[]): void {
    this.track(this.persistence.appendLocal(this.workflowId, this.host.replicaId(), entries));
    this.logged(entries.length, entries.reduce((n, e) => n + e.delta.length, 0));
  }

  /** appendRemote queues a remote delta (and the receipt kept for it, if any) for the next batched log write. */
  appendRemote(bytes: Uint8Array, receipt?: StoredReceipt): void {
    this.pendingLog.push(bytes.slice());
    if (receipt) this.pendingReceipts.push(receipt);
    this.armSave();
  }

  private armSave(): void {
    if (this.saveTimer !== undefined || this.host.closed()) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.writePendingLog();
    }, DocSaveDelayMs);
  }

  /** removeReceipts deletes kept receipts (those not written yet are just not written). */
  removeReceipts(keys: ReceiptKey[]): void {
    if (keys.length === 0) return;
    const gone = new Set(keys.map((k) => JSON.stringify(k)));
    const before = this.pendingReceipts.length;
    this.pendingReceipts = this.pendingReceipts.filter((r) => !gone.has(JSON.stringify([r.epoch, r.seq, r.sub])));
    if (this.pendingReceipts.length === before - keys.length) return;
    this.track(this.persistence.removeReceipts(this.workflowId, this.host.replicaId(), keys));
  }

  /** markRejected records outbox entries the server refused for good. */
  markRejected(seqs: number[], r: { code: number; message: string }): void {
    if (seqs.length > 0) this.track(this.persistence.markRejected(this.workflowId, this.host.replicaId(), seqs, r));
  }

  /** removeEntries deletes outbox entries that became durable. */
  removeEntries(seqs: number[]): void {
    this.track(this.persistence.removeEntries(this.workflowId, this.host.replicaId(), seqs));
  }

  /** dropReplica deletes every stored state of replica. */
  dropReplica(replica: string): void {
    this.track(this.persistence.dropReplica(this.workflowId, replica));
  }

  private writePendingLog(): void {
    if (this.pendingLog.length === 0 && this.pendingReceipts.length === 0) return;
    const batch = this.pendingLog;
    const receipts = this.pendingReceipts;
    this.pendingLog = [];
    this.pendingReceipts = [];
    let bytes = 0;
    for (const b of batch) bytes += b.length;
    this.track(this.persistence.appendLog(this.workflowId, this.host.replicaId(), batch, receipts));
    if (batch.length > 0) this.logged(batch.length, bytes);
  }

  /** logged counts log writes and schedules the snapshot that folds them. */
  private logged(n: number, bytes: number): void {
    this.logCount += n;
    this.logBytes += bytes;
    this.scheduleSnapshot();
  }

  /** snapshotDue reports whether the log is long enough to fold at once. */
  snapshotDue(): boolean {
    return this.logCount >= SnapshotEveryDeltas || this.logBytes >= SnapshotLogBytes;
  }

  /**
   * scheduleSnapshot rewrites the whole document (and drops the log) once
   * SnapshotEveryDeltas entries or SnapshotLogBytes have accumulated (soon,
   * outside the edit's call), else after SnapshotIdleMs without writes.
   */
  scheduleSnapshot(): void {
    if (this.host.closed() || !this.host.maySnapshot()) return;
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
    // A catch-up's end writes one (FlowsyncClient's setLive).
    const due = this.snapshotDue() && !this.host.joining();
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = undefined;
      this.writeSnapshot();
    }, due ? 0 : SnapshotIdleMs);
  }

  /** writeSnapshot stores the whole document; the log it covers is deleted in the same transaction. */
  writeSnapshot(): void {
    if (this.snapshotTimer !== undefined) {
      clearTimeout(this.snapshotTimer);
      this.snapshotTimer = undefined;
    }
    if (!this.host.maySnapshot()) return;
    // The snapshot covers the batch not yet logged too: drop it, but not the
    // receipts kept with it (written just before the snapshot).
    this.pendingLog = [];
    if (this.pendingReceipts.length > 0) {
      this.track(this.persistence.appendLog(this.workflowId, this.host.replicaId(), [], this.pendingReceipts));
      this.pendingReceipts = [];
    }
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    this.logCount = 0;
    this.logBytes = 0;
    this.track(this.persistence.saveSnapshot(this.workflowId, this.host.replicaId(), this.host.encodeDoc()));
  }

  /**
   * forget drops what waits to be written and the log counts: the state
   * they belong to is gone (a new replica id, a deleted workflow).
   */
  forget(): void {
    this.pendingLog = [];
    this.pendingReceipts = [];
    this.stopTimers();
    this.logCount = 0;
    this.logBytes = 0;
  }

  /** close folds the log into a snapshot (which also covers the unwritten remote batch) and stops the timers. */
  close(): void {
    if (this.host.maySnapshot() && (this.logCount > 0 || this.pendingLog.length > 0 || this.pendingReceipts.length > 0)) this.writeSnapshot();
    this.stopTimers();
  }

  private stopTimers(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
    this.saveTimer = undefined;
    this.snapshotTimer = undefined;
  }
}

/**
 * openStorage opens the persistence the options ask for; owned is false
 * for an instance the caller passed (it stays open for its owner).
 */
export async function openStorage(opts: {
  persistence?: 'indexeddb' | 'memory' | Persistence;
  dbName?: string;
  locks?: LockManagerLike | null;
}): Promise<{ persistence: Persistence; owned: boolean }> {
  const kind = opts.persistence ?? ((globalThis as { indexedDB?: unknown }).indexedDB ? 'indexeddb' : 'memory');
  try {
    if (typeof kind === 'object') return { persistence: kind, owned: false };
    if (kind === 'indexeddb') return { persistence: await IndexedDBPersistence.open({ dbName: opts.dbName, locks: opts.locks }), owned: true };
    if (kind === 'memory') return { persistence: new MemoryPersistence(), owned: true };
  } catch (e) {
    throw new FlowsyncError('persistence', `flowsync: cannot open local storage: ${(e as Error).message}`, { cause: e });
  }
  throw new FlowsyncError('config', `flowsync: persistence must be 'indexeddb' or 'memory', not ${JSON.stringify(kind)}`);
}
