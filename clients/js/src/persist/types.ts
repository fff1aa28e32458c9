// The persistence interface the client writes through. Two implementations
// share it: IndexedDB (browsers) and memory (tests, Node, private windows
// where IndexedDB is unavailable).
//
// What is stored, per (workflow, replica): a snapshot of the local document
// (its full encoding, rewritten only now and then), a log of the deltas
// merged since that snapshot (local edits and batches of remote changes),
// the outbox of local deltas the server has not made durable (in write
// order), the next outbox sequence number, and the deltas received from the
// server with receipts that the server has not yet made durable (handed back
// after a server crash; see the client's receipts.ts). The document is the snapshot
// merged with every log entry and every outbox entry: writing a delta costs
// its own size, not the document's (a 100k-entry document takes 50-120 ms to
// encode). Keying by replica as well as workflow
// matters: two tabs of one browser run different replicas, and an outbox
// entry can only ever be sent by a session whose Hello.rid owns its dots
// (anything else is FORGED_DOT). A reloaded tab claims its old replica back
// (claimReplica) and with it that replica's document and outbox.

/** One outbox entry: a local delta in the workflow encoding. */
export interface StoredEntry {
  /** Outbox order; unique per (workflow, replica), increasing. */
  seq: number;
  /** The op id it was created with (an entry keeps it across reloads). */
  id: string;
  /** The encoded delta (workflow encoding, §7). */
  delta: Uint8Array;
  /**
   * The counters of the replica this edit minted, as ranges (the delta's
   * context also covers older dots it overwrote). A replica reset re-mints
   * exactly these under a new id. Absent in entries written before schema 3.
   */
  mine?: Array<{ lo: number; hi: number }>;
  /** Set once the server refused the edit for good: it is kept (and counted) but never sent again. */
  rejected?: { code: number; message: string };
}

/**
 * A delta received from the server with its receipt (RemoteDelta, or a
 * CatchUp chunk of a join whose catch-up was not yet durable), kept until the
 * server says it is durable, so that it can be handed back (Vouch) to a room
 * that lost it. (epoch, seq, sub) names it: sub is 0 for a RemoteDelta and the
 * chunk number + 1 for a CatchUp chunk.
 */
export interface StoredReceipt {
  epoch: string;
  seq: number;
  sub: number;
  /** The delta's bytes, exactly as received. */
  delta: Uint8Array;
  keyId: string;
  mac: Uint8Array;
}

/** The key of a stored receipt: [epoch, seq, sub]. */
export type ReceiptKey = [string, number, number];

/** The whole stored state of one (workflow, replica), as saveReplica writes it. */
export interface ReplicaState {
  doc: Uint8Array;
  outbox: StoredEntry[];
  nextSeq: number;
  receipts: StoredReceipt[];
}

/** What load returns for one (workflow, replica). */
export interface LoadedState {
  /** The last snapshot of the local document, or null if none was saved. */
  doc: Uint8Array | null;
  /** Deltas merged into the document since the snapshot (merge them, in any order). */
  log: Uint8Array[];
  /** Outbox entries in seq order. */
  outbox: StoredEntry[];
  /** The next seq to use (greater than every seq ever used). */
  nextSeq: number;
  /** Deltas kept with their receipts until durable. */
  receipts: StoredReceipt[];
}

/**
 * A replica id held by this client. While held, no other client of the same
 * storage (another tab) gets it: two live clients sharing a replica id would
 * spend the same dots on different writes, and one of them would be lost.
 */
export interface ReplicaLease {
  readonly replicaId: string;
  /**
   * replace swaps the held id for a new one (after a non-retryable Nack, the
   * old id must never write again: PROTOCOL.md §9). The lease stays held.
   */
  replace(newId: string): Promise<void>;
  /** release lets another client claim the id. Idempotent. */
  release(): void;
}

export interface Persistence {
  readonly kind: 'indexeddb' | 'memory';
  /**
   * claimReplica returns a replica id for the workflow that no other live
   * client of this storage holds, preferring one that has saved state.
   */
  claimReplica(workflowId: string): Promise<ReplicaLease>;
  load(workflowId: string, replicaId: string): Promise<LoadedState>;
  /**
   * appendLocal stores a local edit: its outbox entries (one, or the chunks
   * of an edit past the per-delta work caps) and a log entry with the same
   * delta for each, atomically (one transaction), so that the document and
   * the outbox can never disagree after a crash and an edit is never stored
   * in part. It costs the deltas' size.
   */
  appendLocal(workflowId: string, replicaId: string, entries: readonly StoredEntry[]): Promise<void>;
  /**
   * appendLog stores deltas merged from the server (a batch, one
   * transaction), and with them the receipts kept for some of them, so that
   * a delta kept for handing back is stored exactly when it is logged.
   */
  appendLog(workflowId: string, replicaId: string, deltas: Uint8Array[], receipts?: StoredReceipt[]): Promise<void>;
  /** removeReceipts drops kept receipts (durable now, handed back, or past the bound). */
  removeReceipts(workflowId: string, replicaId: string, keys: ReceiptKey[]): Promise<void>;
  /**
   * saveSnapshot stores the whole document and deletes every log entry
   * written before this call, in one transaction: the document passed must
   * already include every delta logged so far (writes are applied in call
   * order). Outbox entries are kept until removeEntries.
   */
  saveSnapshot(workflowId: string, replicaId: string, doc: Uint8Array): Promise<void>;
  /** removeEntries drops outbox entries (they became durable; their log entries stay until the next snapshot). */
  removeEntries(workflowId: string, replicaId: string, seqs: number[]): Promise<void>;
  /** markRejected records that the server refused outbox entries for good (they stay, never to be sent). */
  markRejected(workflowId: string, replicaId: string, seqs: number[], rejected: { code: number; message: string }): Promise<void>;
  /**
   * saveReplica writes the whole state of (workflow, replica) in one
   * transaction: the snapshot (the log is deleted), the outbox entries, the
   * counter and the receipts, each replacing what was stored. It is how a new
   * replica id gets its state before the lease points at it.
   */
  saveReplica(workflowId: string, replicaId: string, state: ReplicaState): Promise<void>;
  /** dropReplica deletes the snapshot, log, outbox, counter and receipts of (workflow, replica). */
  dropReplica(workflowId: string, replicaId: string): Promise<void>;
  /** close waits for pending writes and releases resources. Leases are released separately. */
  close(): Promise<void>;
}

/** PersistenceError reports a storage failure (quota, a blocked upgrade, a closed database). */
export class PersistenceError extends Error {
  override readonly name = 'PersistenceError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The part of the Web Locks API the replica pool uses (navigator.locks). */
export interface LockManagerLike {
  request(
    name: string,
    options: { ifAvailable?: boolean; mode?: 'exclusive' | 'shared'; signal?: AbortSignal },
    callback: (lock: unknown) => Promise<unknown> | unknown,
  ): Promise<unknown>;
}

/** newReplicaId mints a replica id: random, so that no two devices share one. */
export function newReplicaId(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === 'function') return 'js-' + c.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `js-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
