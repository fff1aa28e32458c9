// FlowsyncClient without a server: option checks, local refusals, backoff,
// status labels, and the restore of a saved outbox (memory persistence).
import { describe, expect, it } from 'vitest';
import {
  Backoff,
  FlowsyncClient,
  FlowsyncError,
  MemoryPersistence,
  statusLabel,
  WorkflowError,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../src/index';

/** A websocket that never opens: enough for offline behaviour. */
class DeadSocket implements WebSocketLike {
  static opened = 0;
  static last: DeadSocket | null = null;
  binaryType = 'blob';
  readyState = 0;
  onopen = null;
  onmessage = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror = null;
  constructor(readonly url: string) {
    DeadSocket.opened++;
    DeadSocket.last = this;
  }
  send(): void {
    throw new Error('not open');
  }
  close(): void {
    this.readyState = 3;
  }
}
const WS = DeadSocket as unknown as WebSocketConstructor;
const base = { url: 'ws://127.0.0.1:1/v1/sync', token: 't', workflowId: 'wf', WebSocket: WS, persistence: 'memory' as const, autoConnect: false };

async function kind(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e instanceof FlowsyncError ? e.kind : `other: ${(e as Error).message}`;
  }
  return 'no error';
}

describe('FlowsyncClient.open options', () => {
  it('refuses invalid options with a config error', async () => {
    expect(await kind(FlowsyncClient.open({ ...base, url: 'http://x' }))).toBe('config');
    expect(await kind(FlowsyncClient.open({ ...base, workflowId: '' }))).toBe('config');
    expect(await kind(FlowsyncClient.open({ ...base, workflowId: 'x'.repeat(257) }))).toBe('config');
    expect(await kind(FlowsyncClient.open({ ...base, token: undefined as unknown as string }))).toBe('config');
    expect(await kind(FlowsyncClient.open({ ...base, WebSocket: undefined }))).toBe('config'); // Node 20 has no global WebSocket
    expect(await kind(FlowsyncClient.open({ ...base, persistence: 'cookies' as 'memory' }))).toBe('config');
  });

  it('autoConnect false stays offline; goOnline dials; goOffline stops', async () => {
    DeadSocket.opened = 0;
    const c = await FlowsyncClient.open(base);
    expect(c.status()).toEqual({ state: 'offline', pending: 0, unacked: 0, attempt: 0, label: 'offline' });
    expect(c.sessionId).toBe('');
    expect(c.user).toBeNull();
    expect(c.role).toBeNull();
    expect(DeadSocket.opened).toBe(0);
    c.goOnline();
    expect(DeadSocket.opened).toBe(1);
    expect(c.status().state).toBe('connecting');
    c.goOffline();
    expect(c.status().state).toBe('offline');
    await c.close();
    expect(c.status().state).toBe('closed');
  });
});

describe('reconnecting', () => {
  it("the browser's 'online' event reconnects at once instead of waiting out the backoff", async () => {
    const handlers = new Map<string, () => void>();
    const g = globalThis as { addEventListener?: unknown; removeEventListener?: unknown };
    g.addEventListener = (t: string, fn: () => void) => handlers.set(t, fn);
    g.removeEventListener = (t: string) => handlers.delete(t);
    try {
      DeadSocket.opened = 0;
      const c = await FlowsyncClient.open({ ...base, autoConnect: true, backoff: { baseMs: 60_000, capMs: 60_000 } });
      expect(DeadSocket.opened).toBe(1);
      DeadSocket.last!.onclose!({ code: 1006, reason: '' }); // the network dropped
      expect(c.status()).toMatchObject({ state: 'offline', attempt: 1 });
      await new Promise((r) => setTimeout(r, 20));
      expect(DeadSocket.opened).toBe(1); // waiting out up to 60 s
      handlers.get('online')!();
      expect(DeadSocket.opened).toBe(2);
      expect(c.status()).toMatchObject({ state: 'connecting', attempt: 0 });
      // A terminal close code stops reconnecting, even on 'online'.
      const errors: Error[] = [];
      c.on('error', (e) => errors.push(e));
      DeadSocket.last!.onclose!({ code: 4500, reason: 'authentication failed' });
      expect(c.status().state).toBe('closed');
      expect(errors[0]).toMatchObject({ kind: 'connection-closed', closeCode: 4500 });
      handlers.get('online')!();
      expect(DeadSocket.opened).toBe(2);
      await c.close();
      expect(handlers.has('online')).toBe(false);
    } finally {
      delete g.addEventListener;
      delete g.removeEventListener;
    }
  });
});

describe('local edits', () => {
  it('apply updates the view and the outbox at once; a locally refused op changes nothing', async () => {
    const c = await FlowsyncClient.open(base);
    const changes: boolean[] = [];
    c.on('change', (_d, remote) => changes.push(remote));
    c.applyWire('add', 'variable', { id: 'v1', name: 'a', type: 'plain', value: 1 });
    expect(Object.values(c.view().variables).map((v) => v.name)).toEqual(['a']);
    expect(c.status()).toMatchObject({ pending: 1, unacked: 1, label: 'offline (1 pending)' });
    expect(changes).toEqual([false]);
    const before = c.doc.encode();
    expect(() => c.applyWire('variable-update', 'variable', { variableId: 'nope', field: 'name', value: 'x' })).toThrow(WorkflowError);
    expect(() => c.applyWire('no-such-op', 'block', {})).toThrow(WorkflowError);
    expect(c.doc.encode()).toEqual(before);
    expect(c.status().pending).toBe(1);
    await c.close();
    expect(await kind(() => c.applyWire('add', 'variable', { id: 'v2', name: 'b', type: 'plain', value: 1 }))).toBe('closed');
    expect(await kind(() => c.setPresence({ cursor: null }))).toBe('closed');
  });

  it('presence and drag arguments are checked', async () => {
    const c = await FlowsyncClient.open(base);
    expect(await kind(() => c.setPresence({ cursor: { x: NaN, y: 0 } }))).toBe('invalid-argument');
    expect(await kind(() => c.setPresence({ selection: { t: 'block' } }))).toBe('invalid-argument');
    expect(await kind(() => c.setPresence({ selection: { t: 'none', id: 'b' } }))).toBe('invalid-argument');
    expect(await kind(() => c.setPresence({ selection: { t: 'circle' as 'none' } }))).toBe('invalid-argument');
    expect(await kind(() => c.drag({ '': { x: 1, y: 2 } }))).toBe('invalid-argument');
    expect(await kind(() => c.drag({ b1: { x: 1, y: Infinity } }))).toBe('invalid-argument');
    c.setPresence({ cursor: { x: 1, y: 2 }, selection: { t: 'none' } }); // valid, queued until joined
    c.drag({ b1: { x: 1, y: 2 } }); // not connected: dropped silently
    await c.close();
  });

  it('a shared persistence restores the document and outbox, and the replica id, on the next open', async () => {
    const p = new MemoryPersistence();
    const a = await FlowsyncClient.open({ ...base, persistence: p });
    a.applyWire('add', 'variable', { id: 'v1', name: 'kept', type: 'plain', value: 1 });
    a.applyWire('add', 'variable', { id: 'v2', name: 'also', type: 'plain', value: 2 });
    const rid = a.replicaId;
    // A second live client of the same storage gets a different replica id.
    const other = await FlowsyncClient.open({ ...base, persistence: p });
    expect(other.replicaId).not.toBe(rid);
    expect(other.status().pending).toBe(0);
    await other.close();
    await a.close();
    const b = await FlowsyncClient.open({ ...base, persistence: p });
    expect(b.replicaId).toBe(rid);
    expect(b.status().pending).toBe(2);
    expect(Object.values(b.view().variables).map((v) => v.name).sort()).toEqual(['also', 'kept']);
    // Editing continues on top of the restored state.
    b.applyWire('variable-update', 'variable', { variableId: 'v1', field: 'name', value: 'renamed' });
    expect(Object.values(b.view().variables).map((v) => v.name).sort()).toEqual(['also', 'renamed']);
    await b.close();
  });

  it('whenSaved resolves at once when nothing is pending and rejects on close otherwise', async () => {
    const c = await FlowsyncClient.open(base);
    await c.whenSaved();
    c.applyWire('add', 'variable', { id: 'v1', name: 'a', type: 'plain', value: 1 });
    const w = c.whenSaved();
    await c.close();
    expect(await kind(w)).toBe('closed');
  });
});

describe('Backoff and status labels', () => {
  it('windows double from base to cap; delays are full jitter within the window', () => {
    const b = new Backoff();
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((n) => b.window(n))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(b.delay(3, () => 0)).toBe(0);
    expect(b.delay(3, () => 0.999999999)).toBe(8000);
    for (let i = 0; i < 100; i++) {
      const d = b.delay(2);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(4000);
    }
    expect(new Backoff({ baseMs: 50, capMs: 20 }).window(3)).toBe(50); // cap never below base
  });

  it('labels', () => {
    expect(statusLabel('live', 0)).toBe('saved');
    expect(statusLabel('live', 2)).toBe('saving (2)');
    expect(statusLabel('offline', 3)).toBe('offline (3 pending)');
    expect(statusLabel('connecting', 0)).toBe('connecting');
  });
});
