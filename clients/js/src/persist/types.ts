// The persistence interface the client writes through. Two implementations
// share it: IndexedDB (browsers) and memory (tests, Node, private windows
// where IndexedDB is unavailable).
//
// What is stored, per (workflow, replica): a snapshot of the local document
// (its full encoding, rewritten only now and then), a log of the deltas
// merged since that snapshot (local edits and batches of remote changes),
// the outbox of local deltas the server has not made durable (in write
// order), and the next outbox sequence number. The document is the snapshot
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
   * appendLocal stores a local edit: its outbox entry and a log entry with
   * the same delta, atomically (one transaction), so that the document and
   * the outbox can never disagree after a crash. It costs the delta's size.
   */
  appendLocal(workflowId: string, replicaId: string, entry: StoredEntry): Promise<void>;
  /** appendLog stores deltas merged from the server (a batch, one transaction). */
  appendLog(workflowId: string, replicaId: string, deltas: Uint8Array[]): Promise<void>;
  /**
   * saveSnapshot stores the whole document and deletes every log entry
   * written before this call, in one transaction: the document passed must
   * already include every delta logged so far (writes are applied in call
   * order). Outbox entries are kept until removeEntries.
   */
  saveSnapshot(workflowId: string, replicaId: string, doc: Uint8Array): Promise<void>;
  /** removeEntries drops outbox entries (they became durable; their log entries stay until the next snapshot). */
  removeEntries(workflowId: string, replicaId: string, seqs: number[]): Promise<void>;
  /** dropReplica deletes the snapshot, log, outbox and counter of (workflow, replica). */
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
