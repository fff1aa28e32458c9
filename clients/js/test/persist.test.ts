// Persistence: the IndexedDB store (on fake-indexeddb) and the memory store
// keep documents and outboxes per (workflow, replica), write a local edit
// atomically, and pool replica ids so that two live clients never share one.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { IndexedDBPersistence, MemoryPersistence, type LockManagerLike, type Persistence } from '../src/persist';

/** An in-process Web Locks stand-in: exclusive locks, ifAvailable only. */
class TestLocks implements LockManagerLike {
  readonly held = new Set<string>();
  async request(name: string, opts: { ifAvailable?: boolean }, cb: (lock: unknown) => unknown): Promise<unknown> {
    if (this.held.has(name)) {
      if (!opts.ifAvailable) throw new Error('TestLocks supports ifAvailable only');
      return cb(null);
    }
    this.held.add(name);
    try {
      return await cb({ name });
    } finally {
      this.held.delete(name);
    }
  }
}

let dbn = 0;
const bytes = (...b: number[]) => Uint8Array.from(b);

async function suite(name: string, make: () => Promise<Persistence>) {
  describe(name, () => {
    it('stores a local edit (document and outbox entry) and loads it back in order', async () => {
      const p = await make();
      const lease = await p.claimReplica('wf-1');
      const rid = lease.replicaId;
      expect(await p.load('wf-1', rid)).toEqual({ doc: null, outbox: [], nextSeq: 1 });
      await p.appendLocal('wf-1', rid, bytes(1, 2), { seq: 1, id: 'a-1', delta: bytes(9) });
      await p.appendLocal('wf-1', rid, bytes(1, 2, 3), { seq: 2, id: 'a-2', delta: bytes(8) });
      await p.appendLocal('wf-1', rid, bytes(1, 2, 3, 4), { seq: 10, id: 'a-3', delta: bytes(7) });
      // Another workflow and another replica are separate.
      await p.appendLocal('wf-2', rid, bytes(5), { seq: 1, id: 'b-1', delta: bytes(6) });
      await p.appendLocal('wf-1', 'other', bytes(5), { seq: 1, id: 'c-1', delta: bytes(6) });
      const got = await p.load('wf-1', rid);
      expect(got.doc).toEqual(bytes(1, 2, 3, 4));
      expect(got.outbox.map((e) => [e.seq, e.id, [...e.delta]])).toEqual([
        [1, 'a-1', [9]],
        [2, 'a-2', [8]],
        [10, 'a-3', [7]],
      ]);
      expect(got.nextSeq).toBe(11);

      await p.removeEntries('wf-1', rid, [1, 10]);
      await p.saveDoc('wf-1', rid, bytes(42));
      const after = await p.load('wf-1', rid);
      expect(after.doc).toEqual(bytes(42));
      expect(after.outbox.map((e) => e.id)).toEqual(['a-2']);
      expect(after.nextSeq).toBe(11); // the counter never goes back

      await p.dropReplica('wf-1', rid);
      expect(await p.load('wf-1', rid)).toEqual({ doc: null, outbox: [], nextSeq: 1 });
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
    await p1.appendLocal('wf', l1.replicaId, bytes(1), { seq: 1, id: 'x-1', delta: bytes(2) });
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

  it('writes after close are refused with a PersistenceError', async () => {
    const p = await IndexedDBPersistence.open({ dbName: 'closed-db', locks: null });
    await p.close();
    await expect(p.saveDoc('wf', 'r', bytes(1))).rejects.toThrow(/closed/);
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

/** Web Locks with waiting (queued requests, AbortSignal) as well as ifAvailable. */
class QueueLocks implements LockManagerLike {
  private readonly queues = new Map<string, Array<() => void>>();
  private readonly held = new Set<string>();
  async request(name: string, opts: { ifAvailable?: boolean; signal?: AbortSignal }, cb: (lock: unknown) => unknown): Promise<unknown> {
    if (this.held.has(name)) {
      if (opts.ifAvailable) return cb(null);
      await new Promise<void>((resolve, reject) => {
        const q = this.queues.get(name) ?? [];
        this.queues.set(name, q);
        const go = () => resolve();
        q.push(go);
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
      await new Promise((r) => setTimeout(r, 100));
      old.release();
      const lease = await next;
      expect(lease.replicaId).toBe(old.replicaId);
      lease.release();

      // A duplicated tab (same sessionStorage) whose original keeps the lock
      // gives up after a moment and takes another id.
      const held = await (await IndexedDBPersistence.open({ dbName: 'reload-wait', locks })).claimReplica('wf');
      const t0 = Date.now();
      const dup = await (await IndexedDBPersistence.open({ dbName: 'reload-wait', locks })).claimReplica('wf');
      expect(dup.replicaId).not.toBe(held.replicaId);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
      held.release();
      dup.release();
    } finally {
      delete (globalThis as { sessionStorage?: unknown }).sessionStorage;
    }
  });
});
