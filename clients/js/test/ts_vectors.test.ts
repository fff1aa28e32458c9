// TypeScript → Go conformance vectors. A deterministic generator (seeded
// PRNG, no wall clock, no Math.random) drives several TypeScript replicas:
// they apply operations parsed from the reference wire form, exchange state
// by full merges and by deltaSince catch-ups in varying orders, and every
// delta's bytes, the operations, their timestamps, each refusal's error code
// and each replica's final document bytes and view JSON are recorded in
// test/vectors/ts-vectors.json. crdt/workflow/tsvectors_test.go replays the
// file in Go and requires the same bytes and views.
//
// The file is committed. This test regenerates it in memory and fails if the
// committed copy differs, so it cannot rot: after an intended change to the
// encoding, the operations or the view, rewrite it with
//
//   UPDATE_VECTORS=1 npx vitest run test/ts_vectors
//
// and run `go test -run TSVectors ./crdt/workflow`.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Clock } from '../src/crdt/hlc';
import { apply } from '../src/workflow/builder';
import { Doc } from '../src/workflow/doc';
import { viewToJSON } from '../src/workflow/json';
import { parseOp } from '../src/workflow/parse';
import { buildView, type View } from '../src/workflow/view';

const vectorsPath = fileURLToPath(new URL('./vectors/ts-vectors.json', import.meta.url));

interface WireOp {
  name: string;
  target: string;
  payload: Record<string, unknown>;
}

type Step =
  | { replica: string; ts: { wall: number; logical: number }; op: WireOp; delta: string }
  | { replica: string; ts: { wall: number; logical: number }; op: WireOp; error: string }
  | { merge: { from: string; into: string } }
  | { deltaSince: { from: string; into: string }; delta: string };

interface Case {
  name: string;
  replicas: string[];
  steps: Step[];
  final: Record<string, { doc: string; view: unknown }>;
}

interface VectorFile {
  version: 1;
  generator: string;
  cases: Case[];
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/**
 * mulberry32: a small, well-mixed 32-bit PRNG. The vectors depend on every
 * draw, so its output must never change; it is written out here rather than
 * taken from a library.
 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rand {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/**
 * Runs replicas and records what they do. Every replica has its own clock
 * read at the shared (simulated) wall time, so replicas acting in the same
 * millisecond produce equal wall and logical times and the view's replica
 * tie-breaks come into play.
 */
class Recorder {
  readonly docs = new Map<string, Doc>();
  private readonly clocks = new Map<string, Clock>();
  private readonly steps: Step[] = [];
  wall = 1_700_000_000_000;

  constructor(
    readonly name: string,
    readonly replicas: string[],
  ) {
    for (const r of replicas) {
      this.docs.set(r, new Doc());
      this.clocks.set(r, new Clock(r));
    }
  }

  doc(r: string): Doc {
    return this.docs.get(r)!;
  }

  view(r: string): View {
    return buildView(this.doc(r));
  }

  /** Applies an operation at replica r; returns whether it was accepted. */
  op(r: string, name: string, target: string, payload: Record<string, unknown>): boolean {
    // The payload travels as JSON, so both languages parse the same thing.
    const wire: WireOp = { name, target, payload: JSON.parse(JSON.stringify(payload)) };
    const t = this.clocks.get(r)!.now(this.wall);
    const ts = { wall: t.wall, logical: t.logical };
    try {
      const delta = apply(this.doc(r), t, parseOp(wire.name, wire.target, JSON.parse(JSON.stringify(wire.payload))));
      this.steps.push({ replica: r, ts, op: wire, delta: b64(delta.encode()) });
      return true;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string') throw e; // a bug, not a refusal
      this.steps.push({ replica: r, ts, op: wire, error: code });
      return false;
    }
  }

  /** Merges from's whole state into into, and lets into's clock see from's. */
  merge(from: string, into: string): void {
    this.doc(into).merge(this.doc(from).clone());
    this.observe(from, into);
    this.steps.push({ merge: { from, into } });
  }

  /** Sends into what it lacks of from (a catch-up), recording the delta. */
  deltaSince(from: string, into: string): void {
    const delta = this.doc(from).deltaSince(this.doc(into).context());
    this.doc(into).merge(delta);
    this.observe(from, into);
    this.steps.push({ deltaSince: { from, into }, delta: b64(delta.encode()) });
  }

  private observe(from: string, into: string): void {
    const last = this.clocks.get(from)!.last();
    this.clocks.get(into)!.observe(last, this.wall);
  }

  /** Exchanges catch-ups around the ring until every replica has everything. */
  converge(): void {
    const rs = this.replicas;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < rs.length; i++) this.deltaSince(rs[i], rs[(i + 1) % rs.length]);
    }
  }

  finish(): Case {
    const final: Case['final'] = {};
    for (const r of this.replicas) {
      final[r] = { doc: b64(this.doc(r).encode()), view: viewToJSON(this.view(r)) };
    }
    return { name: this.name, replicas: this.replicas, steps: this.steps, final };
  }
}

// ---- hand-written cases: one per view rule, with true concurrency ----

function block(id: string, type: string, name: string, x: number, y: number, extra: Record<string, unknown> = {}) {
  return { id, type, name, position: { x, y }, ...extra };
}

function conflictsCase(): Case {
  const rec = new Recorder('conflicts', ['alice', 'bob', 'carol']);
  rec.op('alice', 'batch-add-blocks', 'blocks', {
    blocks: [
      block('l1', 'loop', 'Loop 1', 0, 0),
      block('l2', 'loop', 'Loop 2', 600, 0),
      block('a', 'agent', 'A', 0, 300, { subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: 'hi' } } }),
      block('b', 'agent', 'B', 200, 300),
      block('c', 'api', 'C', 400, 300),
      block('d', 'function', 'D', 600, 300),
    ],
    edges: [{ id: 'e-ab', source: 'a', target: 'b' }],
  });
  rec.op('alice', 'add', 'variable', { id: 'v1', name: 'apiKey', type: 'string', value: 'x' });
  rec.merge('alice', 'bob');
  rec.merge('alice', 'carol');
  rec.wall += 1_000;
  // Concurrent, in the same millisecond: move cycle, edge cycle, rename
  // clash, duplicate edges, delete vs edit, remove vs rename of a variable.
  rec.op('alice', 'update-parent', 'block', { id: 'l1', parentId: 'l2', extent: 'parent' });
  rec.op('bob', 'update-parent', 'block', { id: 'l2', parentId: 'l1', extent: 'parent' });
  rec.op('alice', 'add', 'edge', { id: 'e-bc', source: 'b', target: 'c' });
  rec.op('bob', 'add', 'edge', { id: 'e-ca', source: 'c', target: 'a' });
  rec.op('carol', 'add', 'edge', { id: 'e-bc2', source: 'b', target: 'c' }); // duplicates alice's e-bc
  rec.op('carol', 'add', 'edge', { id: 'e-cd', source: 'c', target: 'd' }); // alice removes d meanwhile
  rec.op('alice', 'update-name', 'block', { id: 'c', name: 'Summarize' });
  rec.op('bob', 'update-name', 'block', { id: 'b', name: 'summarize' });
  rec.op('carol', 'update-name', 'block', { id: 'a', name: 'SUMMARIZE' });
  rec.op('alice', 'batch-remove-blocks', 'blocks', { ids: ['d'] });
  rec.op('bob', 'subblock-update', 'subblock', { blockId: 'd', subblockId: 'code', value: 'return 1' });
  rec.op('carol', 'update-position', 'block', { id: 'd', position: { x: -1.5, y: 2.25 } });
  rec.op('alice', 'remove', 'variable', { variableId: 'v1' });
  rec.op('bob', 'variable-update', 'variable', { variableId: 'v1', field: 'name', value: 'token' });
  rec.op('carol', 'toggle-enabled', 'block', { id: 'a' });
  // Deliver in different orders.
  rec.deltaSince('bob', 'alice');
  rec.merge('carol', 'alice');
  rec.deltaSince('alice', 'carol');
  rec.merge('carol', 'bob');
  rec.converge();
  return rec.finish();
}

/**
 * Adds as atomic records: three replicas add one block id, one variable id
 * and one edge id concurrently with different records (in the same
 * millisecond, so the replica id breaks the tie); then one re-adds the block
 * while the others edit the removed one.
 */
function atomicCase(): Case {
  const rec = new Recorder('atomic-records', ['alice', 'bob', 'carol']);
  rec.op('alice', 'batch-add-blocks', 'blocks', {
    blocks: [block('a', 'agent', 'A', 0, 0), block('b', 'agent', 'B', 200, 0), block('c', 'agent', 'C', 400, 0)],
  });
  rec.merge('alice', 'bob');
  rec.merge('alice', 'carol');
  rec.wall += 1_000;
  rec.op('alice', 'batch-add-blocks', 'blocks', {
    blocks: [block('x', 'agent', 'Alpha', 1, 2, { isWide: true, subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: 'a' } } })],
  });
  rec.op('bob', 'batch-add-blocks', 'blocks', {
    blocks: [block('x', 'api', 'Beta', 3, 4, { enabled: false, subBlocks: { url: { id: 'url', type: 'short-input', value: 'b' } } })],
  });
  rec.op('carol', 'add', 'block', { ...block('x', 'function', 'Gamma', 5, 6), advancedMode: true });
  rec.op('alice', 'add', 'variable', { id: 'v', name: 'count', type: 'number', value: 3 });
  rec.op('bob', 'add', 'variable', { id: 'v', name: 'label', type: 'string' });
  rec.op('alice', 'add', 'edge', { id: 'e', source: 'a', target: 'b' });
  rec.op('carol', 'add', 'edge', { id: 'e', source: 'b', target: 'c' });
  rec.converge();
  rec.wall += 1_000;
  rec.op('alice', 'update-wide', 'block', { id: 'x', isWide: true });
  rec.op('bob', 'subblock-update', 'subblock', { blockId: 'x', subblockId: 'url', value: 'edited' });
  rec.wall += 1_000;
  rec.op('carol', 'batch-remove-blocks', 'blocks', { ids: ['x'] });
  rec.op('carol', 'batch-add-blocks', 'blocks', { blocks: [block('x', 'note', 'Delta', 7, 8)] });
  // c is an end of the losing edge add only (alice's is stamped later).
  rec.op('carol', 'batch-remove-blocks', 'blocks', { ids: ['c'] });
  rec.converge();
  return rec.finish();
}

// Texts (issue #17): three replicas type into one prompt and one variable
// at once, one writes the whole value, one deletes across others' words,
// catch-ups arrive out of order, a block with its text is duplicated and
// one is removed while another still types into it.
function textsCase(): Case {
  const rec = new Recorder('texts', ['alice', 'bob', 'carol']);
  rec.op('alice', 'batch-add-blocks', 'blocks', {
    blocks: [
      block('p', 'agent', 'P', 0, 0, { subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: 'Task: ' }, code: { id: 'code', type: 'code', value: null } } }),
      block('q', 'agent', 'Q', 300, 0, { subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: 'é😀' } } }),
    ],
  });
  rec.op('alice', 'add', 'variable', { id: 'v', name: 'greeting', type: 'plain', value: 'hi' });
  rec.merge('alice', 'bob');
  rec.merge('alice', 'carol');
  rec.wall += 1_000;
  for (const [i, ch] of [...'alice'].entries()) rec.op('alice', 'text-insert', 'text', { blockId: 'p', subblockId: 'prompt', index: 6 + i, text: ch });
  rec.op('bob', 'text-insert', 'text', { blockId: 'p', subblockId: 'prompt', index: 6, text: 'BOB 🙂' });
  rec.op('carol', 'subblock-update', 'subblock', { blockId: 'p', subblockId: 'prompt', value: 'Task:  carol' });
  rec.op('bob', 'text-insert', 'text', { variableId: 'v', index: 2, text: ' there' });
  rec.op('carol', 'variable-update', 'variable', { variableId: 'v', field: 'value', value: 'hello' });
  rec.op('alice', 'text-insert', 'text', { blockId: 'p', subblockId: 'code', index: 0, text: 'return 1' });
  // A thin client's whole-value write naming what it edited: rebased past alice's typing.
  rec.op('alice', 'subblock-batch-update', 'subblock', { updates: [{ blockId: 'p', subblockId: 'code', value: 'return 1 // ok', expectedValue: 'return' }] });
  rec.op('alice', 'subblock-batch-update', 'subblock', { updates: [{ blockId: 'p', subblockId: 'code', value: 'return 2', expectedValue: 'return 1' }] });
  rec.op('bob', 'text-delete', 'text', { blockId: 'q', subblockId: 'prompt', index: 0, length: 1 });
  rec.deltaSince('carol', 'alice');
  rec.deltaSince('bob', 'carol');
  rec.deltaSince('alice', 'bob');
  rec.wall += 1_000;
  rec.op('alice', 'text-delete', 'text', { blockId: 'p', subblockId: 'prompt', index: 2, length: 6 });
  rec.op('bob', 'duplicate', 'block', { sourceId: 'q', id: 'q2', position: { x: 0, y: 300 } });
  rec.op('carol', 'text-insert', 'text', { blockId: 'q', subblockId: 'prompt', index: 0, text: '> ' });
  rec.op('alice', 'batch-remove-blocks', 'blocks', { ids: ['q'] });
  rec.op('bob', 'text-insert', 'text', { blockId: 'q2', subblockId: 'prompt', index: 1, text: 'copy' });
  rec.converge();
  return rec.finish();
}

function containersCase(): Case {
  const rec = new Recorder('containers', ['r1', 'r2']);
  rec.op('r1', 'add', 'subflow', {
    id: 'par',
    type: 'parallel',
    name: 'Fan out',
    position: { x: 0, y: 0 },
    config: { parallelType: 'collection', distribution: ['x', 'y'], batchSize: 50 },
  });
  rec.op('r1', 'batch-add-blocks', 'blocks', {
    blocks: [
      block('loop', 'loop', 'Each', 100, 100, { data: { width: 800, parentId: 'par', extent: 'parent' } }),
      block('in1', 'agent', 'Inner 1', 10, 10, { data: { parentId: 'loop', extent: 'parent' } }),
      block('in2', 'agent', 'Inner 2', 50, 10, { data: { parentId: 'loop', extent: 'parent', canonicalModes: { model: 'advanced' } } }),
      block('l2', 'loop', 'Second', 900, 0),
    ],
    edges: [{ id: 'e1', source: 'in1', target: 'in2', sourceHandle: 'source-right', targetHandle: 'target-left' }],
    loops: { loop: { loopType: 'forEach', forEachItems: '<start.items>', iterations: 3 } },
  });
  rec.merge('r1', 'r2');
  rec.wall += 10;
  // Concurrently: r1 moves in2 up into the parallel (its edge from in1 now
  // crosses a container boundary); r2 adds a child to the loop, an edge to
  // it, and retunes the loops.
  rec.op('r1', 'update-parent', 'block', { id: 'in2', parentId: 'par', extent: 'parent' });
  rec.op('r2', 'batch-add-blocks', 'blocks', {
    blocks: [block('in3', 'agent', 'Inner 3', 90, 10, { data: { parentId: 'loop', extent: 'parent' } })],
    edges: [{ id: 'e2', source: 'in1', target: 'in3' }],
  });
  rec.op('r2', 'update', 'subflow', { id: 'l2', type: 'loop', config: { loopType: 'while', whileCondition: '<i> < 3', iterations: 7 } });
  rec.op('r2', 'update', 'subflow', { id: 'par', type: 'parallel', config: { count: 2.5, batchSize: 0 } });
  rec.deltaSince('r1', 'r2');
  rec.deltaSince('r2', 'r1');
  rec.wall += 10;
  // Concurrently: r1 removes the loop (and what it has seen inside it); r2
  // adds another child to it, which shows at the top level (the orphan
  // rule), and sets a retry on in2.
  rec.op('r1', 'batch-remove-blocks', 'blocks', { ids: ['loop'] });
  rec.op('r2', 'batch-add-blocks', 'blocks', {
    blocks: [block('in4', 'agent', 'Inner 4', 130, 10, { data: { parentId: 'loop', extent: 'parent' } })],
  });
  rec.op('r2', 'update-retry', 'block', { id: 'in2', retry: { maxAttempts: 3, backoff: 'exponential' } });
  rec.op('r2', 'update', 'subflow', { id: 'l2', type: 'loop', config: { doWhileCondition: '<x>', forEachItems: { a: [1, 2] } } });
  rec.converge();
  return rec.finish();
}

function treeCase(): Case {
  const rec = new Recorder('tree', ['r1', 'r2', 'r3']);
  rec.op('r1', 'batch-add-blocks', 'blocks', {
    blocks: [
      block('l1', 'loop', 'L1', 0, 0),
      block('l2', 'loop', 'L2', 600, 0),
      block('l3', 'parallel', 'L3', 1200, 0),
      block('c', 'agent', 'C', 10, 10, { data: { parentId: 'l2', extent: 'parent' } }),
      block('w', 'agent', 'Worker', 0, 400),
    ],
  });
  rec.merge('r1', 'r2');
  rec.merge('r1', 'r3');
  rec.wall += 10;
  // A three-container cycle by concurrent moves; meanwhile r3 removes l3 and
  // r1 moves w into it (w shows at the top level after the merge).
  rec.op('r1', 'update-parent', 'block', { id: 'l1', parentId: 'l2', extent: 'parent' });
  rec.op('r2', 'update-parent', 'block', { id: 'l2', parentId: 'l1', extent: 'parent' });
  rec.op('r1', 'batch-update-parent', 'blocks', { updates: [{ id: 'w', parentId: 'l3', position: { x: 5, y: 5 } }] });
  rec.op('r3', 'batch-remove-blocks', 'blocks', { ids: ['l3'] });
  rec.converge();
  rec.wall += 10;
  // On the merged tree: moving l1 into l2 again clears l2's stale pointer;
  // duplicating top-level l2 lands the copy at the top; toggles and a lock
  // follow the view; moving l2 into l1 is refused (a descendant).
  rec.op('r1', 'batch-update-parent', 'blocks', { updates: [{ id: 'l1', parentId: 'l2' }] });
  rec.op('r2', 'duplicate', 'block', { sourceId: 'l2', id: 'l2copy' });
  rec.op('r3', 'batch-toggle-enabled', 'blocks', { blockIds: ['l1'] });
  rec.op('r3', 'batch-toggle-locked', 'blocks', { blockIds: ['l2'] });
  rec.converge();
  rec.wall += 10;
  rec.op('r1', 'update-parent', 'block', { id: 'l2', parentId: 'l1', extent: 'parent' });
  rec.op('r2', 'batch-remove-blocks', 'blocks', { ids: ['w', 'l1'] });
  rec.converge();
  return rec.finish();
}

// ---- random cases ----

const types = ['agent', 'api', 'function', 'condition', 'router', 'note', 'loop', 'parallel', 'starter'];
/** Names that clash once normalized, or are reserved or empty: most are refused, some race. */
const clashingNames = ['Agent', 'agent', 'Agent 2', 'fetch data', 'Fetch.Data', 'Ünïcode', 'ÜNÏCODE', 'Loop', ''];
const subTypes = ['short-input', 'long-input', 'code', 'combobox', 'table'];

function randomValue(rnd: Rand, depth = 0): unknown {
  switch (rnd.int(depth > 1 ? 5 : 7)) {
    case 0:
      return rnd.pick(['', 'hello', 'héllo wörld', '{{start.input}}', '😀 emoji', 'line\nbreak']);
    case 1:
      return rnd.int(2000) - 1000;
    case 2:
      return (rnd.int(400) - 200) / 8; // exact in binary
    case 3:
      return rnd.chance(0.5);
    case 4:
      return null;
    case 5:
      return Array.from({ length: rnd.int(4) }, () => randomValue(rnd, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rnd.int(4); i > 0; i--) o[rnd.pick(['a', 'b', 'key', 'Z', 'ü', 'nested'])] = randomValue(rnd, depth + 1);
      return o;
    }
  }
}

/** One random operation for replica r, mostly on what r currently sees. */
function randomOp(rnd: Rand, rec: Recorder, r: string, seq: { n: number }): [string, string, Record<string, unknown>] {
  const v = rec.view(r);
  const blocks = Object.keys(v.blocks).sort();
  const containers = blocks.filter((id) => ['loop', 'parallel'].includes(v.blocks[id].type));
  const edges = v.edges.map((e) => e.id);
  const vars = Object.keys(v.variables).sort();
  // Sometimes aim at something r does not have (removed, or never seen).
  const someBlock = (): string => (blocks.length === 0 || rnd.chance(0.08) ? `ghost-${rnd.int(3)}` : rnd.pick(blocks));
  const pos = () => ({ x: rnd.int(1000) - 500 + 0.25, y: rnd.int(1000) - 500 });
  const newId = (p: string) => `${r}-${p}${++seq.n}`;
  // Mostly fresh names (accepted); sometimes one that clashes.
  const name = (fresh: string) => (rnd.chance(0.2) ? rnd.pick(clashingNames) : `Block ${fresh}`);
  // Edges mostly join blocks with the same parent, which the scope rule allows.
  const edgeEnds = (): [string, string] => {
    const s = someBlock();
    const parent = v.blocks[s]?.data.parentId;
    const peers = blocks.filter((id) => id !== s && v.blocks[id].data.parentId === parent);
    return [s, peers.length > 0 && rnd.chance(0.8) ? rnd.pick(peers) : someBlock()];
  };
  // Draws 18..21 add edges too: edges are refused often (cycles, scope,
  // note blocks, trigger targets), so they need the extra weight.
  const draw = rnd.int(blocks.length < 3 ? 3 : 22);
  switch (draw >= 18 ? 7 : draw) {
    case 0:
    case 1:
    case 2: {
      const n = 1 + rnd.int(3);
      const bs = [];
      for (let i = 0; i < n; i++) {
        const id = newId('b');
        const b: Record<string, unknown> = { id, type: rnd.pick(types), name: name(id), position: pos() };
        if (rnd.chance(0.5)) b.subBlocks = { s1: { id: 's1', type: rnd.pick(subTypes), value: randomValue(rnd) } };
        if (containers.length > 0 && rnd.chance(0.4)) b.data = { parentId: rnd.pick(containers), extent: 'parent' };
        if (rnd.chance(0.2)) b.height = rnd.int(300);
        bs.push(b);
      }
      return ['batch-add-blocks', 'blocks', { blocks: bs }];
    }
    case 3:
      return ['update-name', 'block', { id: someBlock(), name: name(`${r} ${seq.n++}`) }];
    case 4:
      return ['update-position', 'block', { id: someBlock(), position: pos() }];
    case 5:
      return ['toggle-enabled', 'block', { id: someBlock() }];
    case 6:
      return [
        'update-parent',
        'block',
        { id: someBlock(), parentId: containers.length > 0 && rnd.chance(0.7) ? rnd.pick(containers) : null, extent: 'parent' },
      ];
    case 7:
    case 8:
      return [
        'add',
        'edge',
        {
          id: newId('e'),
          ...(([source, target]) => ({ source, target }))(edgeEnds()),
          ...(rnd.chance(0.3) ? { sourceHandle: rnd.pick(['source', 'source-right', 'condition-if']) } : {}),
        },
      ];
    case 9:
      return ['remove', 'edge', { id: edges.length > 0 ? rnd.pick(edges) : 'no-edge' }];
    case 10:
      return rnd.chance(0.5)
        ? ['batch-remove-blocks', 'blocks', { ids: [someBlock()] }]
        : ['batch-update-positions', 'blocks', { updates: [{ id: someBlock(), position: pos() }, { id: someBlock(), position: pos() }] }];
    case 11:
    case 12:
      return ['subblock-update', 'subblock', { blockId: someBlock(), subblockId: rnd.pick(['s1', 's2', 'prompt']), value: randomValue(rnd) }];
    case 13: {
      const id = containers.length > 0 ? rnd.pick(containers) : someBlock();
      const type = v.blocks[id]?.type ?? 'loop';
      const config = rnd.chance(0.5)
        ? { iterations: rnd.int(30) - 5, loopType: rnd.pick(['for', 'forEach', 'while']), forEachItems: randomValue(rnd) }
        : { count: rnd.int(10), batchSize: rnd.int(40) - 5, distribution: randomValue(rnd) };
      return ['update', 'subflow', { id, type, config }];
    }
    case 14:
      return vars.length === 0 || rnd.chance(0.3)
        ? ['add', 'variable', { id: newId('v'), name: rnd.pick(['apiKey', 'token', 'count']), type: 'string', value: randomValue(rnd) }]
        : ['variable-update', 'variable', { variableId: rnd.pick(vars), field: rnd.pick(['name', 'value']), value: rnd.pick(['renamed', 'other']) }];
    case 15:
      return vars.length > 0 ? ['remove', 'variable', { variableId: rnd.pick(vars) }] : ['update-wide', 'block', { id: someBlock(), isWide: true }];
    case 16:
      return rnd.chance(0.5)
        ? ['update-advanced-mode', 'block', { id: someBlock(), advancedMode: rnd.chance(0.5) }]
        : ['update-canonical-mode', 'block', { id: someBlock(), canonicalId: 'model', canonicalMode: rnd.pick(['basic', 'advanced']) }];
    default:
      return rnd.chance(0.3)
        ? ['batch-toggle-locked', 'blocks', { blockIds: [someBlock()] }]
        : ['duplicate', 'block', { sourceId: someBlock(), id: newId('d') }];
  }
}

function randomCase(name: string, seed: number, replicas: string[], steps: number): Case {
  const rnd = new Rand(seed);
  const rec = new Recorder(name, replicas);
  const seq = { n: 0 };
  for (let i = 0; i < steps; i++) {
    // Time moves in small steps and sometimes not at all, so replicas often
    // share a millisecond and tie-breaks by replica id are exercised.
    rec.wall += rnd.int(3);
    const r = rnd.pick(replicas);
    const roll = rnd.int(100);
    if (roll < 8) {
      const into = rnd.pick(replicas.filter((x) => x !== r));
      rec.merge(r, into);
    } else if (roll < 16) {
      const into = rnd.pick(replicas.filter((x) => x !== r));
      rec.deltaSince(r, into);
    } else {
      const [op, target, payload] = randomOp(rnd, rec, r, seq);
      rec.op(r, op, target, payload);
    }
  }
  rec.converge();
  return rec.finish();
}

function generate(): VectorFile {
  return {
    version: 1,
    generator: 'clients/js/test/ts_vectors.test.ts',
    cases: [
      conflictsCase(),
      containersCase(),
      atomicCase(),
      treeCase(),
      textsCase(),
      randomCase('random-3-replicas-seed-1', 1, ['r1', 'r2', 'r3'], 80),
      randomCase('random-3-replicas-seed-2', 2, ['r1', 'r2', 'r3'], 80),
      randomCase('random-2-replicas-seed-7', 7, ['a', 'b'], 100),
      // Non-ASCII replica ids: the replica table and every tie-break sort
      // them by UTF-8 bytes (U+1F600 after U+FFFD, unlike UTF-16 order).
      randomCase('random-unicode-replicas-seed-11', 11, ['\ufffd-r', '\u{1F600}-r', 'é-r'], 80),
    ],
  };
}

function serialize(f: VectorFile): string {
  return JSON.stringify(f, null, 1) + '\n';
}

describe('TypeScript → Go vectors', () => {
  const generated = generate();
  const text = serialize(generated);

  it('every replica of every case converges to the same state and view', () => {
    for (const c of generated.cases) {
      const docs = Object.values(c.final).map((f) => f.doc);
      const views = Object.values(c.final).map((f) => f.view);
      expect(new Set(docs).size, c.name).toBe(1);
      for (const v of views) expect(v, c.name).toEqual(views[0]);
    }
  });

  it('exercises accepted and refused operations, merges and catch-ups', () => {
    const steps = generated.cases.flatMap((c) => c.steps);
    const count = (f: (s: Step) => boolean) => steps.filter(f).length;
    expect(count((s) => 'op' in s && 'delta' in s)).toBeGreaterThan(100);
    expect(count((s) => 'error' in s)).toBeGreaterThan(5);
    expect(count((s) => 'merge' in s)).toBeGreaterThan(5);
    expect(count((s) => 'deltaSince' in s)).toBeGreaterThan(10);
    const blocks = generated.cases.map((c) => Object.keys((Object.values(c.final)[0].view as { blocks: object }).blocks).length);
    expect(Math.min(...blocks)).toBeGreaterThan(0);
  });

  it('matches the committed test/vectors/ts-vectors.json', () => {
    if (process.env.UPDATE_VECTORS === '1') {
      mkdirSync(dirname(vectorsPath), { recursive: true });
      writeFileSync(vectorsPath, text);
      return;
    }
    let committed: string;
    try {
      committed = readFileSync(vectorsPath, 'utf8');
    } catch {
      throw new Error(`${vectorsPath} is missing; generate it with UPDATE_VECTORS=1 npx vitest run test/ts_vectors`);
    }
    // A structural comparison first, for a readable diff; then the bytes.
    expect(JSON.parse(committed), 'regenerate with UPDATE_VECTORS=1 if the change is intended').toEqual(JSON.parse(text));
    expect(committed === text, 'the committed file is not formatted as the generator writes it').toBe(true);
  });
});
