// The browser SDK holds what it sends to the server's per-delta work caps
// (DeltaCaps, PROTOCOL.md §7.2): an edit past them goes as several deltas,
// and edits waiting together are never folded past them.
import { describe, expect, it, vi } from 'vitest';
import { DeltaCaps, FlowsyncClient, decodeDelta, type WebSocketConstructor } from '../src/index';
import { Doc } from '../src/workflow/doc';
import { MemoryPersistence } from '../src/persist/memory';
import type { StoredEntry } from '../src/persist/types';
import { FrameType } from '../src/protocol';
import { ScriptedServer } from './scripted';

const base = { url: 'ws://127.0.0.1:1/v1/sync', token: 't', workflowId: 'wf', persistence: 'memory' as const, autoConnect: false };

/** A batch-add-blocks payload of n blocks with subs sub-blocks each. */
function paste(prefix: string, n: number, subs: number): Record<string, unknown> {
  const blocks = [];
  for (let i = 0; i < n; i++) {
    const subBlocks: Record<string, unknown> = {};
    for (let j = 0; j < subs; j++) subBlocks[`f${j}`] = { id: `f${j}`, type: 'short-input', value: `value ${j} of ${i}` };
    blocks.push({ id: `${prefix}-${i}`, type: 'agent', name: `${prefix} ${i}`, subBlocks });
  }
  return { blocks };
}

/** The Delta frames sent, each checked against the caps, and their join. */
function sentWithinCaps(frames: { delta: Uint8Array }[]): Doc {
  const joined = new Doc();
  for (const f of frames) joined.merge(decodeDelta(f.delta)); // throws past a cap
  return joined;
}

describe('the per-delta work caps', () => {
  it('an edit past them is sent as several deltas the server admits, which join to the edit', async () => {
    vi.useFakeTimers();
    try {
      const server = new ScriptedServer();
      const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket as WebSocketConstructor });
      c.goOnline();
      server.last.join();
      const delta = c.applyWire('batch-add-blocks', 'blocks', paste('p', 100, 40));
      expect(delta.counts().values).toBeGreaterThan(2 * DeltaCaps.maxValues);
      expect(() => decodeDelta(delta.encode())).toThrow();
      await vi.advanceTimersByTimeAsync(100);
      const sent = server.last.sentOf(FrameType.Delta);
      expect(sent.length).toBeGreaterThan(2);
      expect(sentWithinCaps(sent).equal(delta)).toBe(true);
      expect(c.status().pending).toBe(sent.length);
      await c.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('edits waiting together are folded only while the fold stays within them', async () => {
    vi.useFakeTimers();
    try {
      const server = new ScriptedServer();
      const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket as WebSocketConstructor });
      // Offline: ten edits of ~400 values each, ~4,000 in all.
      const edits: Doc[] = [];
      for (let i = 0; i < 10; i++) edits.push(c.applyWire('batch-add-blocks', 'blocks', paste(`e${i}`, 10, 38)));
      const all = new Doc();
      for (const e of edits) all.merge(e);
      expect(all.counts().values).toBeGreaterThan(DeltaCaps.maxValues);
      c.goOnline();
      server.last.join();
      await vi.advanceTimersByTimeAsync(100);
      const sent = server.last.sentOf(FrameType.Delta);
      expect(sent.length).toBeGreaterThan(1);
      expect(sent.length).toBeLessThan(10); // some were folded
      expect(sentWithinCaps(sent).equal(all)).toBe(true);
      await c.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('an edit past them is stored in one write, so a crash never keeps part of it', async () => {
    const persistence = new MemoryPersistence();
    const writes: number[] = [];
    const append = persistence.appendLocal.bind(persistence);
    persistence.appendLocal = (wf: string, rid: string, entries: readonly StoredEntry[]) => {
      writes.push(entries.length);
      return append(wf, rid, entries);
    };
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, persistence, WebSocket: server.WebSocket as WebSocketConstructor });
    const delta = c.applyWire('batch-add-blocks', 'blocks', paste('p', 100, 40));
    expect(delta.counts().values).toBeGreaterThan(2 * DeltaCaps.maxValues);
    expect(writes.length).toBe(1);
    expect(writes[0]).toBe(c.status().pending);
    expect(writes[0]).toBeGreaterThan(2);
    await c.close();
  });

  it('an operation writing one value past the node cap is refused and changes nothing', async () => {
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket as WebSocketConstructor });
    c.applyWire('batch-add-blocks', 'blocks', paste('b', 1, 1));
    const before = c.doc.encode();
    const rows = Array.from({ length: DeltaCaps.maxValueNodes }, (_, i) => i % 100);
    expect(() => c.applyWire('subblock-update', 'subblock', { blockId: 'b-0', subblockId: 'table', value: rows })).toThrow(/more than 65536/);
    expect(c.doc.encode()).toEqual(before);
    expect(c.status().pending).toBe(1);
    // One node fewer (the array's own) is within the cap and is sent.
    c.applyWire('subblock-update', 'subblock', { blockId: 'b-0', subblockId: 'table', value: rows.slice(1) });
    expect(c.status().pending).toBeGreaterThan(1);
    await c.close();
  });
});

