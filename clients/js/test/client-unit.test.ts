// FlowsyncClient without a server: option checks, local refusals, backoff,
// status labels, the restore of a saved outbox (memory persistence), and
// what takes time — reconnects, throttling, staying offline — on fake
// timers against a scripted socket.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Backoff,
  FlowsyncClient,
  FlowsyncError,
  MemoryPersistence,
  PresenceIntervalMs,
  statusLabel,
  WorkflowError,
  type WebSocketConstructor,
  type RenameEvent,
  type WebSocketLike,
} from '../src/index';
import { Clock } from '../src/crdt/hlc';
import { apply } from '../src/workflow/builder';
import { Doc } from '../src/workflow/doc';
import { parseOp } from '../src/workflow/parse';
import { Code, FrameType, MaxDragBlocks } from '../src/protocol';
import { ScriptedServer } from './scripted';

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
    expect(c.status()).toEqual({ state: 'offline', pending: 0, unacked: 0, rejected: 0, attempt: 0, label: 'offline' });
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

describe('reconnecting (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("reconnects after the backoff; the browser's 'online' event at once; a terminal close code never", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // every backoff is half its window
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
      await vi.advanceTimersByTimeAsync(29_999);
      expect(DeadSocket.opened).toBe(1); // the backoff is 30 s
      await vi.advanceTimersByTimeAsync(1);
      expect(DeadSocket.opened).toBe(2);
      expect(c.status()).toMatchObject({ state: 'connecting', attempt: 1 });
      DeadSocket.last!.onclose!({ code: 1006, reason: '' });
      expect(c.status()).toMatchObject({ state: 'offline', attempt: 2 });
      handlers.get('online')!(); // the network is back: no need to wait out 30 s
      expect(DeadSocket.opened).toBe(3);
      expect(c.status()).toMatchObject({ state: 'connecting', attempt: 0 });
      // A terminal close code stops reconnecting, even on 'online'.
      const errors: Error[] = [];
      c.on('error', (e) => errors.push(e));
      DeadSocket.last!.onclose!({ code: 4500, reason: 'authentication failed' });
      expect(c.status().state).toBe('closed');
      expect(errors[0]).toMatchObject({ kind: 'connection-closed', closeCode: 4500 });
      handlers.get('online')!();
      await vi.advanceTimersByTimeAsync(10 * 60_000);
      expect(DeadSocket.opened).toBe(3);
      expect(c.status()).toMatchObject({ state: 'closed', attempt: 0 });
      await c.close();
      expect(handlers.has('online')).toBe(false);
    } finally {
      delete g.addEventListener;
      delete g.removeEventListener;
    }
  });

  it('offline, edits queue: nothing is sent and nothing dialed however long it waits; goOnline sends them', async () => {
    vi.useFakeTimers();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket, backoff: { baseMs: 50, capMs: 400 } });
    c.goOnline();
    server.last.join();
    expect(c.status().state).toBe('live');
    c.goOffline();
    expect(server.last.closedWith).toEqual({ code: 1000, reason: 'going offline' });
    for (let i = 0; i < 3; i++) c.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'plain', value: i });
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(server.sockets).toHaveLength(1);
    expect(server.last.sentOf(FrameType.Delta)).toEqual([]);
    expect(c.status()).toMatchObject({ state: 'offline', pending: 3, attempt: 0 });

    c.goOnline();
    expect(server.sockets).toHaveLength(2);
    const ws = server.last;
    ws.join();
    const sent = ws.sentOf(FrameType.Delta); // waiting together, the three are folded into one
    expect(sent).toHaveLength(1);
    const saved = c.whenSaved();
    ws.deliver({ type: FrameType.Applied, opId: sent[0].opId });
    ws.deliver({ type: FrameType.Durable, opIds: [sent[0].opId] });
    await saved;
    expect(c.status()).toMatchObject({ state: 'live', pending: 0, unacked: 0, label: 'saved' });
    await c.close();
  });
});

describe('coalesced acknowledgements', () => {
  it('asks for Acks in Hello; an Acks frame stands for the Applied and Durable frames it lists', async () => {
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    c.goOnline();
    const ws = server.last;
    ws.join();
    expect(ws.sentOf(FrameType.Hello)[0].caps).toEqual(['acks']);
    c.applyWire('add', 'variable', { id: 'v0', name: 'n0', type: 'plain', value: 0 });
    c.applyWire('add', 'variable', { id: 'v1', name: 'n1', type: 'plain', value: 1 });
    const sent = ws.sentOf(FrameType.Delta).map((f) => f.opId);
    expect(sent).toHaveLength(2);
    expect(c.status()).toMatchObject({ pending: 2, unacked: 2 });
    ws.deliver({ type: FrameType.Acks, applied: sent });
    expect(c.status()).toMatchObject({ pending: 2, unacked: 0 });
    const saved = c.whenSaved();
    ws.deliver({ type: FrameType.Acks, durable: [sent[0]] });
    expect(c.status()).toMatchObject({ pending: 1 });
    c.applyWire('add', 'variable', { id: 'v2', name: 'n2', type: 'plain', value: 2 });
    const third = ws.sentOf(FrameType.Delta).map((f) => f.opId)[2];
    // Applied and durable in one frame: applied first.
    ws.deliver({ type: FrameType.Acks, applied: [third], durable: [sent[1], third] });
    await saved;
    expect(c.status()).toMatchObject({ state: 'live', pending: 0, unacked: 0, label: 'saved' });
    await c.close();
  });
});

describe('presence and drag throttling (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('one frame per PresenceIntervalMs, the latest state wins; presence set before joining is sent on join', async () => {
    vi.useFakeTimers();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    c.setPresence({ cursor: { x: 0, y: 0 }, selection: { t: 'block', id: 'b1' } });
    c.drag({ b1: { x: 0, y: 0 } }); // not connected: dropped
    c.goOnline();
    const ws = server.last;
    ws.join();
    const presence = () => ws.sentOf(FrameType.Presence).map((f) => ({ cursor: f.cursor, selection: f.selection }));
    expect(presence()).toEqual([{ cursor: { x: 0, y: 0 }, selection: { type: 'block', id: 'b1' } }]);

    for (let i = 1; i <= 20; i++) c.setPresence({ cursor: { x: i, y: i } });
    c.setPresence({ selection: { t: 'none' } });
    await vi.advanceTimersByTimeAsync(PresenceIntervalMs - 1);
    expect(presence()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(presence()).toEqual([
      { cursor: { x: 0, y: 0 }, selection: { type: 'block', id: 'b1' } },
      { cursor: { x: 20, y: 20 }, selection: { type: 'none' } },
    ]);

    const drags = () => ws.sentOf(FrameType.Drag).map((f) => f.positions);
    expect(drags()).toEqual([]);
    c.drag({ b1: { x: 1, y: 1 } });
    c.drag({ b1: { x: 2, y: 2 } });
    c.drag({ b2: { x: 3, y: 3 } });
    expect(drags()).toEqual([{ b1: { x: 1, y: 1 } }]);
    await vi.advanceTimersByTimeAsync(PresenceIntervalMs);
    expect(drags()).toEqual([{ b1: { x: 1, y: 1 } }, { b1: { x: 2, y: 2 }, b2: { x: 3, y: 3 } }]);
    await vi.advanceTimersByTimeAsync(10 * PresenceIntervalMs);
    expect(ws.sentOf(FrameType.Presence)).toHaveLength(2);
    expect(drags()).toHaveLength(2);
    await c.close();
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

  it('undo and redo revert the own edits as new edits in the outbox; history events follow canUndo and canRedo', async () => {
    const c = await FlowsyncClient.open({ ...base, undo: { window: -1 } });
    const history: string[] = [];
    c.on('history', (h) => history.push(`${h.canUndo}/${h.canRedo}`));
    expect(c.canUndo).toBe(false);
    expect(c.undo()).toBeUndefined();
    c.transact(() => {
      c.applyWire('batch-add-blocks', 'blocks', { blocks: [{ id: 'a', type: 'agent', name: 'A', position: { x: 0, y: 0 } }] });
      c.applyWire('update-name', 'block', { id: 'a', name: 'A2' });
    });
    c.applyWire('remove', 'block', { id: 'a' });
    expect(c.view().blocks['a']).toBeUndefined();
    expect(c.undo()).toBeDefined();
    expect(c.view().blocks['a']?.name).toBe('A2');
    expect(c.status().pending).toBe(4); // three edits and the undo, each its own outbox entry
    c.undo();
    expect(c.view().blocks['a']).toBeUndefined();
    expect(c.canUndo).toBe(false);
    expect(c.canRedo).toBe(true);
    c.redo();
    expect(c.view().blocks['a']?.name).toBe('A2');
    c.applyWire('update-name', 'block', { id: 'a', name: 'A3' });
    expect(c.canRedo).toBe(false);
    expect(history).toEqual(['true/false', 'true/true', 'false/true', 'true/true', 'true/false']);
    await c.close();
    expect(await kind(() => c.undo())).toBe('closed');
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
    // A refused edit is never 'saved'; deleted says nothing else.
    expect(statusLabel('live', 0, 1)).toBe('live, 1 refused');
    expect(statusLabel('live', 2, 1)).toBe('saving (2), 1 refused');
    expect(statusLabel('offline', 0, 2)).toBe('offline, 2 refused');
    expect(statusLabel('deleted', 0, 0)).toBe('deleted');
  });
});

describe("the 'rename' event", () => {
  it('fires once when a block we added shows suffixed after a merge, and not for unrelated merges', async () => {
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    c.goOnline();
    const ws = server.last;
    ws.join();
    const seen: RenameEvent[] = [];
    c.on('rename', (r) => seen.push(r));
    c.applyWire('batch-add-blocks', 'blocks', { blocks: [{ id: 'mine', type: 'agent', name: 'Agent 4', position: { x: 0, y: 0 } }] });
    // Another window added an "Agent 4" offline, earlier: ours is suffixed.
    const other = new Doc();
    const clock = new Clock('other-window');
    const remote = (name: string, payload: Record<string, unknown>): void => {
      const d = apply(other, clock.now(1), parseOp(name, 'blocks', payload));
      ws.deliver({ type: FrameType.RemoteDelta, workflowId: 'wf', delta: d.encode(), origin: { userId: 'bob', sessionId: 's2', replicaId: 'other-window' } });
    };
    remote('batch-add-blocks', { blocks: [{ id: 'theirs', type: 'agent', name: 'Agent 4', position: { x: 0, y: 0 } }] });
    expect(c.view().blocks.mine.name).toBe('Agent 4 2');
    expect(seen).toEqual([{ id: 'mine', name: 'Agent 4', shownAs: 'Agent 4 2' }]);
    remote('batch-add-blocks', { blocks: [{ id: 'x', type: 'agent', name: 'Unrelated', position: { x: 0, y: 0 } }] });
    expect(seen).toHaveLength(1); // once per rename
    // Their block is renamed away: ours shows as asked again; nothing to report.
    const d = apply(other, clock.now(2), parseOp('update-name', 'block', { id: 'theirs', name: 'Agent 5' }));
    ws.deliver({ type: FrameType.RemoteDelta, workflowId: 'wf', delta: d.encode(), origin: { userId: 'bob', sessionId: 's2', replicaId: 'other-window' } });
    expect(c.view().blocks.mine.name).toBe('Agent 4');
    expect(seen).toHaveLength(1);
    await c.close();
  });
});

describe('drag bounds and refusals', () => {
  it('refuses a drag over MaxDragBlocks; a refused Drag does not end the session', async () => {
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    c.goOnline();
    const ws = server.last;
    ws.join();
    const big: Record<string, { x: number; y: number }> = {};
    for (let i = 0; i <= MaxDragBlocks; i++) big[`b${i}`] = { x: 1, y: 1 };
    expect(() => c.drag(big)).toThrow(/at most/);
    const errors: unknown[] = [];
    c.on('error', (e) => errors.push(e));
    ws.deliver({ type: FrameType.Error, code: Code.PERMISSION_DENIED, message: 'role "read" may not drag blocks', retryable: false, workflowId: 'wf' });
    expect(errors).toHaveLength(1);
    expect(c.status().state).toBe('live');
    // A drag while the workflow is locked: refused, the session goes on.
    ws.deliver({ type: FrameType.Error, code: Code.WORKFLOW_LOCKED, message: 'workflow "wf" is locked', retryable: false, workflowId: 'wf' });
    expect(errors).toHaveLength(2);
    expect(c.status().state).toBe('live');
    await c.close();
  });
});

describe('text carets in presence', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the caret as stable positions, clears it with null, and reports remote carets in presence and the roster', async () => {
    vi.useFakeTimers();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    const caret = { field: { blockId: 'b1', subBlockId: 'prompt' }, anchor: { after: { replica: 'r1', counter: 4 } }, head: { after: { replica: '', counter: 0 } } };
    c.setPresence({ caret });
    c.goOnline();
    const ws = server.last;
    ws.join();
    const carets = () => ws.sentOf(FrameType.Presence).map((f) => f.caret);
    expect(carets()).toEqual([{ id: 'b1', sub: 'prompt', anchor: { replica: 'r1', counter: 4 }, head: {} }]);
    c.setPresence({ cursor: { x: 1, y: 1 } }); // an absent caret key keeps the caret
    await vi.advanceTimersByTimeAsync(PresenceIntervalMs);
    c.setPresence({ caret: null });
    await vi.advanceTimersByTimeAsync(PresenceIntervalMs);
    expect(carets()).toEqual([carets()[0], carets()[0], undefined]);

    // Refused: nothing recorded, nothing sent.
    for (const bad of [
      { field: { blockId: 'b1' }, anchor: caret.anchor, head: caret.head },
      { field: { blockId: 'b1', subBlockId: 'p', variableId: 'v' }, anchor: caret.anchor, head: caret.head },
      { field: { variableId: 'v' }, anchor: { after: { replica: 'r', counter: 0 } }, head: caret.head },
      { field: { variableId: 'v' }, anchor: caret.anchor, head: { after: { replica: '', counter: 3 } } },
      { field: { variableId: 'v' }, anchor: caret.anchor, head: { after: { replica: 'r', counter: 2 ** 53 } } },
    ]) {
      expect(await kind(() => c.setPresence({ caret: bad as never, cursor: { x: 9, y: 9 } }))).toBe('invalid-argument');
    }
    await vi.advanceTimersByTimeAsync(PresenceIntervalMs);
    expect(carets()).toHaveLength(3);

    const seen: unknown[] = [];
    c.on('presence', (u) => seen.push(u.caret));
    const wire = { id: 'v1', anchor: { replica: 'r2', counter: 7 }, head: { replica: 'r2', counter: 9 } };
    ws.deliver({
      type: FrameType.Roster,
      workflowId: 'wf',
      entries: [{ sessionId: 's2', userId: 'u2', role: 'write', joinedAtMs: 1, lastActivityMs: 1, cursor: null, selection: { type: 'none' }, caret: wire }],
    });
    const want = { field: { variableId: 'v1' }, anchor: { after: { replica: 'r2', counter: 7 } }, head: { after: { replica: 'r2', counter: 9 } } };
    expect(c.roster().find((e) => e.sid === 's2')?.caret).toEqual(want);
    ws.deliver({ type: FrameType.PresenceUpdate, workflowId: 'wf', sessionId: 's2', userId: 'u2', cursor: null, caret: { ...wire, head: null } });
    ws.deliver({ type: FrameType.PresenceUpdate, workflowId: 'wf', sessionId: 's2', userId: 'u2', cursor: null });
    expect(seen).toEqual([{ ...want, head: want.anchor }, undefined]);
    expect(c.roster().find((e) => e.sid === 's2')?.caret).toBeUndefined();
    await c.close();
  });
});
