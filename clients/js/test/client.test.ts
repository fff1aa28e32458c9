// FlowsyncClient against a real flowsync server (the Go binary, built once):
// convergence, offline edits, reload from IndexedDB, durable acks, a
// read-only user's refused edit rolled back (PROTOCOL.md §9), retryable
// Nacks resent, a server restart survived, a refused token not retried.
//
// Set FLOWSYNC_BIN to a prebuilt binary to skip `go build`.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CloseError,
  FlowsyncClient,
  RejectError,
  ServerError,
  type FlowsyncClientOptions,
  type SyncStatus,
} from '../src/index';
import { TestLocks, varNames, waitFor } from './helpers';
import { buildServer, TestServer } from './server';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowsync-js-client-'));
const secret = 'test-secret-that-is-at-least-32-bytes-long!';
const audience = 'flowsync-test';

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

/** jwt mints an HS256 token (README "Authentication"). */
function jwt(claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const body = { aud: audience, iat: now, exp: now + 600, ...claims };
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })) + '.' + b64url(JSON.stringify(body));
  return head + '.' + b64url(createHmac('sha256', secret).update(head).digest());
}


/**
 * A TCP proxy in front of a server whose connections can be frozen: bytes
 * stop flowing both ways but nothing is closed, as when a laptop sleeps or a
 * NAT forgets the connection. New connections pass normally.
 */
class FreezableProxy {
  private readonly server = net.createServer((client) => {
    const upstream = net.connect(this.target, '127.0.0.1');
    const pair = { client, upstream, frozen: false };
    this.pairs.push(pair);
    client.on('data', (b) => {
      if (!pair.frozen) upstream.write(b);
    });
    upstream.on('data', (b) => {
      if (!pair.frozen) client.write(b);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  private readonly pairs: { client: net.Socket; upstream: net.Socket; frozen: boolean }[] = [];
  port = 0;
  constructor(private readonly target: number) {}
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/sync`;
  }
  /** freeze stops every connection open now; returns how many. */
  freeze(): number {
    for (const p of this.pairs) p.frozen = true;
    return this.pairs.length;
  }
  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const dev = new TestServer('dev', ['--dev'], tmp);
const auth = new TestServer('jwt', ['--jwt-audience', audience], tmp);
// Every client frame counts against --frames-per-second, Hello and Join included, which the
// client's own pacing (from Welcome's lim.ops/burst) does not count: its first deltas overrun.
const throttled = new TestServer('throttled', ['--dev', '--frames-per-second', '4', '--frame-burst', '4'], tmp);
// --store memory forgets everything on restart: the rejoined server lacks
// deltas it once called durable, as a cluster node can (PROTOCOL.md §9).
const forgetful = new TestServer('forgetful', ['--dev', '--store', 'memory'], tmp);
const clients: FlowsyncClient[] = [];
let wfSeq = 0;
const newWorkflow = () => `wf-${process.pid}-${++wfSeq}`;

async function open(server: TestServer, opts: Partial<FlowsyncClientOptions> & { workflowId: string }): Promise<FlowsyncClient> {
  const c = await FlowsyncClient.open({
    url: server.url,
    token: 'u1:Ann',
    persistence: 'memory',
    WebSocket, // the ws package, no cast needed
    backoff: { baseMs: 50, capMs: 400 },
    ...opts,
  });
  clients.push(c);
  return c;
}

const live = (c: FlowsyncClient) => waitFor(`${c.replicaId} live`, () => c.status().state === 'live');

beforeAll(async () => {
  const bin = buildServer(tmp);
  const secretFile = path.join(tmp, 'jwt-secret');
  writeFileSync(secretFile, secret + '\n');
  auth.args.push('--jwt-secret-file', secretFile);
  await Promise.all([dev.start(bin), auth.start(bin), throttled.start(bin), forgetful.start(bin)]);
}, 300_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await Promise.all([dev.stop(), auth.stop(), throttled.stop(), forgetful.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('FlowsyncClient against a real server', () => {
  it('two clients converge, acks turn pending into saved, presence and drag are relayed', async () => {
    const wf = newWorkflow();
    const a = await open(dev, { workflowId: wf, token: 'ann:Ann' });
    const b = await open(dev, { workflowId: wf, token: 'bob:Bob' });
    await Promise.all([live(a), live(b)]);
    expect(a.sessionId).not.toBe('');
    expect(a.user).toEqual({ id: 'ann', name: 'Ann' });
    expect(a.role).toBe('admin');

    const statuses: SyncStatus[] = [];
    a.on('status', (s) => statuses.push(s));
    const remote: boolean[] = [];
    b.on('change', (_d, isRemote) => remote.push(isRemote));

    a.applyWire('add', 'variable', { id: 'v1', name: 'apiKey', type: 'plain', value: 'x' });
    expect(a.status().pending).toBe(1);
    expect(varNames(a)).toEqual(['apiKey']);
    await a.whenSaved();
    expect(a.status()).toMatchObject({ state: 'live', pending: 0, unacked: 0, label: 'saved' });
    expect(statuses.map((s) => s.label)).toContain('saving (1)');
    expect(statuses[statuses.length - 1].label).toBe('saved');

    await waitFor('b sees v1', () => varNames(b).includes('apiKey'));
    expect(remote).toContain(true);
    b.applyWire('variable-update', 'variable', { variableId: 'v1', field: 'name', value: 'token' });
    await waitFor('a sees the rename', () => varNames(a).includes('token'));
    await b.whenSaved();
    expect(a.doc.encode()).toEqual(b.doc.encode());

    // Presence and drag: B sees A's cursor, selection and dragged block.
    await waitFor('roster of 2', () => b.roster().length === 2);
    const presence: unknown[] = [];
    const drags: unknown[] = [];
    b.on('presence', (p) => presence.push(p));
    b.on('drag', (d) => drags.push(d));
    a.setPresence({ cursor: { x: 10, y: 20 }, selection: { t: 'block', id: 'b1' } });
    a.drag({ b1: { x: 5, y: 6 } });
    await waitFor('presence', () => presence.length > 0 && drags.length > 0);
    expect(presence[presence.length - 1]).toMatchObject({ sid: a.sessionId, uid: 'ann', name: 'Ann', cur: { x: 10, y: 20 }, sel: { t: 'block', id: 'b1' } });
    expect(drags[drags.length - 1]).toEqual({ sid: a.sessionId, uid: 'ann', pos: { b1: { x: 5, y: 6 } } });
    expect(b.roster().find((r) => r.sid === a.sessionId)).toMatchObject({ uid: 'ann', cur: { x: 10, y: 20 }, sel: { t: 'block', id: 'b1' } });

    // Throttled: a burst of 20 updates is sent as at most a few frames, the
    // latest last; frames are relayed in order, so once the latest is in,
    // every frame of the burst is (client-unit.test.ts counts them exactly).
    presence.length = 0;
    for (let i = 1; i <= 20; i++) a.setPresence({ cursor: { x: i, y: i } });
    await waitFor('latest cursor', () => presence.length > 0 && (presence[presence.length - 1] as { cur: { x: number } }).cur.x === 20);
    expect(presence.length).toBeLessThanOrEqual(3);
  });

  it('concurrent offline edits on both sides converge to the same document', async () => {
    const wf = newWorkflow();
    const a = await open(dev, { workflowId: wf });
    const b = await open(dev, { workflowId: wf, token: 'bob:Bob' });
    await Promise.all([live(a), live(b)]);
    a.applyWire('add', 'variable', { id: 'v1', name: 'shared', type: 'plain', value: 0 });
    await a.whenSaved();
    await waitFor('b has v1', () => varNames(b).includes('shared'));
    a.goOffline();
    b.goOffline();
    a.applyWire('variable-update', 'variable', { variableId: 'v1', field: 'name', value: 'from-a' });
    a.applyWire('add', 'variable', { id: 'va', name: 'only-a', type: 'plain', value: 1 });
    b.applyWire('variable-update', 'variable', { variableId: 'v1', field: 'name', value: 'from-b' });
    b.applyWire('remove', 'variable', { variableId: 'v1' });
    b.applyWire('add', 'variable', { id: 'vb', name: 'only-b', type: 'plain', value: 2 });
    a.goOnline();
    b.goOnline();
    await Promise.all([a.whenSaved(), b.whenSaved()]);
    await waitFor('same bytes', () => {
      const x = a.doc.encode();
      const y = b.doc.encode();
      return x.length === y.length && x.every((v, i) => v === y[i]);
    });
    expect(varNames(a)).toEqual(varNames(b));
    expect(varNames(a)).toEqual(expect.arrayContaining(['only-a', 'only-b']));
  });

  it('edits made offline are queued and delivered after goOnline', async () => {
    const wf = newWorkflow();
    const a = await open(dev, { workflowId: wf });
    const b = await open(dev, { workflowId: wf, token: 'bob:Bob' });
    await Promise.all([live(a), live(b)]);
    a.goOffline();
    expect(a.status().state).toBe('offline');
    for (let i = 0; i < 3; i++) a.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'plain', value: i });
    // That nothing leaves an offline client and it does not reconnect by itself
    // is timed in client-unit.test.ts (fake timers); here: delivery on goOnline.
    expect(a.status()).toMatchObject({ state: 'offline', pending: 3, label: 'offline (3 pending)' });
    expect(varNames(b)).toEqual([]);
    a.goOnline();
    await a.whenSaved();
    await waitFor('b has the offline edits', () => varNames(b).length === 3);
    expect(varNames(b)).toEqual(['n0', 'n1', 'n2']);
  });

  it('a reload while offline restores the document and the outbox from IndexedDB', async () => {
    const wf = newWorkflow();
    const dbName = `reload-${wf}`;
    const locks = new TestLocks();
    const idb = { persistence: 'indexeddb' as const, dbName, locks };
    const a1 = await open(dev, { workflowId: wf, ...idb });
    const b = await open(dev, { workflowId: wf, token: 'bob:Bob' });
    await Promise.all([live(a1), live(b)]);
    a1.applyWire('add', 'variable', { id: 'v0', name: 'before', type: 'plain', value: 0 });
    await a1.whenSaved();
    a1.goOffline();
    a1.applyWire('add', 'variable', { id: 'v1', name: 'offline1', type: 'plain', value: 1 });
    a1.applyWire('variable-update', 'variable', { variableId: 'v0', field: 'name', value: 'renamed' });
    const rid = a1.replicaId;
    await a1.close(); // the page unloads: its lock is released

    const a2 = await open(dev, { workflowId: wf, ...idb, autoConnect: false });
    expect(a2.replicaId).toBe(rid);
    expect(a2.status()).toMatchObject({ state: 'offline', pending: 2, label: 'offline (2 pending)' });
    expect(varNames(a2)).toEqual(['offline1', 'renamed']); // shown at once, before any connection
    expect(varNames(b)).toEqual(['before']);

    a2.goOnline();
    await a2.whenSaved();
    await waitFor('b converges', () => varNames(b).join() === 'offline1,renamed');
    await b.whenSaved();
    expect(a2.doc.encode()).toEqual(b.doc.encode());
    await a2.close();

    // Durable acks emptied the stored outbox too.
    const a3 = await open(dev, { workflowId: wf, ...idb, autoConnect: false });
    expect(a3.replicaId).toBe(rid);
    expect(a3.status().pending).toBe(0);
    expect(varNames(a3)).toEqual(['offline1', 'renamed']);
  });

  it("a read-only user's edit is refused by the server and rolled back", async () => {
    const wf = newWorkflow();
    let minted = 0;
    const writer = await open(auth, {
      workflowId: wf,
      token: '',
      getToken: async () => (minted++, jwt({ sub: 'w', name: 'Writer', roles: { '*': 'write' } })),
    });
    await live(writer);
    expect(minted).toBe(1);
    expect(writer.user).toEqual({ id: 'w', name: 'Writer' });
    expect(writer.role).toBe('write');
    writer.applyWire('add', 'variable', { id: 'v1', name: 'original', type: 'plain', value: 1 });
    await writer.whenSaved();

    const reader = await open(auth, { workflowId: wf, token: jwt({ sub: 'r', name: 'Reader', roles: { [wf]: 'read' } }) });
    await live(reader);
    await waitFor('reader caught up', () => varNames(reader).includes('original'));
    expect(reader.role).toBe('read');
    const oldReplica = reader.replicaId;
    const rejects: RejectError[] = [];
    const changes: boolean[] = [];
    reader.on('reject', (e) => rejects.push(e));

    // Not refused locally: the server is the authority on roles.
    reader.applyWire('variable-update', 'variable', { variableId: 'v1', field: 'name', value: 'hacked' });
    expect(varNames(reader)).toEqual(['hacked']);
    reader.on('change', (_d, remote) => changes.push(remote));
    await waitFor('reject', () => rejects.length === 1);
    expect(rejects[0]).toBeInstanceOf(RejectError);
    expect(rejects[0]).toMatchObject({ codeName: 'PERMISSION_DENIED', code: 14, retryable: false, kind: 'rejected' });
    // The refusal is kept and shown: never "saved" while the local document holds it.
    expect(reader.status()).toMatchObject({ pending: 0, rejected: 1 });
    expect(reader.status().label).not.toBe('saved');
    expect(varNames(reader)).toEqual(['hacked']);

    // reset rolls it back: a new replica id, the server's state.
    reader.reset();
    expect(reader.replicaId).not.toBe(oldReplica);
    expect(reader.status()).toMatchObject({ pending: 0, rejected: 0 });
    expect(varNames(reader)).toEqual(['hacked']); // until the catch-up completes the old state stays on screen (no empty flash)
    await waitFor('rolled back', () => varNames(reader).join() === 'original' && reader.status().state === 'live');
    expect(changes).toContain(true);
    expect(reader.status().label).toBe('saved');
    // The refused edit never reached the writer: an edit the writer makes now
    // is answered after everything the server relayed to it before.
    writer.applyWire('add', 'variable', { id: 'v2', name: 'later', type: 'plain', value: 2 });
    await writer.whenSaved();
    expect(varNames(writer)).toEqual(['later', 'original']);
  });

  it('a refused token closes for good (4500), without reconnecting', async () => {
    const c = await open(auth, { workflowId: newWorkflow(), token: 'not-a-jwt' });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await waitFor('closed', () => c.status().state === 'closed');
    const ce = errors.find((e) => e instanceof CloseError) as CloseError;
    expect(ce.closeCode).toBe(4500);
    expect(ce.last?.codeName).toBe('AUTHENTICATION_FAILED');
    // No reconnect is scheduled (client-unit.test.ts checks it on fake timers).
    expect(c.status()).toMatchObject({ state: 'closed', attempt: 0 });
  });

  it('a refused Join (ACCESS_DENIED) stops the client with a ServerError', async () => {
    const c = await open(auth, { workflowId: newWorkflow(), token: jwt({ sub: 'x', roles: { 'some-other-workflow': 'write' } }) });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await waitFor('closed', () => c.status().state === 'closed');
    const se = errors.find((e) => e instanceof ServerError) as ServerError;
    expect(se).toMatchObject({ codeName: 'ACCESS_DENIED', retryable: false, kind: 'server' });
    expect(c.role).toBeNull();
  });

  it('a retryable Nack (RATE_LIMITED) resends the same edit after backoff', async () => {
    const wf = newWorkflow();
    const a = await open(throttled, { workflowId: wf });
    await live(a);
    const nacks: Array<{ codeName: string; retryable: boolean }> = [];
    a.on('nack', (n) => nacks.push(n));
    const big = 'x'.repeat(400);
    // Type object keeps the values last-writer-wins, as this test was
    // written for: a plain variable's value is a text now, and with texts
    // this burst drew no RATE_LIMITED Nack (every edit still arrived).
    for (let i = 0; i < 10; i++) a.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'object', value: big });
    await a.whenSaved();
    expect(nacks.length).toBeGreaterThan(0);
    expect(nacks.every((n) => n.codeName === 'RATE_LIMITED' && n.retryable)).toBe(true);
    const b = await open(throttled, { workflowId: wf, token: 'bob:Bob' });
    await live(b);
    await waitFor('b has all ten', () => varNames(b).length === 10);
  }, 30_000);

  it('survives a server restart: reconnects with backoff, delivers edits made while it was down', async () => {
    const wf = newWorkflow();
    const a = await open(dev, { workflowId: wf });
    const b = await open(dev, { workflowId: wf, token: 'bob:Bob' });
    await Promise.all([live(a), live(b)]);
    a.applyWire('add', 'variable', { id: 'v0', name: 'kept', type: 'plain', value: 0 });
    await a.whenSaved();

    await dev.stop('SIGKILL');
    await waitFor('a offline and retrying', () => a.status().state !== 'live' && a.status().attempt >= 2);
    a.applyWire('add', 'variable', { id: 'v1', name: 'during', type: 'plain', value: 1 });
    expect(a.status().pending).toBe(1);

    await dev.start();
    await waitFor('a live again', () => a.status().state === 'live', 15_000);
    expect(a.status().attempt).toBe(0);
    await a.whenSaved();
    await waitFor('b converges after restart', () => varNames(b).join() === 'during,kept', 15_000);
  }, 40_000);

  it('replaces a connection that stops answering (ack watchdog) and delivers the edit', async () => {
    const wf = newWorkflow();
    const proxy = new FreezableProxy(dev.port);
    await proxy.start();
    try {
      const a = await FlowsyncClient.open({
        url: proxy.url,
        token: 'u1:Ann',
        workflowId: wf,
        persistence: 'memory',
        WebSocket,
        backoff: { baseMs: 50, capMs: 400 },
        ackTimeoutMs: 500,
      });
      clients.push(a);
      const b = await open(dev, { workflowId: wf, token: 'bob:Bob' });
      await Promise.all([live(a), live(b)]);
      const errors: string[] = [];
      a.on('error', (e) => errors.push((e as { kind?: string }).kind ?? String(e)));

      expect(proxy.freeze()).toBe(1);
      a.applyWire('add', 'variable', { id: 'v0', name: 'through-a-dead-link', type: 'plain', value: 0 });
      expect(a.status().pending).toBe(1);
      await waitFor('a timeout error', () => errors.includes('timeout'), 5_000);
      await a.whenSaved();
      await waitFor('b has the edit', () => varNames(b).join() === 'through-a-dead-link');
    } finally {
      await proxy.stop();
    }
  }, 20_000);

  it('resends recent durable deltas that a rejoined server lacks', async () => {
    const wf = newWorkflow();
    const a = await open(forgetful, { workflowId: wf });
    await live(a);
    a.applyWire('add', 'variable', { id: 'v0', name: 'durable-once', type: 'plain', value: 0 });
    await a.whenSaved();
    expect(a.status().pending).toBe(0);

    await forgetful.stop('SIGKILL');
    await forgetful.start(); // same port, empty memory store
    await waitFor('a rejoined', () => a.status().state === 'live' && a.status().attempt === 0, 15_000);
    await a.whenSaved();
    const b = await open(forgetful, { workflowId: wf, token: 'bob:Bob' });
    await live(b);
    await waitFor('b sees the resent delta', () => varNames(b).join() === 'durable-once', 15_000);
  }, 40_000);
});
