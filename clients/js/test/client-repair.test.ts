// The client's side of repair against a scripted server: deltas kept with
// their receipts until durable and handed back (Vouch) to a room of another
// epoch, the bound on what is kept, receipts across a reload; a deleted
// workflow however the client learns of it; edits refused for good one by
// one (a folded frame is unfolded first), counted and never "saved"; and a
// replica reset (REPLICA_BEHIND) re-minting the outbox.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Context } from '../src/crdt/context';
import { Clock } from '../src/crdt/hlc';
import { FlowsyncClient, FlowsyncError, MaxReceiptItems, MemoryPersistence, RejectError, type LifecycleEvent } from '../src/index';
import { CloseCode, Code, FrameType } from '../src/protocol';
import { apply } from '../src/workflow/builder';
import { Doc } from '../src/workflow/doc';
import { decode, encodeContext } from '../src/workflow/encode';
import { AddVariable } from '../src/workflow/ops_variable';
import { varNames } from './helpers';
import { ScriptedServer, type ScriptedSocket } from './scripted';

const base = { url: 'ws://scripted', token: 't', workflowId: 'wf-1', autoConnect: false, backoff: { baseMs: 50, capMs: 400 } };
const mac = (n: number) => new Uint8Array(16).fill(n);

/** Another replica's edits, as the server would relay them. */
class Other {
  readonly doc = new Doc();
  private readonly clock = new Clock('other');
  private wall = 1_000;
  add(name: string): Uint8Array {
    this.wall += 10;
    return apply(this.doc, this.clock.now(this.wall), new AddVariable({ id: name, varName: name, type: 'plain', value: 1 })).encode();
  }
}

function relay(ws: ScriptedSocket, d: Uint8Array, seq: number, receipt = true): void {
  ws.deliver({
    type: FrameType.RemoteDelta,
    workflowId: 'wf-1',
    delta: d,
    origin: { userId: 'bob', sessionId: 's2', replicaId: 'other' },
    seq,
    ...(receipt ? { receiptKeyId: 'k1', receiptMac: mac(seq) } : {}),
  });
}

const ctxOf = (d: Doc) => encodeContext(d.context());

afterEach(() => {
  vi.useRealTimers();
});

describe('receipts (scripted server)', () => {
  it('keeps relayed deltas with receipts until Stable; hands the rest back to a room of another epoch before the outbox', async () => {
    vi.useFakeTimers();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    c.goOnline();
    server.last.join({ epoch: 'E1', seq: 0, stable: 0 });
    const other = new Other();
    const d1 = other.add('a');
    const d2 = other.add('b');
    const d3 = other.add('c');
    relay(server.last, d1, 1);
    relay(server.last, d2, 2, false); // no receipt: a server without receipts; not kept
    relay(server.last, d3, 3);
    expect(varNames(c)).toEqual(['a', 'b', 'c']);
    expect(c.receipts()).toMatchObject({ items: 2, dropped: 0 });
    // The room's durable mark passes seq 1: that one is durable, dropped.
    server.last.deliver({ type: FrameType.Stable, workflowId: 'wf-1', epoch: 'E1', seq: 1 });
    expect(c.receipts().items).toBe(1);
    // A Stable of another epoch frees nothing of this one.
    server.last.deliver({ type: FrameType.Stable, workflowId: 'wf-1', epoch: 'E0', seq: 99 });
    expect(c.receipts().items).toBe(1);

    // Offline edit, then the server crashes and comes back with a new room
    // (epoch E2) that lost d3: its context holds d1 and d2 only.
    c.goOffline();
    c.applyWire('add', 'variable', { id: 'mine', name: 'mine', type: 'plain', value: 0 });
    c.goOnline();
    const ws = server.last;
    const serverDoc = new Doc();
    for (const d of [d1, d2]) serverDoc.merge(decode(d));
    ws.join({ epoch: 'E2', seq: 0, stable: 0, context: ctxOf(serverDoc) });
    const order = ws.sent.filter((f) => f.type === FrameType.Vouch || f.type === FrameType.Delta).map((f) => f.type);
    expect(order).toEqual([FrameType.Vouch, FrameType.Delta]); // handed back before our own edits
    const [v] = ws.sentOf(FrameType.Vouch);
    expect(v).toMatchObject({ workflowId: 'wf-1', receiptKeyId: 'k1', receiptMac: mac(3) });
    expect(v.delta).toEqual(d3); // byte for byte
    ws.deliver({ type: FrameType.Applied, opId: v.opId });
    expect(c.receipts().items).toBe(1); // applied is not durable
    ws.deliver({ type: FrameType.Durable, opIds: [v.opId] });
    expect(c.receipts()).toMatchObject({ items: 0, vouched: 1, refused: 0 });
    await c.close();
  });

  it('drops what the new room holds, keeps what the same room holds without resending it, and keeps an undurable catch-up', async () => {
    vi.useFakeTimers();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    c.goOnline();
    // A catch-up that is not durable yet (stable < seq) is kept under the join's seq.
    const other = new Other();
    const chunk = other.add('a');
    server.last.join({ epoch: 'E1', seq: 5, stable: 3, chunks: 1 });
    server.last.deliver({ type: FrameType.CatchUp, workflowId: 'wf-1', seq: 0, last: true, delta: chunk, receiptKeyId: 'k1', receiptMac: mac(9) });
    expect(c.receipts().items).toBe(1);
    relay(server.last, other.add('b'), 6);
    relay(server.last, other.add('c'), 7);
    expect(c.receipts().items).toBe(3);

    // Same epoch after a reconnect: the room still holds them; its stable
    // mark (6) makes the catch-up and seq 6 durable; nothing is handed back.
    server.last.serverClose(1012);
    await vi.advanceTimersByTimeAsync(1000);
    server.last.join({ epoch: 'E1', seq: 7, stable: 6 });
    expect(server.last.sentOf(FrameType.Vouch)).toEqual([]);
    expect(c.receipts().items).toBe(1);

    // Another epoch whose context covers everything: nothing to hand back.
    server.last.serverClose(1012);
    await vi.advanceTimersByTimeAsync(1000);
    server.last.join({ epoch: 'E2', seq: 0, stable: 0, context: ctxOf(other.doc) });
    expect(server.last.sentOf(FrameType.Vouch)).toEqual([]);
    expect(c.receipts().items).toBe(0);
    await c.close();
  });

  it('a Vouch refused for good (BAD_RECEIPT) is dropped; a retryable refusal is resent after backoff', async () => {
    vi.useFakeTimers();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    c.goOnline();
    server.last.join({ epoch: 'E1' });
    const other = new Other();
    relay(server.last, other.add('a'), 1);
    relay(server.last, other.add('b'), 2);
    server.last.serverClose(1012);
    await vi.advanceTimersByTimeAsync(1000);
    const ws = server.last;
    ws.join({ epoch: 'E2' });
    const [v1, v2] = ws.sentOf(FrameType.Vouch);
    expect([v1.receiptMac, v2.receiptMac]).toEqual([mac(1), mac(2)]); // oldest first
    ws.deliver({ type: FrameType.Nack, opId: v1.opId, code: Code.BAD_RECEIPT, message: 'unknown key id', retryable: false });
    ws.deliver({ type: FrameType.Nack, opId: v2.opId, code: Code.STORAGE_UNAVAILABLE, retryable: true });
    expect(c.receipts()).toMatchObject({ items: 1, refused: 1 });
    await vi.advanceTimersByTimeAsync(1000);
    const again = ws.sentOf(FrameType.Vouch);
    expect(again).toHaveLength(3);
    expect(again[2].opId).toBe(v2.opId); // the same op, resent
    ws.deliver({ type: FrameType.Durable, opIds: [v2.opId] });
    expect(c.receipts()).toMatchObject({ items: 0, vouched: 1, refused: 1 });
    await c.close();
  });

  it('a kept delta larger than the server\'s delta limit is dropped as refused instead of handed back', async () => {
    vi.useFakeTimers();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    c.goOnline();
    server.last.join({ epoch: 'E1' });
    const other = new Other();
    const small = other.add('a');
    const big = other.add('b'.repeat(200));
    relay(server.last, small, 1);
    relay(server.last, big, 2);
    server.last.serverClose(1012);
    await vi.advanceTimersByTimeAsync(1000);
    server.last.join({ epoch: 'E2', limits: { maxDeltaBytes: big.length - 1 } });
    expect(server.last.sentOf(FrameType.Vouch).map((v) => v.delta)).toEqual([small]);
    expect(c.receipts()).toMatchObject({ items: 1, refused: 1 });
    await c.close();
  });

  it(`keeps at most ${MaxReceiptItems} deltas, dropping the oldest and counting them; kept deltas survive a reload and are handed back`, async () => {
    vi.useFakeTimers();
    const p = new MemoryPersistence();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket, persistence: p });
    c.goOnline();
    server.last.join({ epoch: 'E1' });
    const other = new Other();
    const d = other.add('a');
    for (let seq = 1; seq <= MaxReceiptItems + 5; seq++) relay(server.last, d, seq);
    expect(c.receipts()).toMatchObject({ items: MaxReceiptItems, dropped: 5 });
    await vi.advanceTimersByTimeAsync(1000); // the batched log write
    const rid = c.replicaId;
    const stored = (await p.load('wf-1', rid)).receipts;
    expect(stored).toHaveLength(MaxReceiptItems);
    expect(Math.min(...stored.map((r) => r.seq))).toBe(6);
    // Durable up to the last 2; then the page goes away.
    server.last.deliver({ type: FrameType.Stable, workflowId: 'wf-1', epoch: 'E1', seq: MaxReceiptItems + 3 });
    await c.close();
    expect((await p.load('wf-1', rid)).receipts.map((r) => r.seq)).toEqual([MaxReceiptItems + 4, MaxReceiptItems + 5]);

    const c2 = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket, persistence: p });
    expect(c2.receipts().items).toBe(2);
    c2.goOnline();
    server.last.join({ epoch: 'E2' });
    expect(server.last.sentOf(FrameType.Vouch).map((v) => v.receiptMac[0])).toEqual([(MaxReceiptItems + 4) & 0xff, (MaxReceiptItems + 5) & 0xff]);
    await c2.close();
  });
});

describe('a deleted workflow (scripted server)', () => {
  async function liveWithEdit(p = new MemoryPersistence()) {
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket, persistence: p });
    const events: LifecycleEvent[] = [];
    c.on('event', (e) => events.push(e));
    c.applyWire('add', 'variable', { id: 'v', name: 'v', type: 'plain', value: 0 });
    return { server, c, events, p };
  }

  async function expectDeleted(c: FlowsyncClient, events: LifecycleEvent[], p: MemoryPersistence, server: ScriptedServer) {
    expect(c.status()).toMatchObject({ state: 'deleted', pending: 0, label: 'deleted' });
    expect(events.filter((e) => e.kind === 'workflow-deleted')).toHaveLength(1);
    expect(() => c.applyWire('add', 'variable', { id: 'w', name: 'w', type: 'plain', value: 1 })).toThrow(expect.objectContaining({ kind: 'workflow-deleted' }));
    await vi.waitFor(async () => expect((await p.load('wf-1', c.replicaId)).outbox).toEqual([]));
    const n = server.sockets.length;
    c.goOnline();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(server.sockets).toHaveLength(n); // never reconnects
    expect(() => c.reset()).toThrow(expect.objectContaining({ kind: 'workflow-deleted' }));
  }

  it('a Join refused with WORKFLOW_DELETED (offline during the deletion)', async () => {
    vi.useFakeTimers();
    const { server, c, events, p } = await liveWithEdit();
    c.goOnline();
    const ws = server.last;
    ws.open();
    ws.deliver({ type: FrameType.Welcome, protocolVersion: 1, sessionId: 's1', user: { id: 'u1' }, limits: {}, serverTimeMs: Date.now() });
    ws.deliver({ type: FrameType.Error, code: Code.WORKFLOW_DELETED, message: 'deleted', retryable: false, workflowId: 'wf-1' });
    await expectDeleted(c, events, p, server);
  });

  it('a Nack with WORKFLOW_DELETED', async () => {
    vi.useFakeTimers();
    const { server, c, events, p } = await liveWithEdit();
    c.goOnline();
    server.last.join();
    const [d] = server.last.sentOf(FrameType.Delta);
    server.last.deliver({ type: FrameType.Nack, opId: d.opId, code: Code.WORKFLOW_DELETED, retryable: false });
    await expectDeleted(c, events, p, server);
  });

  it('close 4503', async () => {
    vi.useFakeTimers();
    const { server, c, events, p } = await liveWithEdit();
    c.goOnline();
    server.last.join();
    server.last.serverClose(CloseCode.WORKFLOW_DELETED, 'workflow deleted');
    await expectDeleted(c, events, p, server);
  });
});

describe('edits refused for good (scripted server)', () => {
  it('a refused folded frame is resent one edit per frame; each refusal is reported, kept and counted, never "saved"', async () => {
    vi.useFakeTimers();
    const p = new MemoryPersistence();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket, persistence: p });
    for (let i = 0; i < 3; i++) c.applyWire('add', 'variable', { id: `v${i}`, name: `n${i}`, type: 'plain', value: i });
    const rejects: RejectError[] = [];
    c.on('reject', (r) => rejects.push(r));
    c.goOnline();
    const ws = server.last;
    ws.join();
    const [folded] = ws.sentOf(FrameType.Delta);
    expect(ws.sentOf(FrameType.Delta)).toHaveLength(1);
    ws.deliver({ type: FrameType.Nack, opId: folded.opId, code: Code.FORGED_DOT, message: 'one of them', retryable: false });
    expect(rejects).toEqual([]); // no edit is refused for the frame's sake
    const solo = ws.sentOf(FrameType.Delta).slice(1);
    expect(solo).toHaveLength(3);
    ws.deliver({ type: FrameType.Applied, opId: solo[0].opId });
    ws.deliver({ type: FrameType.Nack, opId: solo[1].opId, code: Code.FORGED_DOT, message: 'this one', retryable: false });
    ws.deliver({ type: FrameType.Applied, opId: solo[2].opId });
    ws.deliver({ type: FrameType.Durable, opIds: [solo[0].opId, solo[2].opId] });
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ opId: solo[1].opId, codeName: 'FORGED_DOT', serverMessage: 'this one' });
    expect(rejects[0].delta?.encode()).toEqual(solo[1].delta);
    expect(c.status()).toMatchObject({ state: 'live', pending: 0, rejected: 1, label: 'live, 1 refused' });
    await expect(c.whenSaved()).rejects.toMatchObject({ kind: 'rejected' });
    expect(c.rejected().map((r) => r.opId)).toEqual([solo[1].opId]);
    // Kept across a reload, never sent again.
    await c.close();
    const c2 = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket, persistence: p });
    expect(c2.status()).toMatchObject({ pending: 0, rejected: 1 });
    c2.goOnline();
    // The server lost the third edit (its node died before the others heard
    // it): the client sends its own writes the server lacks — but never the
    // refused one.
    server.last.join({ context: ctxOf(decode(solo[0].delta)) });
    const resent = server.last.sentOf(FrameType.Delta);
    expect(resent).toHaveLength(1);
    const got = decode(resent[0].delta).context();
    expect(got.covers(decode(solo[2].delta).context())).toBe(true);
    expect(got.max(c2.replicaId)).toBe(decode(solo[2].delta).context().max(c2.replicaId));
    const refusedDots = decode(solo[1].delta);
    refusedDots.store().dots((dot) => expect(got.contains(dot)).toBe(false));
    // reset converges with the server: a new id, an empty document rebuilt by the catch-up.
    const old = c2.replicaId;
    c2.reset();
    expect(c2.replicaId).not.toBe(old);
    expect(c2.status()).toMatchObject({ pending: 0, rejected: 0 });
    server.last.join();
    expect(server.last.sentOf(FrameType.Join)[0].context).toEqual(encodeContext(new Context()));
    expect(varNames(c2)).toEqual([]);
    await c2.close();
  });
});

describe('replica reset (scripted server)', () => {
  it('REPLICA_BEHIND at join: a new id, the outbox re-minted under it and stored, then a join under the new id', async () => {
    vi.useFakeTimers();
    const p = new MemoryPersistence();
    const server = new ScriptedServer();
    const c = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket, persistence: p });
    c.applyWire('add', 'variable', { id: 'v0', name: 'n0', type: 'plain', value: 0 });
    c.applyWire('variable-update', 'variable', { variableId: 'v0', field: 'name', value: 'n1' });
    const old = c.replicaId;
    const view = varNames(c);
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    c.goOnline();
    const ws = server.last;
    ws.open();
    ws.deliver({ type: FrameType.Welcome, protocolVersion: 1, sessionId: 's1', user: { id: 'u1' }, limits: {}, serverTimeMs: Date.now() });
    ws.deliver({ type: FrameType.Error, code: Code.REPLICA_BEHIND, message: 'behind', retryable: false, workflowId: 'wf-1' });
    expect(c.replicaId).not.toBe(old);
    expect(errors[0]).toBeInstanceOf(FlowsyncError);
    expect(errors[0]).toMatchObject({ kind: 'replica-conflict' });
    expect(c.doc.context().max(old)).toBe(0); // every dot was the outbox's: all re-minted
    expect(varNames(c)).toEqual(view);
    await vi.advanceTimersByTimeAsync(0); // the new state is stored, then the client dials
    const st = await p.load('wf-1', c.replicaId);
    expect(st.outbox).toHaveLength(2);
    expect(st.outbox.every((e) => e.mine && e.mine[0].lo >= 1)).toBe(true);
    const ws2 = server.last;
    expect(ws2).not.toBe(ws);
    ws2.join();
    expect(ws2.sentOf(FrameType.Hello)[0].replicaId).toBe(c.replicaId);
    const sent = ws2.sentOf(FrameType.Delta);
    expect(sent).toHaveLength(1); // folded
    ws2.deliver({ type: FrameType.Durable, opIds: [sent[0].opId] });
    expect(c.status()).toMatchObject({ pending: 0, label: 'saved' });
    await c.close();
  });
});
