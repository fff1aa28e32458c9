// Persistence: the IndexedDB store (on fake-indexeddb) and the memory store
// keep documents and outboxes per (workflow, replica), write a local edit
// atomically, and pool replica ids so that two live clients never share one.
import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { IndexedDBPersistence, MemoryPersistence, PersistenceError, type LockManagerLike, type Persistence } from '../src/persist';
import { ReloadLockWaitMs } from '../src/persist/indexeddb';
import { TestLocks } from './helpers';

let dbn = 0;
const bytes = (...b: number[]) => Uint8Array.from(b);

async function suite(name: string, make: () => Promise<Persistence>) {
  describe(name, () => {
    it('stores local edits (outbox + log) and remote batches, and a snapshot folds the log', async () => {
      const p = await make();
      const lease = await p.claimReplica('wf-1');
      const rid = lease.replicaId;
      expect(await p.load('wf-1', rid)).toEqual({ doc: null, log: [], outbox: [], nextSeq: 1, receipts: [] });
      await p.appendLocal('wf-1', rid, [{ seq: 1, id: 'a-1', delta: bytes(9) }]);
      await p.appendLocal('wf-1', rid, [{ seq: 2, id: 'a-2', delta: bytes(8) }]);
      await p.appendLog('wf-1', rid, [bytes(20), bytes(21)]);
      await p.appendLocal('wf-1', rid, [{ seq: 10, id: 'a-3', delta: bytes(7) }]);
      // Another workflow and another replica are separate.
      await p.appendLocal('wf-2', rid, [{ seq: 1, id: 'b-1', delta: bytes(6) }]);
      await p.appendLocal('wf-1', 'other', [{ seq: 1, id: 'c-1', delta: bytes(6) }]);
      const got = await p.load('wf-1', rid);
      expect(got.doc).toBeNull();
      expect(got.log.map((d) => [...d]).sort()).toEqual([[20], [21], [7], [8], [9]].sort());
      expect(got.outbox.map((e) => [e.seq, e.id, [...e.delta]])).toEqual([
        [1, 'a-1', [9]],
        [2, 'a-2', [8]],
        [10, 'a-3', [7]],
      ]);
      expect(got.nextSeq).toBe(11);

      // Durable entries leave the outbox; their deltas stay in the log until a snapshot.
      await p.removeEntries('wf-1', rid, [1, 10]);
      let after = await p.load('wf-1', rid);
      expect(after.outbox.map((e) => e.id)).toEqual(['a-2']);
      expect(after.log).toHaveLength(5);
      // A snapshot replaces the log (one transaction); the outbox is kept.
      await p.saveSnapshot('wf-1', rid, bytes(42));
      await p.appendLog('wf-1', rid, [bytes(30)]);
      after = await p.load('wf-1', rid);
      expect(after.doc).toEqual(bytes(42));
      expect(after.log.map((d) => [...d])).toEqual([[30]]);
      expect(after.outbox.map((e) => e.id)).toEqual(['a-2']);
      expect(after.nextSeq).toBe(11); // the counter never goes back
      // Other replicas' logs are untouched by the snapshot.
      expect((await p.load('wf-1', 'other')).log.map((d) => [...d])).toEqual([[6]]);

      await p.dropReplica('wf-1', rid);
      expect(await p.load('wf-1', rid)).toEqual({ doc: null, log: [], outbox: [], nextSeq: 1, receipts: [] });
      expect((await p.load('wf-2', rid)).outbox.map((e) => e.id)).toEqual(['b-1']);
      expect((await p.load('wf-1', 'other')).outbox.map((e) => e.id)).toEqual(['c-1']);
      lease.release();
      await p.close();
    });

    it('pools replica ids: held ids are never handed out twice, released ones come back', async () => {
      const p = await make();
      const a = await p.claimReplica('wf-1');
      const b = await p.claimReplica('wf-1');
      expect(a.replicaId).not.toBe(b.replicaId);
      expect(a.replicaId).toMatch(/^js-[0-9a-f-]{36}$/);
      const ida = a.replicaId;
      a.release();
      a.release(); // idempotent
      const c = await p.claimReplica('wf-1');
      expect(c.replicaId).toBe(ida); // a reload gets its replica (and its saved state) back
      // replace: the slot now names the new id, for good.
      await c.replace('js-replaced');
      expect(c.replicaId).toBe('js-replaced');
      c.release();
      const d = await p.claimReplica('wf-1');
      expect(d.replicaId).toBe('js-replaced');
      // Pools are per workflow: replacing wf-1's id leaves wf-2's alone.
      const e = await p.claimReplica('wf-2');
      expect(e.replicaId).not.toBe('js-replaced');
      b.release();
      d.release();
      e.release();
      await p.close();
    });
  });
}

suite('MemoryPersistence', async () => new MemoryPersistence());

let shared: { name: string; locks: TestLocks } | null = null;
suite('IndexedDBPersistence', async () => {
  shared = { name: `persist-${++dbn}`, locks: new TestLocks() };
  return IndexedDBPersistence.open({ dbName: shared.name, locks: shared.locks });
});

describe('IndexedDBPersistence across page loads', () => {
  it('a second open of the same database (a reload) sees the first one\'s state and replica', async () => {
    const locks = new TestLocks();
    const p1 = await IndexedDBPersistence.open({ dbName: 'reload-db', locks });
    const l1 = await p1.claimReplica('wf');
    await p1.appendLocal('wf', l1.replicaId, [{ seq: 1, id: 'x-1', delta: bytes(2) }]);
    // While the first page holds its lease, a second tab gets another id.
    const p2 = await IndexedDBPersistence.open({ dbName: 'reload-db', locks });
    const l2 = await p2.claimReplica('wf');
    expect(l2.replicaId).not.toBe(l1.replicaId);
    expect((await p2.load('wf', l2.replicaId)).outbox).toEqual([]);
    // The first page unloads; a new page claims its replica back, with its outbox.
    l1.release();
    await p1.close();
    const p3 = await IndexedDBPersistence.open({ dbName: 'reload-db', locks });
    const l3 = await p3.claimReplica('wf');
    expect(l3.replicaId).toBe(l1.replicaId);
    expect((await p3.load('wf', l3.replicaId)).outbox.map((e) => e.id)).toEqual(['x-1']);
    l2.release();
    l3.release();
    await p2.close();
    await p3.close();
  });

  it('without Web Locks every client gets a fresh, unpooled id', async () => {
    const p = await IndexedDBPersistence.open({ dbName: 'nolocks', locks: null });
    const a = await p.claimReplica('wf');
    a.release();
    const b = await p.claimReplica('wf');
    expect(b.replicaId).not.toBe(a.replicaId);
    await p.close();
  });

  it('a local edit is all or nothing: a write failing mid-transaction leaves neither outbox nor log entry', async () => {
    const p = await IndexedDBPersistence.open({ dbName: 'atomic-db', locks: null });
    await p.appendLocal('wf', 'r', [{ seq: 1, id: 'ok', delta: bytes(1) }]);
    // The outbox put is issued, then building the log entry throws.
    let reads = 0;
    const bad = {
      seq: 2,
      id: 'bad',
      get delta(): Uint8Array {
        if (++reads > 1) throw new Error('injected failure after the outbox put');
        return bytes(2);
      },
    };
    await expect(p.appendLocal('wf', 'r', [bad])).rejects.toThrow(PersistenceError);
    expect(reads).toBe(2);
    const st = await p.load('wf', 'r');
    expect(st.outbox.map((e) => e.id)).toEqual(['ok']);
    expect(st.log).toHaveLength(1);
    expect(st.nextSeq).toBe(2);
    await p.close();
  });

  it('writes after close are refused with a PersistenceError', async () => {
    const p = await IndexedDBPersistence.open({ dbName: 'closed-db', locks: null });
    await p.close();
    await expect(p.saveSnapshot('wf', 'r', bytes(1))).rejects.toThrow(/closed/);
    await expect(p.appendLocal('wf', 'r', [{ seq: 1, id: 'x', delta: bytes(1) }])).rejects.toThrow(/closed/);
  });

  it('reports a missing IndexedDB clearly', async () => {
    await expect(IndexedDBPersistence.open({ indexedDB: undefined as unknown as IDBFactory, dbName: 'x' }).then(() => 'opened')).resolves.toBe('opened');
    const saved = globalThis.indexedDB;
    try {
      (globalThis as { indexedDB?: IDBFactory }).indexedDB = undefined;
      await expect(IndexedDBPersistence.open({ dbName: 'y' })).rejects.toThrow(/not available/);
    } finally {
      (globalThis as { indexedDB?: IDBFactory }).indexedDB = saved;
    }
  });
});
void shared;

/** Opens name with the schema version 1 wrote (no log store) and fills it as version 1 did. */
async function writeV1(name: string, wf: string, rid: string): Promise<void> {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore('replica', { keyPath: ['wf', 'slot'] });
    db.createObjectStore('docs', { keyPath: ['wf', 'rid'] });
    db.createObjectStore('outbox', { keyPath: ['wf', 'rid', 'seq'] });
    db.createObjectStore('meta', { keyPath: ['wf', 'rid'] });
  };
  const db = await new Promise<IDBDatabase>((res, rej) => {
    open.onsuccess = () => res(open.result);
    open.onerror = () => rej(open.error);
  });
  const t = db.transaction(['replica', 'docs', 'outbox', 'meta'], 'readwrite');
  t.objectStore('replica').put({ wf, slot: 0, id: rid });
  t.objectStore('docs').put({ wf, rid, doc: bytes(1, 2, 3) });
  t.objectStore('outbox').put({ wf, rid, seq: 4, id: 'old-4', delta: bytes(4) });
  t.objectStore('outbox').put({ wf, rid, seq: 5, id: 'old-5', delta: bytes(5) });
  t.objectStore('meta').put({ wf, rid, nextSeq: 6 });
  await new Promise<void>((res, rej) => {
    t.oncomplete = () => res();
    t.onerror = () => rej(t.error);
  });
  db.close();
}

describe('IndexedDBPersistence schema versions', () => {
  it('upgrades a version 1 database in place: its document, pending outbox and replica are kept', async () => {
    await writeV1('v1-db', 'wf', 'js-old');
    const p = await IndexedDBPersistence.open({ dbName: 'v1-db', locks: new TestLocks() });
    const lease = await p.claimReplica('wf');
    expect(lease.replicaId).toBe('js-old');
    const got = await p.load('wf', 'js-old');
    expect(got.doc).toEqual(bytes(1, 2, 3)); // version 1's document is the snapshot
    expect(got.log).toEqual([]);
    expect(got.outbox.map((e) => [e.seq, e.id])).toEqual([
      [4, 'old-4'],
      [5, 'old-5'],
    ]);
    expect(got.nextSeq).toBe(6);
    // And the upgraded database takes version 2 writes.
    await p.appendLocal('wf', 'js-old', [{ seq: 6, id: 'new-6', delta: bytes(6) }]);
    expect((await p.load('wf', 'js-old')).log.map((d) => [...d])).toEqual([[6]]);
    lease.release();
    await p.close();
  });

  it('refuses a database written by a newer schema instead of downgrading it', async () => {
    const open = indexedDB.open('future-db', 99);
    await new Promise<void>((res, rej) => {
      open.onsuccess = () => {
        open.result.close();
        res();
      };
      open.onerror = () => rej(open.error);
    });
    await expect(IndexedDBPersistence.open({ dbName: 'future-db', locks: null })).rejects.toThrow(/newer flowsync client/);
  });
});

/** Web Locks with waiting (queued requests, AbortSignal) as well as ifAvailable. */
class QueueLocks implements LockManagerLike {
  private readonly queues = new Map<string, Array<() => void>>();
  private readonly held = new Set<string>();
  /** Requests that have waited for a held lock so far, and who waits for that count to grow. */
  private waited = 0;
  private readonly onWait: Array<{ n: number; resolve: () => void }> = [];

  /** waits resolves once n requests in all have had to wait for a held lock. */
  waits(n: number): Promise<void> {
    if (this.waited >= n) return Promise.resolve();
    return new Promise((resolve) => this.onWait.push({ n, resolve }));
  }

  async request(name: string, opts: { ifAvailable?: boolean; signal?: AbortSignal }, cb: (lock: unknown) => unknown): Promise<unknown> {
    if (this.held.has(name)) {
      if (opts.ifAvailable) return cb(null);
      await new Promise<void>((resolve, reject) => {
        const q = this.queues.get(name) ?? [];
        this.queues.set(name, q);
        const go = () => resolve();
        q.push(go);
        this.waited++;
        for (const w of this.onWait.filter((x) => x.n <= this.waited)) {
          this.onWait.splice(this.onWait.indexOf(w), 1);
          w.resolve();
        }
        opts.signal?.addEventListener('abort', () => {
          q.splice(q.indexOf(go), 1);
          reject(new DOMException('aborted', 'AbortError'));
        });
      });
    }
    this.held.add(name);
    try {
      return await cb({ name });
    } finally {
      this.held.delete(name);
      this.queues.get(name)?.shift()?.();
    }
  }
}

describe('IndexedDBPersistence on reload (sessionStorage + Web Locks)', () => {
  it('a reloaded tab waits for its previous replica instead of minting a new one', async () => {
    const store = new Map<string, string>();
    const ss = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    (globalThis as { sessionStorage?: unknown }).sessionStorage = ss;
    try {
      const locks = new QueueLocks();
      const p1 = await IndexedDBPersistence.open({ dbName: 'reload-wait', locks });
      const old = await p1.claimReplica('wf');
      // The new page starts before the old one has let go of its lock.
      const next = IndexedDBPersistence.open({ dbName: 'reload-wait', locks }).then((p) => p.claimReplica('wf'));
      await locks.waits(1);
      old.release();
      const lease = await next;
      expect(lease.replicaId).toBe(old.replicaId);
      lease.release();

      // A duplicated tab (same sessionStorage) whose original keeps the lock
      // gives up after a moment and takes another id.
      const held = await (await IndexedDBPersistence.open({ dbName: 'reload-wait', locks })).claimReplica('wf');
      // Only setTimeout is faked: fake-indexeddb schedules with setImmediate.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      let claimed = false;
      const dupClaim = IndexedDBPersistence.open({ dbName: 'reload-wait', locks })
        .then((p) => p.claimReplica('wf'))
        .finally(() => (claimed = true));
      await locks.waits(2);
      await vi.advanceTimersByTimeAsync(ReloadLockWaitMs - 1);
      expect(claimed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const dup = await dupClaim;
      expect(dup.replicaId).not.toBe(held.replicaId);
      held.release();
      dup.release();
    } finally {
      vi.useRealTimers();
      delete (globalThis as { sessionStorage?: unknown }).sessionStorage;
    }
  });
});
