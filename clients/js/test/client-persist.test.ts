// FlowsyncClient persistence: the snapshot + delta log layout as the client
// drives it, storage failures (a fault-injecting persistence) retiring the
// replica id, the Joined check that catches a reload of a stale local state,
// and the workflow-deleted event (admin API). Server tests build and start
// the real Go server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  Doc,
  FlowsyncClient,
  FlowsyncError,
  MemoryPersistence,
  PersistenceError,
  RejectError,
  type FlowsyncClientOptions,
  type LoadedState,
  type Persistence,
  type ReceiptKey,
  type ReplicaLease,
  type ReplicaState,
  type StoredEntry,
  type StoredReceipt,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../src/index';
import { DocSaveDelayMs, SnapshotIdleMs } from '../src/client/client';
import { FrameType } from '../src/protocol';
import { decode as decodeDoc } from '../src/workflow/encode';
import { varNames, waitFor } from './helpers';
import { ScriptedServer } from './scripted';
import { buildServer, TestServer } from './server';

/**
 * A persistence that records every call and fails writes on demand (a full
 * quota, a broken IndexedDB), delegating to a MemoryPersistence otherwise.
 */
class FaultyPersistence implements Persistence {
  readonly kind = 'memory' as const;
  failWrites = false;
  readonly calls: string[] = [];
  /** Every lease handed out, and the ids a lease was successfully pointed at. */
  readonly leases: ReplicaLease[] = [];
  readonly replaced: string[] = [];
  constructor(readonly inner = new MemoryPersistence()) {}
  /** crash lets rid's lease go as a page that went away without close does: nothing is written. */
  crash(rid: string): void {
    const l = this.leases.find((x) => x.replicaId === rid);
    if (!l) throw new Error(`no lease holds ${rid}`);
    l.release();
  }
  private readonly inFlight = new Set<Promise<unknown>>();
  private write<T>(name: string, f: () => Promise<T>): Promise<T> {
    this.calls.push(name);
    const p = this.failWrites ? Promise.reject(new PersistenceError(`injected: ${name} failed (quota exceeded)`)) : f();
    this.inFlight.add(p);
    const done = () => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }
  /** settled resolves once every write started so far has finished, failed ones included. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
  claimReplica(wf: string): Promise<ReplicaLease> {
    return this.inner.claimReplica(wf).then((l) => {
      const lease = {
        get replicaId() {
          return l.replicaId;
        },
        replace: (id: string) => this.write('replace', () => l.replace(id)).then(() => void this.replaced.push(id)),
        release: () => l.release(),
      };
      this.leases.push(lease);
      return lease;
    });
  }
  load(wf: string, rid: string): Promise<LoadedState> {
    return this.inner.load(wf, rid);
  }
  appendLocal(wf: string, rid: string, e: readonly StoredEntry[]): Promise<void> {
    return this.write('appendLocal', () => this.inner.appendLocal(wf, rid, e));
  }
  appendLog(wf: string, rid: string, d: Uint8Array[], receipts?: StoredReceipt[]): Promise<void> {
    return this.write('appendLog', () => this.inner.appendLog(wf, rid, d, receipts));
  }
  removeReceipts(wf: string, rid: string, keys: ReceiptKey[]): Promise<void> {
    return this.write('removeReceipts', () => this.inner.removeReceipts(wf, rid, keys));
  }
  markRejected(wf: string, rid: string, seqs: number[], r: { code: number; message: string }): Promise<void> {
    return this.write('markRejected', () => this.inner.markRejected(wf, rid, seqs, r));
  }
  saveReplica(wf: string, rid: string, st: ReplicaState): Promise<void> {
    return this.write('saveReplica', () => this.inner.saveReplica(wf, rid, st));
  }
  saveSnapshot(wf: string, rid: string, doc: Uint8Array): Promise<void> {
    return this.write('saveSnapshot', () => this.inner.saveSnapshot(wf, rid, doc));
  }
  removeEntries(wf: string, rid: string, seqs: number[]): Promise<void> {
    return this.write('removeEntries', () => this.inner.removeEntries(wf, rid, seqs));
  }
  dropReplica(wf: string, rid: string): Promise<void> {
    return this.write('dropReplica', () => this.inner.dropReplica(wf, rid));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A websocket that never opens: enough for offline behaviour. */
class DeadSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  constructor(readonly url: string) {}
  send(): void {
    throw new Error('not open');
  }
  close(): void {
    this.readyState = 3;
  }
}
const offline = {
  url: 'ws://127.0.0.1:1/v1/sync',
  token: 't',
  WebSocket: DeadSocket as unknown as WebSocketConstructor,
  autoConnect: false,
};


describe('the client writes deltas, not documents', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('an edit stores its delta (outbox + log), never the whole document; a snapshot folds the log when idle and after SnapshotEveryDeltas', async () => {
    vi.useFakeTimers();
    const p = new FaultyPersistence();
    const c = await FlowsyncClient.open({ ...offline, workflowId: 'wf-log', persistence: p });
    const snapshots = () => p.calls.filter((x) => x === 'saveSnapshot').length;
    for (let i = 0; i < 10; i++) c.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'plain', value: i });
    await p.settled();
    expect(p.calls.filter((x) => x === 'appendLocal')).toHaveLength(10);
    // The idle snapshot comes SnapshotIdleMs after the last write, not before.
    await vi.advanceTimersByTimeAsync(SnapshotIdleMs - 1);
    expect(snapshots()).toBe(0);
    let st = await p.inner.load('wf-log', c.replicaId);
    expect(st.doc).toBeNull();
    expect(st.log).toHaveLength(10);
    expect(st.outbox).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(1);
    await p.settled();
    expect(snapshots()).toBe(1);
    st = await p.inner.load('wf-log', c.replicaId);
    expect(st.log).toHaveLength(0);
    expect(st.doc).toEqual(c.doc.encode());
    // 256 log entries make a snapshot due at once (but outside apply).
    for (let i = 10; i < 266; i++) c.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'plain', value: i });
    expect(snapshots()).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    await p.settled();
    expect(snapshots()).toBe(2);
    st = await p.inner.load('wf-log', c.replicaId);
    expect(st.log).toHaveLength(0);
    expect(st.outbox).toHaveLength(266); // pending edits stay in the outbox
    expect(decodeDoc(st.doc!).encode()).toEqual(c.doc.encode());
    c.applyWire('add', 'variable', { id: 'last', name: 'last', type: 'plain', value: 0 });
    const rid = c.replicaId;
    const before = c.doc.encode();
    await c.close(); // close folds the log into a snapshot
    await p.settled();
    st = await p.inner.load('wf-log', rid);
    expect(st.log).toHaveLength(0);
    expect(st.doc).toEqual(before);
    // A reload: snapshot + log + outbox give the same document.
    const c2 = await FlowsyncClient.open({ ...offline, workflowId: 'wf-log', persistence: p });
    expect(c2.replicaId).toBe(rid);
    expect(c2.doc.encode()).toEqual(before);
    expect(c2.status().pending).toBe(267);
    await c2.close();
  });

  it('remote deltas are written to the log in one batch per DocSaveDelayMs', async () => {
    vi.useFakeTimers();
    const p = new FaultyPersistence();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...offline, WebSocket: server.WebSocket, workflowId: 'wf-batch', persistence: p });
    c.goOnline();
    const ws = server.last;
    ws.join();
    // Five deltas of another replica, relayed one after the other.
    const other = await FlowsyncClient.open({ ...offline, workflowId: 'wf-batch', persistence: new MemoryPersistence() });
    for (let i = 0; i < 5; i++) {
      const d = other.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'plain', value: i });
      ws.deliver({ type: FrameType.RemoteDelta, workflowId: 'wf-batch', delta: d.encode(), origin: { userId: 'bob', sessionId: 's2', replicaId: other.replicaId } });
    }
    await other.close();
    expect(varNames(c)).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    await vi.advanceTimersByTimeAsync(DocSaveDelayMs - 1);
    expect(p.calls).not.toContain('appendLog');
    await vi.advanceTimersByTimeAsync(1);
    await p.settled();
    expect(p.calls.filter((x) => x === 'appendLog')).toHaveLength(1);
    const st = await p.inner.load('wf-batch', c.replicaId);
    expect(st.log).toHaveLength(5);
    expect(st.doc).toBeNull();
    await c.close();
  });

  it('a reload merges the log written since the last snapshot', async () => {
    const p = new FaultyPersistence();
    const c = await FlowsyncClient.open({ ...offline, workflowId: 'wf-reload', persistence: p });
    c.applyWire('add', 'variable', { id: 'a', name: 'a', type: 'plain', value: 1 });
    const rid = c.replicaId;
    const want = c.doc.encode();
    await p.settled();
    const st = await p.load('wf-reload', rid);
    expect(st.doc).toBeNull();
    expect(st.log).toHaveLength(1);
    p.crash(rid); // no close: the page went away
    const c2 = await FlowsyncClient.open({ ...offline, workflowId: 'wf-reload', persistence: p });
    expect(c2.replicaId).toBe(rid);
    expect(c2.doc.encode()).toEqual(want);
    await c2.close();
  });
});

describe('a failed storage write retires the replica id (scripted server)', () => {
  it("emits 'error' and switches to a fresh id at once when nothing is pending", async () => {
    const p = new FaultyPersistence();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...offline, WebSocket: server.WebSocket, workflowId: 'wf-fail', persistence: p });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    c.applyWire('add', 'variable', { id: 'a', name: 'a', type: 'plain', value: 1 });
    const old = c.replicaId;
    const oldMax = c.doc.context().max(old);
    c.goOnline();
    const ws = server.last;
    ws.join();
    const [sent] = ws.sentOf(FrameType.Delta);
    // The edit becomes durable, then storage fails on removing it.
    p.failWrites = true;
    ws.deliver({ type: FrameType.Durable, opIds: [sent.opId] });
    await waitFor('persistence error', () => errors.length > 0);
    expect(errors.some((e) => e instanceof FlowsyncError && e.kind === 'persistence')).toBe(true);
    expect(c.replicaId).not.toBe(old); // retired in memory at once
    // Later edits mint dots of the new id only.
    c.applyWire('add', 'variable', { id: 'b', name: 'b', type: 'plain', value: 2 });
    expect(c.doc.context().max(c.replicaId)).toBeGreaterThan(0);
    expect(c.doc.context().max(old)).toBe(oldMax);
    await c.close();
  });
});

// ---- against the real server ----------------------------------------------

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowsync-js-persist-'));
const adminSecret = 'admin-secret-that-is-at-least-32-bytes-long!';
const server = new TestServer('dev', ['--dev'], tmp);

beforeAll(async () => {
  const bin = buildServer(tmp);
  const secretFile = path.join(tmp, 'admin-secret');
  writeFileSync(secretFile, adminSecret + '\n');
  server.args.push('--admin-secret-file', secretFile);
  await server.start(bin);
}, 300_000);

const clients: FlowsyncClient[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

let wfSeq = 0;
const newWorkflow = () => `wf-persist-${process.pid}-${++wfSeq}`;
async function open(opts: Partial<FlowsyncClientOptions> & { workflowId: string }): Promise<FlowsyncClient> {
  const c = await FlowsyncClient.open({ url: server.url, token: 'u1:Ann', persistence: 'memory', WebSocket, backoff: { baseMs: 50, capMs: 400 }, ...opts });
  clients.push(c);
  return c;
}
const live = (c: FlowsyncClient) => waitFor('live', () => c.status().state === 'live');

describe('storage failures against a real server', () => {
  it('a failed write retires the id once its pending edits are durable; the new id is stored when storage recovers', async () => {
    const wf = newWorkflow();
    const p = new FaultyPersistence();
    const a = await open({ workflowId: wf, persistence: p });
    const b = await open({ workflowId: wf, token: 'bob:Bob' });
    await Promise.all([live(a), live(b)]);
    const errors: Error[] = [];
    a.on('error', (e) => errors.push(e));
    a.applyWire('add', 'variable', { id: 'v0', name: 'before', type: 'plain', value: 0 });
    await a.whenSaved();
    const old = a.replicaId;

    p.failWrites = true;
    a.applyWire('add', 'variable', { id: 'v1', name: 'unstored', type: 'plain', value: 1 });
    await waitFor('persistence error', () => errors.some((e) => e instanceof FlowsyncError && e.kind === 'persistence'));
    // The edit is still sent (under the old id, which owns its dots)...
    await a.whenSaved();
    const oldMax = a.doc.context().max(old);
    // ...then the old id is retired: later edits use a fresh one.
    await waitFor('new replica id', () => a.replicaId !== old);
    await live(a);
    a.applyWire('add', 'variable', { id: 'v2', name: 'after', type: 'plain', value: 2 });
    await a.whenSaved();
    await waitFor('b has every edit', () => varNames(b).join() === 'after,before,unstored');
    expect(b.doc.context().max(a.replicaId)).toBeGreaterThan(0);
    expect(b.doc.context().max(old)).toBe(oldMax); // the old id spent nothing more
    expect(p.calls).toContain('saveReplica'); // the retirement was attempted (and failed)

    // Storage recovers: the retirement (snapshot under the new id, lease) is stored.
    p.failWrites = false;
    await waitFor('lease stored', () => p.replaced.includes(a.replicaId), 10_000);
    const fresh = a.replicaId;
    await a.close();
    const a2 = await open({ workflowId: wf, persistence: p, autoConnect: false });
    expect(a2.replicaId).toBe(fresh);
    expect(varNames(a2)).toEqual(['after', 'before', 'unstored']);
  }, 30_000);

  it('a reload of a stale local state is caught on Joined: the colliding edit is re-minted under a new id, nothing is lost', async () => {
    const wf = newWorkflow();
    const p = new FaultyPersistence();
    const a1 = await open({ workflowId: wf, persistence: p });
    const b = await open({ workflowId: wf, token: 'bob:Bob' });
    await Promise.all([live(a1), live(b)]);
    a1.applyWire('add', 'variable', { id: 'v0', name: 'stored', type: 'plain', value: 0 });
    await a1.whenSaved();
    const rid = a1.replicaId;
    // Storage breaks: the next edit reaches the server but not the disk, and
    // the retirement cannot be stored either. Then the page goes away.
    p.failWrites = true;
    a1.applyWire('add', 'variable', { id: 'v1', name: 'lost-locally', type: 'plain', value: 1 });
    await a1.whenSaved();
    await waitFor('b has v1', () => varNames(b).includes('lost-locally'));
    await a1.close();
    p.failWrites = false;

    // The reload finds the old id and a document without v1; an offline edit
    // mints the very dot v1 has on the server. Its Join context covers the
    // server's, so only the client can see the collision (Joined.ctx holds a
    // dot it neither loaded nor sent).
    const a2 = await open({ workflowId: wf, persistence: p, autoConnect: false });
    expect(a2.replicaId).toBe(rid);
    expect(varNames(a2)).toEqual(['stored']);
    const maxBefore = a2.doc.context().max(rid);
    a2.applyWire('add', 'variable', { id: 'v2', name: 'reused-dot', type: 'plain', value: 2 });
    const minted = a2.doc.context().max(rid);
    expect(minted).toBeGreaterThan(maxBefore);
    expect(b.doc.context().max(rid)).toBe(minted); // the server holds that very dot, with v1
    const rejects: RejectError[] = [];
    const errors: Error[] = [];
    a2.on('reject', (r) => rejects.push(r));
    a2.on('error', (e) => errors.push(e));
    a2.goOnline();
    await waitFor('new replica id', () => a2.replicaId !== rid);
    await a2.whenSaved();
    await live(a2);
    expect(errors.some((e) => e instanceof FlowsyncError && e.kind === 'replica-conflict')).toBe(true);
    expect(rejects).toEqual([]);
    // Every write is kept: the server's v1 under the old id, the offline edit under the new one.
    expect(varNames(a2)).toEqual(['lost-locally', 'reused-dot', 'stored']);
    await waitFor('b converges', () => varNames(b).join() === 'lost-locally,reused-dot,stored');
    expect(b.doc.context().max(rid)).toBe(minted); // the old id spent nothing more
    expect(b.doc.context().max(a2.replicaId)).toBeGreaterThan(0);
    expect(b.doc.encode()).toEqual(a2.doc.encode());
    // The new id and the re-minted state are stored: a reload finds them.
    await waitFor('lease stored', () => p.replaced.includes(a2.replicaId));
    const fresh = a2.replicaId;
    await a2.close();
    const a3 = await open({ workflowId: wf, persistence: p, autoConnect: false });
    expect(a3.replicaId).toBe(fresh);
    expect(varNames(a3)).toEqual(['lost-locally', 'reused-dot', 'stored']);
    expect(a3.status().pending).toBe(0);
  }, 30_000);

  it('a reload that lost more writes than it made is refused with REPLICA_BEHIND: the colliding edits move to a new id, nothing is lost', async () => {
    const wf = newWorkflow();
    const p = new FaultyPersistence();
    const a1 = await open({ workflowId: wf, persistence: p });
    const b = await open({ workflowId: wf, token: 'bob:Bob' });
    await Promise.all([live(a1), live(b)]);
    a1.applyWire('add', 'variable', { id: 'v0', name: 'stored', type: 'plain', value: 0 });
    await a1.whenSaved();
    const rid = a1.replicaId;
    p.failWrites = true;
    for (let i = 1; i <= 3; i++) a1.applyWire('add', 'variable', { id: `v${i}`, name: `lost${i}`, type: 'plain', value: i });
    await a1.whenSaved();
    await waitFor('b has the lost writes', () => varNames(b).length === 4);
    await a1.close();
    p.failWrites = false;

    // Two offline edits reuse two of the three dots the server holds.
    const a2 = await open({ workflowId: wf, persistence: p, autoConnect: false });
    expect(a2.replicaId).toBe(rid);
    a2.applyWire('add', 'variable', { id: 'w1', name: 'offline1', type: 'plain', value: 1 });
    a2.applyWire('variable-update', 'variable', { variableId: 'w1', field: 'name', value: 'offline2' });
    expect(a2.doc.context().max(rid)).toBeLessThan(b.doc.context().max(rid));
    const errors: Error[] = [];
    const rejects: RejectError[] = [];
    a2.on('error', (e) => errors.push(e));
    a2.on('reject', (r) => rejects.push(r));
    a2.goOnline();
    await waitFor('new replica id', () => a2.replicaId !== rid);
    await a2.whenSaved();
    await live(a2);
    expect(errors.some((e) => e instanceof FlowsyncError && e.kind === 'replica-conflict' && /REPLICA_BEHIND|refused the join/.test(e.message))).toBe(true);
    expect(rejects).toEqual([]);
    const want = 'lost1,lost2,lost3,offline2,stored';
    expect(varNames(a2).join()).toBe(want);
    await waitFor('b converges', () => varNames(b).join() === want);
    expect(b.doc.encode()).toEqual(a2.doc.encode());
  }, 30_000);
});

describe('remote changes are logged as deltas', () => {
  it('remote deltas are written to the log in batches, and a reload merges them', async () => {
    const wf = newWorkflow();
    const a = await open({ workflowId: wf });
    const pb = new FaultyPersistence();
    const b = await open({ workflowId: wf, token: 'bob:Bob', persistence: pb });
    await Promise.all([live(a), live(b)]);
    for (let i = 0; i < 5; i++) a.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'plain', value: i });
    await a.whenSaved();
    await waitFor('b has the edits', () => varNames(b).length === 5);
    const rid = b.replicaId;
    const want = b.doc.encode();
    // The log (batched: see the scripted test above) catches up with the document.
    await waitFor('every remote delta logged', async () => {
      const logged = new Doc();
      for (const l of (await pb.inner.load(wf, rid)).log) logged.merge(decodeDoc(l));
      const got = logged.encode();
      return got.length === want.length && got.every((x, i) => x === want[i]);
    });
    const st = await pb.inner.load(wf, rid);
    expect(st.doc).toBeNull(); // no snapshot yet: only deltas were written
    pb.crash(rid); // no close, no snapshot
    const b2 = await open({ workflowId: wf, persistence: pb, autoConnect: false });
    expect(b2.replicaId).toBe(rid);
    expect(b2.doc.encode()).toEqual(want);
  }, 30_000);
});

describe('receipts against the real server', () => {
  it('relayed deltas are kept with their receipts until the room says they are durable (Stable), and storage ends without them', async () => {
    const wf = newWorkflow();
    const a = await open({ workflowId: wf });
    const pb = new FaultyPersistence();
    const b = await open({ workflowId: wf, token: 'bob:Bob', persistence: pb });
    await Promise.all([live(a), live(b)]);
    let most = 0;
    b.on('change', () => (most = Math.max(most, b.receipts().items)));
    for (let i = 0; i < 5; i++) a.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'plain', value: i });
    await a.whenSaved();
    await waitFor('b has the edits', () => varNames(b).length === 5);
    expect(most).toBeGreaterThan(0); // kept while not durable
    await waitFor('Stable frees them', () => b.receipts().items === 0);
    expect(b.receipts()).toMatchObject({ dropped: 0, refused: 0 });
    await pb.settled();
    expect((await pb.inner.load(wf, b.replicaId)).receipts).toEqual([]);
  }, 30_000);
});

describe('stale local state without colliding edits', () => {
  it('a reload that lost writes but has no new edits is refused with REPLICA_BEHIND, takes a new id and catches up', async () => {
    const wf = newWorkflow();
    const p = new FaultyPersistence();
    const a1 = await open({ workflowId: wf, persistence: p });
    await live(a1);
    a1.applyWire('add', 'variable', { id: 'v0', name: 'stored', type: 'plain', value: 0 });
    await a1.whenSaved();
    const rid = a1.replicaId;
    p.failWrites = true;
    a1.applyWire('add', 'variable', { id: 'v1', name: 'lost-locally', type: 'plain', value: 1 });
    await a1.whenSaved();
    await a1.close();
    p.failWrites = false;

    const a2 = await open({ workflowId: wf, persistence: p });
    expect(a2.replicaId).toBe(rid);
    const rejects: RejectError[] = [];
    const errors: Error[] = [];
    a2.on('reject', (r) => rejects.push(r));
    a2.on('error', (e) => errors.push(e));
    await waitFor('new replica id', () => a2.replicaId !== rid);
    await live(a2);
    expect(rejects).toEqual([]);
    expect(errors.some((e) => e instanceof FlowsyncError && e.kind === 'replica-conflict')).toBe(true);
    expect(varNames(a2)).toEqual(['lost-locally', 'stored']); // the catch-up filled the gap
    a2.applyWire('add', 'variable', { id: 'v2', name: 'next', type: 'plain', value: 2 });
    await a2.whenSaved();
    expect(a2.doc.context().max(a2.replicaId)).toBeGreaterThan(0);
    // The new id is stored: a reload gets it and the whole document.
    const fresh = a2.replicaId;
    await waitFor('lease stored', () => p.replaced.includes(a2.replicaId));
    await a2.close();
    const a3 = await open({ workflowId: wf, persistence: p, autoConnect: false });
    expect(a3.replicaId).toBe(fresh);
    expect(varNames(a3)).toEqual(['lost-locally', 'next', 'stored']);
  }, 30_000);
});

describe('workflow deletion (admin API)', () => {
  it("a deleted workflow emits 'event' workflow-deleted, drops the outbox and refuses edits", async () => {
    const wf = newWorkflow();
    const p = new FaultyPersistence();
    const a = await open({ workflowId: wf, persistence: p });
    await live(a);
    a.applyWire('add', 'variable', { id: 'v0', name: 'x', type: 'plain', value: 0 });
    await a.whenSaved();
    const events: { kind: string }[] = [];
    const errors: Error[] = [];
    a.on('event', (e) => events.push(e));
    a.on('error', (e) => errors.push(e));
    const rid = a.replicaId;
    const r = await fetch(`${server.httpBase}/admin/v1/workflows/${wf}`, { method: 'DELETE', headers: { Authorization: `Bearer ${adminSecret}` } });
    expect(r.status).toBe(200);
    await waitFor('workflow-deleted', () => events.some((e) => e.kind === 'workflow-deleted'));
    expect(() => a.applyWire('add', 'variable', { id: 'v1', name: 'y', type: 'plain', value: 1 })).toThrow(
      expect.objectContaining({ kind: 'workflow-deleted' }),
    );
    expect(a.status().pending).toBe(0);
    await waitFor('stored state dropped', () => p.calls.includes('dropReplica'));
    const st = await p.inner.load(wf, rid);
    expect(st).toEqual({ doc: null, log: [], outbox: [], nextSeq: 1, receipts: [] });
    // The client is in the deleted state for good: it does not reconnect.
    expect(a.status()).toMatchObject({ state: 'deleted', label: 'deleted' });
    a.goOnline();
    expect(a.status().state).toBe('deleted');
  }, 30_000);
});

describe('NOT_JOINED (admin API role changes)', () => {
  const setRole = (user: string, wf: string, role: string) =>
    fetch(`${server.httpBase}/admin/v1/users/${user}/roles`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${adminSecret}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ workflowId: wf, role }),
    });

  it('an edit refused with NOT_JOINED after a revocation reconnects and rejoins; once access is back the edit is delivered', async () => {
    const wf = newWorkflow();
    const a = await open({ workflowId: wf, token: 'carl:Carl' });
    const b = await open({ workflowId: wf, token: 'dora:Dora' });
    await Promise.all([live(a), live(b)]);
    const events: string[] = [];
    const nacks: string[] = [];
    const errors: Error[] = [];
    a.on('event', (e) => events.push(e.kind));
    a.on('nack', (n) => nacks.push(n.codeName));
    a.on('error', (e) => errors.push(e));
    expect((await setRole('carl', wf, 'none')).status).toBe(200);
    await waitFor('access-revoked', () => events.includes('access-revoked'));

    // The session stays open but is no longer in the room: the edit is
    // refused with NOT_JOINED, the client reconnects and its Join is refused.
    a.applyWire('add', 'variable', { id: 'v0', name: 'while-revoked', type: 'plain', value: 0 });
    await waitFor('NOT_JOINED', () => nacks.includes('NOT_JOINED'));
    await waitFor('refused join', () => errors.some((e) => e instanceof FlowsyncError && e.kind === 'server' && /ACCESS_DENIED/.test(`${(e as { codeName?: string }).codeName ?? ''} ${e.message}`)));
    expect(a.status().state).toBe('closed');
    expect(a.status().pending).toBe(1); // kept, not dropped
    expect(varNames(b)).toEqual([]);

    // Access back: going online rejoins and resends the queued edit.
    expect((await setRole('carl', wf, 'write')).status).toBe(200);
    a.goOnline();
    await a.whenSaved();
    await waitFor('b has the edit', () => varNames(b).join() === 'while-revoked');
    expect(a.role).toBe('write');
  }, 30_000);
});
