// IndexedDB persistence: the local document and the outbox survive reloads,
// crashes and going offline, so that an edit made offline is sent when the
// browser is next online, even from a new page.
//
// One database (dbName), schema version 3, six object stores:
//   replica  [workflow, slot] → {wf, slot, id}: the pool of replica ids
//   docs     [workflow, replica] → {wf, rid, doc}: a snapshot of the local
//            document (its whole encoding), rewritten only now and then
//   log      auto key → {wf, rid, delta}, index "byReplica" on [wf, rid]:
//            deltas merged since the snapshot (local edits, batches of
//            remote changes)
//   outbox   [workflow, replica, seq] → {wf, rid, seq, id, delta}: local deltas
//            not yet durable, in write order (key order is seq order)
//   meta     [workflow, replica] → {wf, rid, nextSeq}: the outbox counter
//   receipts [workflow, replica, epoch, seq, sub] → {wf, rid, epoch, seq, sub,
//            delta, keyId, mac}: deltas received from the server with their
//            receipts, kept until the server says they are durable
//
// The document is the snapshot merged with the log and the outbox. A local
// edit writes its outbox entry, its log entry and meta in one readwrite
// transaction (appendLocal): IndexedDB commits a transaction entirely or not
// at all, and the cost is the delta's size. saveSnapshot writes the whole
// document and deletes the log entries it covers in one transaction.
//
// Versions: version 1 (no log store; docs rewritten on every edit) is a
// valid version 2 database with an empty log, so the upgrade only creates
// the log store and keeps every document and outbox entry: nothing pending
// is ever dropped. Version 2 is a valid version 3 database with no kept
// receipts (the upgrade creates the receipts store); its outbox entries lack
// `mine`, which the client then infers from the delta. A tab still running version 1 code is closed by
// onversionchange and its later writes fail loudly (PersistenceError); code
// older than the database refuses to open it (VersionError), never writes a
// layout this code cannot read.
//
// Replica ids are pooled per workflow, so that replacing one after a refused
// delta (PROTOCOL.md §9) never strands another workflow's outbox under the
// old id. Tabs of one browser share this database but must never run
// the same replica id at once (they would spend the same dots on different
// writes). Each tab claims a slot of the pool with a Web Lock held for the
// tab's lifetime (navigator.locks.request(name, {ifAvailable: true})); the
// browser releases it when the tab closes or reloads, so the reloaded page
// claims the same slot back and finds its document and outbox. When every
// slot is held, a new slot with a fresh id is minted. Without the Web Locks
// API there is no safe way to share, so each client mints a fresh id that is
// not pooled (its saved state is then never reloaded).

import {
  newReplicaId,
  PersistenceError,
  type LoadedState,
  type LockManagerLike,
  type Persistence,
  type ReceiptKey,
  type ReplicaLease,
  type ReplicaState,
  type StoredEntry,
  type StoredReceipt,
} from './types';

const DBVersion = 3;
/** How long a reloaded page waits for its previous replica's lock. */
export const ReloadLockWaitMs = 2000;

/** Options of IndexedDBPersistence.open. */
export interface IndexedDBOptions {
  /** The database name; one database holds every workflow. Default "flowsync". */
  dbName?: string;
  /** Default globalThis.indexedDB. */
  indexedDB?: IDBFactory;
  /** Default globalThis.navigator?.locks; null disables pooling (fresh id per client). */
  locks?: LockManagerLike | null;
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new PersistenceError('indexeddb: transaction aborted'));
  });
}

function wrap(what: string, e: unknown): PersistenceError {
  const msg = e instanceof Error ? e.message : String(e);
  return new PersistenceError(`indexeddb: ${what}: ${msg}`, { cause: e });
}

export class IndexedDBPersistence implements Persistence {
  readonly kind = 'indexeddb' as const;
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    private readonly db: IDBDatabase,
    private readonly dbName: string,
    private readonly locks: LockManagerLike | null,
  ) {
    // Another tab upgrading the schema: let it, and fail our later writes
    // loudly rather than block it forever.
    db.onversionchange = () => db.close();
  }

  /** open opens (creating or upgrading) the database. */
  static async open(opts: IndexedDBOptions = {}): Promise<IndexedDBPersistence> {
    const factory = opts.indexedDB ?? globalThis.indexedDB;
    if (!factory) throw new PersistenceError('indexeddb: IndexedDB is not available in this environment');
    const dbName = opts.dbName ?? 'flowsync';
    const open = factory.open(dbName, DBVersion);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('replica')) db.createObjectStore('replica', { keyPath: ['wf', 'slot'] });
      if (!db.objectStoreNames.contains('docs')) db.createObjectStore('docs', { keyPath: ['wf', 'rid'] });
      if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: ['wf', 'rid', 'seq'] });
      if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', { keyPath: ['wf', 'rid'] });
      // Version 2: the delta log. Version 1 data needs no change (its docs
      // record is a complete snapshot).
      if (!db.objectStoreNames.contains('log')) {
        db.createObjectStore('log', { autoIncrement: true }).createIndex('byReplica', ['wf', 'rid']);
      }
      // Version 3: receipts kept for handing back.
      if (!db.objectStoreNames.contains('receipts')) db.createObjectStore('receipts', { keyPath: ['wf', 'rid', 'epoch', 'seq', 'sub'] });
    };
    let db: IDBDatabase;
    try {
      db = await new Promise<IDBDatabase>((resolve, reject) => {
        open.onsuccess = () => resolve(open.result);
        open.onerror = () =>
          reject(
            open.error?.name === 'VersionError'
              ? new PersistenceError(`indexeddb: "${dbName}" was written by a newer flowsync client (schema above ${DBVersion}); refusing to downgrade it`, { cause: open.error })
              : open.error,
          );
        open.onblocked = () => reject(new PersistenceError(`indexeddb: opening "${dbName}" is blocked by another tab on an older version`));
      });
    } catch (e) {
      throw e instanceof PersistenceError ? e : wrap(`open "${dbName}"`, e);
    }
    const locks = opts.locks === undefined ? ((globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks ?? null) : opts.locks;
    return new IndexedDBPersistence(db, dbName, locks);
  }

  /** track keeps a write's promise until it settles, so that close can wait for it. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const drop = () => this.pending.delete(p);
    p.then(drop, drop);
    return p;
  }

  private tx(stores: string[], mode: IDBTransactionMode): IDBTransaction {
    if (this.closed) throw new PersistenceError('indexeddb: the database is closed');
    try {
      return this.db.transaction(stores, mode);
    } catch (e) {
      throw wrap('transaction', e);
    }
  }

  async claimReplica(wf: string): Promise<ReplicaLease> {
    if (!this.locks) {
      let id = newReplicaId();
      return {
        get replicaId() {
          return id;
        },
        replace: async (newId: string) => {
          id = newId;
        },
        release: () => {},
      };
    }
    // A reloaded page first asks for the slot this tab used before (kept in
    // sessionStorage), and waits a moment for it: the unloading page may
    // not have released its lock yet, and that slot holds the tab's outbox.
    const remembered = this.rememberedSlot(wf);
    if (remembered !== null) {
      const lease = await this.tryClaim(wf, remembered, ReloadLockWaitMs);
      if (lease) return lease;
    }
    const t = this.tx(['replica'], 'readonly');
    const keys = (await req(t.objectStore('replica').getAllKeys(IDBKeyRange.bound([wf, -Infinity], [wf, Infinity])))) as Array<[string, number]>;
    const slots = keys.map((k) => k[1]).sort((a, b) => a - b);
    const max = slots.length ? slots[slots.length - 1] : -1;
    // Existing slots first (they carry saved state), then new ones. A new
    // slot may be raced by another tab: the lock decides, and the id is read
    // (or minted) only once the lock is held.
    for (let slot = 0; ; slot++) {
      if (slot > max + 64) throw new PersistenceError('indexeddb: could not claim a replica id (64 new slots were all held)');
      const lease = await this.tryClaim(wf, slot);
      if (lease) return lease;
    }
  }

  private slotKey(wf: string): string {
    return `flowsync:${this.dbName}:slot:${wf}`;
  }

  private rememberedSlot(wf: string): number | null {
    try {
      const v = (globalThis as { sessionStorage?: Storage }).sessionStorage?.getItem(this.slotKey(wf));
      const n = v == null ? NaN : Number(v);
      return Number.isInteger(n) && n >= 0 ? n : null;
    } catch {
      return null; // storage disabled
    }
  }

  private rememberSlot(wf: string, slot: number): void {
    try {
      (globalThis as { sessionStorage?: Storage }).sessionStorage?.setItem(this.slotKey(wf), String(slot));
    } catch {
      // storage disabled: a reload then scans the pool
    }
  }

  /**
   * tryClaim takes slot's lock: at once or not at all (waitMs 0), or
   * waiting up to waitMs. It returns null when the lock is held elsewhere.
   */
  private async tryClaim(wf: string, slot: number, waitMs = 0): Promise<ReplicaLease | null> {
    const name = `flowsync:${this.dbName}:replica:${JSON.stringify([wf, slot])}`;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const abort = waitMs > 0 ? new AbortController() : null;
    const timer = abort ? setTimeout(() => abort.abort(), waitMs) : undefined;
    const granted = await new Promise<boolean>((resolve, reject) => {
      const opts = abort ? { signal: abort.signal } : { ifAvailable: true };
      this.locks!.request(name, opts, (lock) => {
        resolve(lock != null);
        // Returning the promise holds the lock until release is called.
        return lock != null ? held : undefined;
      }).catch((e: unknown) => {
        if (abort?.signal.aborted) resolve(false);
        else reject(e);
      });
    });
    if (timer !== undefined) clearTimeout(timer);
    if (!granted) return null;
    this.rememberSlot(wf, slot);
    try {
      const t = this.tx(['replica'], 'readwrite');
      const store = t.objectStore('replica');
      const rec = (await req(store.get([wf, slot]))) as { id: string } | undefined;
      let id = rec?.id;
      if (!id) {
        id = newReplicaId();
        store.put({ wf, slot, id });
      }
      await done(t);
      let current = id;
      let released = false;
      return {
        get replicaId() {
          return current;
        },
        replace: async (newId: string) => {
          const t = this.tx(['replica'], 'readwrite');
          t.objectStore('replica').put({ wf, slot, id: newId });
          await this.track(done(t));
          current = newId;
        },
        release: () => {
          if (!released) {
            released = true;
            release();
          }
        },
      };
    } catch (e) {
      release();
      throw e instanceof PersistenceError ? e : wrap('claim a replica id', e);
    }
  }

  async load(wf: string, rid: string): Promise<LoadedState> {
    try {
      const t = this.tx(['docs', 'log', 'outbox', 'meta', 'receipts'], 'readonly');
      const range = IDBKeyRange.bound([wf, rid, -Infinity], [wf, rid, Infinity]);
      const [doc, log, entries, meta, kept] = await Promise.all([
        req(t.objectStore('docs').get([wf, rid])) as Promise<{ doc: Uint8Array } | undefined>,
        req(t.objectStore('log').index('byReplica').getAll(IDBKeyRange.only([wf, rid]))) as Promise<Array<{ delta: Uint8Array }>>,
        req(t.objectStore('outbox').getAll(range)) as Promise<Array<StoredEntry & { wf: string; rid: string }>>,
        req(t.objectStore('meta').get([wf, rid])) as Promise<{ nextSeq: number } | undefined>,
        req(t.objectStore('receipts').getAll(receiptRange(wf, rid))) as Promise<Array<StoredReceipt & { wf: string; rid: string }>>,
      ]);
      const outbox = entries.map((e) => {
        const out: StoredEntry = { seq: e.seq, id: e.id, delta: new Uint8Array(e.delta) };
        if (e.mine) out.mine = e.mine.map((r) => ({ lo: r.lo, hi: r.hi }));
        if (e.rejected) out.rejected = { code: e.rejected.code, message: e.rejected.message };
        return out;
      });
      let nextSeq = meta?.nextSeq ?? 1;
      for (const e of outbox) nextSeq = Math.max(nextSeq, e.seq + 1);
      const receipts = kept.map((k) => ({ epoch: k.epoch, seq: k.seq, sub: k.sub, delta: new Uint8Array(k.delta), keyId: k.keyId, mac: new Uint8Array(k.mac) }));
      return { doc: doc ? new Uint8Array(doc.doc) : null, log: log.map((l) => new Uint8Array(l.delta)), outbox, nextSeq, receipts };
    } catch (e) {
      throw e instanceof PersistenceError ? e : wrap(`load ${wf}`, e);
    }
  }

  /** write runs fn in one readwrite transaction over stores and waits for its commit. */
  private write(what: string, stores: string[], fn: (t: IDBTransaction) => void): Promise<void> {
    return this.track(
      (async () => {
        const t = this.tx(stores, 'readwrite');
        const committed = done(t);
        try {
          fn(t);
        } catch (e) {
          // A request that throws (DataCloneError, …) must not leave the
          // transaction to commit the requests made before it.
          try {
            t.abort();
          } catch {
            // already finished
          }
          committed.catch(() => {});
          throw e;
        }
        await committed;
      })().catch((e) => {
        throw e instanceof PersistenceError ? e : wrap(what, e);
      }),
    );
  }

  appendLocal(wf: string, rid: string, entries: readonly StoredEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return this.write(`store an edit of ${wf}`, ['log', 'outbox', 'meta'], (t) => {
      let nextSeq = 0;
      for (const entry of entries) {
        t.objectStore('outbox').put(entryRecord(wf, rid, entry));
        t.objectStore('log').add({ wf, rid, delta: entry.delta });
        nextSeq = Math.max(nextSeq, entry.seq + 1);
      }
      t.objectStore('meta').put({ wf, rid, nextSeq });
    });
  }

  appendLog(wf: string, rid: string, deltas: Uint8Array[], receipts: StoredReceipt[] = []): Promise<void> {
    if (deltas.length === 0 && receipts.length === 0) return Promise.resolve();
    return this.write(`store remote changes of ${wf}`, ['log', 'receipts'], (t) => {
      const s = t.objectStore('log');
      for (const delta of deltas) s.add({ wf, rid, delta });
      const k = t.objectStore('receipts');
      for (const r of receipts) k.put(receiptRecord(wf, rid, r));
    });
  }

  removeReceipts(wf: string, rid: string, keys: ReceiptKey[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    return this.write(`drop durable receipts of ${wf}`, ['receipts'], (t) => {
      const s = t.objectStore('receipts');
      for (const [epoch, seq, sub] of keys) s.delete([wf, rid, epoch, seq, sub]);
    });
  }

  markRejected(wf: string, rid: string, seqs: number[], rejected: { code: number; message: string }): Promise<void> {
    if (seqs.length === 0) return Promise.resolve();
    return this.write(`record refused edits of ${wf}`, ['outbox'], (t) => {
      const s = t.objectStore('outbox');
      for (const seq of seqs) {
        const get = s.get([wf, rid, seq]);
        get.onsuccess = () => {
          const rec = get.result as (StoredEntry & { wf: string; rid: string }) | undefined;
          if (rec) s.put({ ...rec, rejected: { code: rejected.code, message: rejected.message } });
        };
      }
    });
  }

  saveReplica(wf: string, rid: string, state: ReplicaState): Promise<void> {
    return this.write(`store the new replica of ${wf}`, ['docs', 'log', 'outbox', 'meta', 'receipts'], (t) => {
      t.objectStore('docs').put({ wf, rid, doc: state.doc });
      deleteLog(t, wf, rid);
      const out = t.objectStore('outbox');
      out.delete(IDBKeyRange.bound([wf, rid, -Infinity], [wf, rid, Infinity]));
      for (const e of state.outbox) out.put(entryRecord(wf, rid, e));
      t.objectStore('meta').put({ wf, rid, nextSeq: state.nextSeq });
      const k = t.objectStore('receipts');
      k.delete(receiptRange(wf, rid));
      for (const r of state.receipts) k.put(receiptRecord(wf, rid, r));
    });
  }

  saveSnapshot(wf: string, rid: string, doc: Uint8Array): Promise<void> {
    return this.write(`store the document of ${wf}`, ['docs', 'log'], (t) => {
      t.objectStore('docs').put({ wf, rid, doc });
      deleteLog(t, wf, rid);
    });
  }

  removeEntries(wf: string, rid: string, seqs: number[]): Promise<void> {
    if (seqs.length === 0) return Promise.resolve();
    return this.track(
      (async () => {
        const t = this.tx(['outbox'], 'readwrite');
        const s = t.objectStore('outbox');
        for (const seq of seqs) s.delete([wf, rid, seq]);
        await done(t);
      })().catch((e) => {
        throw e instanceof PersistenceError ? e : wrap(`drop durable edits of ${wf}`, e);
      }),
    );
  }

  dropReplica(wf: string, rid: string): Promise<void> {
    return this.track(
      (async () => {
        const t = this.tx(['docs', 'log', 'outbox', 'meta', 'receipts'], 'readwrite');
        t.objectStore('docs').delete([wf, rid]);
        deleteLog(t, wf, rid);
        t.objectStore('outbox').delete(IDBKeyRange.bound([wf, rid, -Infinity], [wf, rid, Infinity]));
        t.objectStore('meta').delete([wf, rid]);
        t.objectStore('receipts').delete(receiptRange(wf, rid));
        await done(t);
      })().catch((e) => {
        throw e instanceof PersistenceError ? e : wrap(`discard the local state of ${wf}`, e);
      }),
    );
  }

  async close(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.allSettled([...this.pending]);
    }
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
  }
}

/** receiptRange spans every receipt of (wf, rid): arrays sort after strings and numbers, so [wf, rid, []] is above every [wf, rid, epoch, …]. */
function receiptRange(wf: string, rid: string): IDBKeyRange {
  return IDBKeyRange.bound([wf, rid], [wf, rid, []]);
}

function entryRecord(wf: string, rid: string, e: StoredEntry): Record<string, unknown> {
  const rec: Record<string, unknown> = { wf, rid, seq: e.seq, id: e.id, delta: e.delta };
  if (e.mine) rec.mine = e.mine.map((r) => ({ lo: r.lo, hi: r.hi }));
  if (e.rejected) rec.rejected = { code: e.rejected.code, message: e.rejected.message };
  return rec;
}

function receiptRecord(wf: string, rid: string, r: StoredReceipt): Record<string, unknown> {
  return { wf, rid, epoch: r.epoch, seq: r.seq, sub: r.sub, delta: r.delta, keyId: r.keyId, mac: r.mac };
}

/** deleteLog deletes, inside t, every log entry of (wf, rid) that exists when t runs. */
function deleteLog(t: IDBTransaction, wf: string, rid: string): void {
  const store = t.objectStore('log');
  const cur = store.index('byReplica').openKeyCursor(IDBKeyRange.only([wf, rid]));
  cur.onsuccess = () => {
    const c = cur.result;
    if (!c) return;
    store.delete(c.primaryKey);
    c.continue();
  };
}
