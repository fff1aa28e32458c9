// Frame codec: byte-exact agreement with the Go encoder (sync/protocol), the
// hex dumps of docs/PROTOCOL.md §8, and round trips of every frame type.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  Code,
  CloseCode,
  closeReason,
  codeName,
  codeRetryable,
  codes,
  decodeFrame,
  encodeFrame,
  FrameType,
  frameTypeName,
  isClientFrameType,
  isServerFrameType,
  shouldReconnect,
  type Frame,
} from '../src/protocol';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const emptyCtx = Uint8Array.from([1, 0x93, 0x90, 0x90, 0x90]);

// Encoded by the Go implementation (protocol.Encode) for the frames below.
const golden: Record<string, [string, Frame]> = {
  hello: [
    '920185a17601a3746f6ba8757365723a416e6ea3726964a27231a2636eab666c6f7773796e632d6a73a26376a5302e312e30',
    { type: FrameType.Hello, protocolVersion: 1, token: 'user:Ann', replicaId: 'r1', clientName: 'flowsync-js', clientVersion: '0.1.0' },
  ],
  welcome: [
    '924086a17601a3736964a27331a47573657283a26964a27531a46e616d65a3416e6ea6617661746172af68747470733a2f2f612f782e706e67a27376a3646576a36c696d85a56672616d65ce00100000a564656c7461ce00100000a36f707332a56275727374ccc8a4736b6577ce000493e0a36e6f77cf0000018bcfe56800',
    {
      type: FrameType.Welcome,
      protocolVersion: 1,
      sessionId: 's1',
      user: { id: 'u1', name: 'Ann', avatar: 'https://a/x.png' },
      serverVersion: 'dev',
      limits: { maxFrameBytes: 1 << 20, maxDeltaBytes: 1 << 20, maxOpsPerSecond: 50, opsBurst: 200, maxClockSkewMs: 300000 },
      serverTimeMs: 1700000000000,
    },
  ],
  leave: ['920381a27766a477662d31', { type: FrameType.Leave, workflowId: 'wf-1' }],
  operation: [
    '920585a27766a477662d31a26f70a46f702d32a46e616d65ab7570646174652d6e616d65a6746172676574a5626c6f636ba77061796c6f616485a361727293c3c0a178a166cb4004000000000000a26964a26231a16efda46e616d65a6577269746572',
    {
      type: FrameType.Operation,
      workflowId: 'wf-1',
      opId: 'op-2',
      name: 'update-name',
      target: 'block',
      payload: { id: 'b1', name: 'Writer', n: -3, f: 2.5, arr: [true, null, 'x'] },
    },
  ],
  presence: [
    '920683a27766a477662d31a363757282a178cb3ff8000000000000a179cbc000000000000000a373656c82a174a5626c6f636ba26964a26231',
    { type: FrameType.Presence, workflowId: 'wf-1', cursor: { x: 1.5, y: -2 }, selection: { type: 'block', id: 'b1' } },
  ],
  presence_none: ['920682a27766a477662d31a3637572c0', { type: FrameType.Presence, workflowId: 'wf-1', cursor: null }],
  drag: [
    '920782a27766a477662d31a3706f7382a2623182a178cb3fd0000000000000a179cb41cdcd6500000000a2623282a178cb4008000000000000a179cb4010000000000000',
    { type: FrameType.Drag, workflowId: 'wf-1', positions: { b2: { x: 3, y: 4 }, b1: { x: 0.25, y: 1e9 } } },
  ],
  joined: [
    '924185a27766a477662d31a4726f6c65a57772697465a3637478c4050193909090a6726f737465729289a3736964a27331a3746162a27431a3756964a27531a46e616d65a3416e6ea4726f6c65a561646d696ea66a6f696e6564cf0000018bcfe56800a6616374697665cf0000018bcfe569f4a363757282a178cb3ff8000000000000a179cbc000000000000000a373656c82a174a465646765a26964a2653186a3736964a27332a3756964a27532a4726f6c65a472656164a66a6f696e656405a661637469766506a3637572c0a66368756e6b7302',
    {
      type: FrameType.Joined,
      workflowId: 'wf-1',
      role: 'write',
      context: emptyCtx,
      roster: [
        {
          sessionId: 's1',
          tabSessionId: 't1',
          userId: 'u1',
          name: 'Ann',
          role: 'admin',
          joinedAtMs: 1700000000000,
          lastActivityMs: 1700000000500,
          cursor: { x: 1.5, y: -2 },
          selection: { type: 'edge', id: 'e1' },
        },
        { sessionId: 's2', userId: 'u2', role: 'read', joinedAtMs: 5, lastActivityMs: 6, cursor: null },
      ],
      catchUpChunks: 2,
    },
  ],
  catchup: ['924284a27766a477662d31a373657101a46c617374c3a164c4050193909090', { type: FrameType.CatchUp, workflowId: 'wf-1', seq: 1, last: true, delta: emptyCtx }],
  applied: ['924381a26f70a46f702d31', { type: FrameType.Applied, opId: 'op-1' }],
  durable: ['924481a36f707392a46f702d31a46f702d32', { type: FrameType.Durable, opIds: ['op-1', 'op-2'] }],
  nack: [
    '924584a26f70a46f702d31a4636f64650ea36d7367a9726561642d6f6e6c79a57265747279c2',
    { type: FrameType.Nack, opId: 'op-1', code: Code.PERMISSION_DENIED, message: 'read-only', retryable: false },
  ],
  remotedelta: [
    '924683a27766a477662d31a164c4050193909090a466726f6d83a3756964a27532a3726964a27232a3736964a27332',
    { type: FrameType.RemoteDelta, workflowId: 'wf-1', delta: emptyCtx, origin: { userId: 'u2', replicaId: 'r2', sessionId: 's2' } },
  ],
  presenceupdate: [
    '924786a27766a477662d31a3736964a27332a3756964a27532a46e616d65a3426f62a3637572c0a373656c81a174a46e6f6e65',
    { type: FrameType.PresenceUpdate, workflowId: 'wf-1', sessionId: 's2', userId: 'u2', name: 'Bob', cursor: null, selection: { type: 'none' } },
  ],
  roster: [
    '924882a27766a477662d31a7656e74726965739186a3736964a27332a3756964a27532a4726f6c65a57772697465a66a6f696e6564ffa6616374697665ce00011170a3637572c0',
    { type: FrameType.Roster, workflowId: 'wf-1', entries: [{ sessionId: 's2', userId: 'u2', role: 'write', joinedAtMs: -1, lastActivityMs: 70000, cursor: null }] },
  ],
  dragupdate: [
    '924984a27766a477662d31a3736964a27332a3756964a27532a3706f7381a2623182a178cbc025000000000000a179cb4034000000000000',
    { type: FrameType.DragUpdate, workflowId: 'wf-1', sessionId: 's2', userId: 'u2', positions: { b1: { x: -10.5, y: 20 } } },
  ],
  event: [
    '924a84a27766a477662d31a46b696e64b0776f726b666c6f772d64656c65746564a36d7367a3627965a27473cf0000018bcfe56800',
    { type: FrameType.Event, workflowId: 'wf-1', kind: 'workflow-deleted', message: 'bye', timestampMs: 1700000000000 },
  ],
  error: [
    '924b84a4636f64650da36d7367a26e6fa57265747279c2a27766a477662d31',
    { type: FrameType.Error, code: Code.ACCESS_DENIED, message: 'no', retryable: false, workflowId: 'wf-1' },
  ],
  error_retry: ['924b82a4636f646528a57265747279c3', { type: FrameType.Error, code: Code.OVERLOADED, retryable: true }],
};

describe('frames match the Go encoder byte for byte', () => {
  for (const [name, [h, frame]] of Object.entries(golden)) {
    it(name, () => {
      expect(toHex(encodeFrame(frame))).toBe(h);
      const back = decodeFrame(hex(h));
      expect(back).toEqual(frame);
      expect(toHex(encodeFrame(back))).toBe(h);
    });
  }
});

/** parseHexDump reads the dumps of PROTOCOL.md §8 / testdata/hexdumps.golden. */
function parseHexDumps(text: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let name = '';
  let bytes: number[] = [];
  for (const line of text.split('\n')) {
    const head = /^(\w+) frame \((\d+) bytes\):$/.exec(line.trim());
    if (head) {
      if (name) out.set(name, Uint8Array.from(bytes));
      name = head[1];
      bytes = [];
      continue;
    }
    const row = /^[0-9a-f]{8}  (.*?)\s*\|/.exec(line);
    if (row && name) for (const b of row[1].trim().split(/\s+/)) bytes.push(parseInt(b, 16));
  }
  if (name) out.set(name, Uint8Array.from(bytes));
  return out;
}

describe('PROTOCOL.md §8 hex dumps', () => {
  const golden = readFileSync(fileURLToPath(new URL('../../../sync/protocol/testdata/hexdumps.golden', import.meta.url)), 'utf8');
  const dumps = parseHexDumps(golden);
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8');

  it('the golden file and the doc agree', () => {
    const fromDoc = parseHexDumps(doc.slice(doc.indexOf('## 8. Hex dumps'), doc.indexOf('## 9.')));
    expect([...fromDoc.keys()]).toEqual(['Join', 'Delta', 'Hello', 'Acks']);
    for (const [k, v] of dumps) expect(toHex(fromDoc.get(k)!)).toBe(toHex(v));
  });

  it('Join decodes to the documented fields and re-encodes identically', () => {
    const b = dumps.get('Join')!;
    expect(b.length).toBe(47);
    const f = decodeFrame(b);
    if (f.type !== FrameType.Join) throw new Error('not a Join');
    expect(f.workflowId).toBe('wf-1');
    expect(f.tabSessionId).toBe('tab-1');
    // ctx: 01 93 91 a9 "replica-a" 91 92 00 92 01 03 90 (counters 1..4 of replica-a)
    expect(toHex(f.context!)).toBe('019391a97265706c6963612d61919200920103' + '90');
    expect(toHex(encodeFrame(f))).toBe(toHex(b));
  });

  it('Delta decodes to the documented fields and re-encodes identically', () => {
    const b = dumps.get('Delta')!;
    expect(b.length).toBe(76);
    const f = decodeFrame(b);
    if (f.type !== FrameType.Delta) throw new Error('not a Delta');
    expect(f.workflowId).toBe('wf-1');
    expect(f.opId).toBe('op-1');
    expect(f.delta.length).toBe(53);
    expect(f.delta[0]).toBe(1);
    expect(toHex(encodeFrame({ type: FrameType.Delta, workflowId: 'wf-1', opId: 'op-1', delta: f.delta }))).toBe(toHex(b));
  });

  it('Hello asking for acks and Acks decode to the documented fields and re-encode identically', () => {
    const h = decodeFrame(dumps.get('Hello')!);
    if (h.type !== FrameType.Hello) throw new Error('not a Hello');
    expect(h.caps).toEqual(['acks']);
    expect(toHex(encodeFrame(h))).toBe(toHex(dumps.get('Hello')!));
    const b = dumps.get('Acks')!;
    expect(b.length).toBe(31);
    const f = decodeFrame(b);
    if (f.type !== FrameType.Acks) throw new Error('not an Acks');
    expect(f.applied).toEqual(['op-2', 'op-3']);
    expect(f.durable).toEqual(['op-1', 'op-2']);
    expect(toHex(encodeFrame({ type: FrameType.Acks, applied: ['op-2', 'op-3'], durable: ['op-1', 'op-2'] }))).toBe(toHex(b));
  });
});

describe('codes', () => {
  it('names, numbers and retryable flags follow PROTOCOL.md §5', () => {
    const table = /^\| (\d+) \| `([A-Z_]+)` \| (yes|no) \|/gm;
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8');
    const rows = [...doc.matchAll(table)];
    expect(rows.length).toBe(28);
    expect(codes()).toEqual(rows.map((r) => Number(r[1])));
    for (const [, n, name, retry] of rows) {
      expect(codeName(Number(n))).toBe(name);
      expect(codeRetryable(Number(n))).toBe(retry === 'yes');
    }
    expect(codeName(999)).toBe('CODE_999');
    expect(codeRetryable(999)).toBe(false);
  });

  it('close codes: reconnect ranges of PROTOCOL.md §6', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8');
    const rows = [...doc.matchAll(/^\| (\d{4}) \| ([a-z ]+) \| (yes|no) \|/gm)];
    expect(rows.length).toBe(18);
    for (const [, n, reason, again] of rows) {
      expect(closeReason(Number(n))).toBe(reason);
      expect(shouldReconnect(Number(n))).toBe(again === 'yes');
    }
    // Outside the table: by range, and abnormal closures reconnect.
    for (const c of [1005, 1006, 1015, 3000, 3999, 4007, 4499]) expect(shouldReconnect(c)).toBe(true);
    for (const c of [4505, 4999]) expect(shouldReconnect(c)).toBe(false);
    expect(CloseCode.AUTHENTICATION_FAILED).toBe(4500);
  });

  it('frame type ranges', () => {
    expect(isClientFrameType(FrameType.Drag)).toBe(true);
    expect(isServerFrameType(FrameType.Drag)).toBe(false);
    expect(isServerFrameType(FrameType.Error)).toBe(true);
    expect(frameTypeName(0x46)).toBe('RemoteDelta');
    expect(frameTypeName(0x30)).toBe('FrameType(0x30)');
  });
});

describe('decoding is lenient where the protocol says so', () => {
  it('ignores unknown keys and reads nil optional keys as absent', () => {
    // {op: "op-1", code: 14, retry: false, msg: nil, zz: [1, {a: 2}]}
    const b = hex('924585a26f70a46f702d31a4636f64650ea57265747279c2a36d7367c0a27a7a9201' + '81a16102');
    expect(decodeFrame(b)).toEqual({ type: FrameType.Nack, opId: 'op-1', code: 14, retryable: false });
  });

  it('accepts any integer form and any numeric form for coordinates', () => {
    // Applied is trivial; use a Presence with cur {x: int8 -1 (d0 ff), y: float32 0.5}.
    const b = hex('920682a27766a477662d31a363757282a178d0ffa179ca3f000000');
    expect(decodeFrame(b)).toEqual({ type: FrameType.Presence, workflowId: 'wf-1', cursor: { x: -1, y: 0.5 } });
    // CatchUp with seq as uint32 and the type as uint8 (cc 42).
    const c = hex('92cc4284a27766a477662d31a3736571ce00000001a46c617374c3a164c4050193909090');
    expect(decodeFrame(c)).toMatchObject({ type: FrameType.CatchUp, seq: 1 });
  });
});
