// Per-operation cost of the TypeScript replica at growing document sizes:
// what one edit costs the browser that makes it (prepare, without merging),
// what answering a peer that missed k edits costs (deltaSince), and what
// merging one remote one-field delta costs. The fixture and the operations
// are crdt/workflow/bench_test.go's (buildDoc, BenchmarkStructuralOp,
// BenchmarkDeltaSinceBehind, BenchmarkApplyOneFieldDelta), so the figures
// compare with Go's. Run it with bench/run.mjs; it uses only API that
// predates the document index, so the same file measures older sources.

import { Clock, type Timestamp } from '../src/crdt/hlc';
import { apply, prepare, type Op } from '../src/workflow/builder';
import type { Doc } from '../src/workflow/doc';
import { newDoc } from '../src/workflow/doc';
import { decode } from '../src/workflow/encode';
import { parseOp } from '../src/workflow/parse';
import { blockType } from '../src/workflow/state';
import { buildView } from '../src/workflow/view';

const benchWall = 1_700_000_000_000;

/** mulberry32: seeded, so every run draws the same operations. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** A replica's clock on a deterministic wall clock advancing 1 ms per reading. */
class BenchClock {
  private readonly c: Clock;
  constructor(
    replica: string,
    public wall = benchWall,
  ) {
    this.c = new Clock(replica);
  }
  now(): Timestamp {
    this.wall++;
    return this.c.now(this.wall);
  }
}

const hex = (i: number, w: number): string => i.toString(16).padStart(w, '0');
/** A deterministic UUID-shaped block id, as long as the real ones (Go: benchID). */
const benchID = (i: number): string => `${hex(i, 8)}-0000-4000-8000-${hex(i, 12)}`;

function benchBlock(i: number, type: string): Record<string, unknown> {
  const b: Record<string, unknown> = { id: benchID(i), type, name: `Agent ${i}`, position: { x: (i % 50) * 250, y: Math.floor(i / 50) * 150 } };
  if (type === 'loop') return { ...b, name: `Loop ${i}` };
  b.subBlocks = {
    model: { id: 'model', type: 'combobox', value: 'gpt-4o' },
    systemPrompt: { id: 'systemPrompt', type: 'long-input', value: `You are agent ${i}.` },
    temperature: { id: 'temperature', type: 'slider', value: 0.7 },
  };
  return b;
}

const op = (name: string, target: string, payload: Record<string, unknown>): Op => parseOp(name, target, payload);

interface Fixture {
  doc: Doc;
  ids: string[];
  top: string[];
  loop: string;
}

/**
 * Go's buildDoc: n blocks by replica "builder", agents with a name, a
 * position and 3 sub-blocks chained by edges, and up to 10 loops with 4
 * chained agent children each, added in batches of 100 (1,000 above 10,000
 * blocks).
 */
function buildDoc(n: number): Fixture {
  const doc = newDoc();
  const clock = new BenchClock('builder', benchWall - 1_000_000);
  const ids: string[] = [];
  const top: string[] = [];
  let loop = '';
  const nLoops = Math.min(10, Math.max(1, Math.floor(n / 100)));
  const loopEvery = Math.max(1, Math.floor(n / nLoops));
  const childrenPerLoop = 4;
  let prevTop = '';
  const batch = n > 10_000 ? 1000 : 100;
  for (let start = 0; start < n; start += batch) {
    const blocks: Record<string, unknown>[] = [];
    const edges: Record<string, unknown>[] = [];
    const end = Math.min(start + batch, n);
    for (let i = start; i < end; ) {
      if (i % loopEvery === 0 && i + childrenPerLoop < end) {
        const l = benchBlock(i, 'loop');
        blocks.push(l);
        ids.push(l.id as string);
        if (loop === '') loop = l.id as string;
        let prevChild = '';
        for (let c = 1; c <= childrenPerLoop; c++) {
          const ch: Record<string, unknown> = { ...benchBlock(i + c, 'agent'), data: { parentId: l.id, extent: 'parent' } };
          blocks.push(ch);
          ids.push(ch.id as string);
          if (prevChild !== '') edges.push({ id: `e-${ch.id}`, source: prevChild, target: ch.id });
          prevChild = ch.id as string;
        }
        i += childrenPerLoop + 1;
        continue;
      }
      const b = benchBlock(i, 'agent');
      blocks.push(b);
      ids.push(b.id as string);
      top.push(b.id as string);
      if (prevTop !== '') edges.push({ id: `e-${b.id}`, source: prevTop, target: b.id, sourceHandle: 'source', targetHandle: 'target' });
      prevTop = b.id as string;
      i++;
    }
    apply(doc, clock.now(), op('batch-add-blocks', 'blocks', { blocks, edges }));
  }
  return { doc, ids, top, loop };
}

/**
 * Go's mixedOps: n operations from three replicas, mostly position updates
 * and sub-block edits, some renames, a few removals and adds.
 */
function mixedOps(doc: Doc, ids0: string[], n: number, seed: number): void {
  const rnd = prng(seed);
  const clocks = ['alice', 'bob', 'carol'].map((r) => new BenchClock(r));
  const ids = [...ids0];
  let next = 1_000_000;
  for (let i = 0; i < n; i++) {
    const clock = clocks[rnd(clocks.length)];
    const idx = rnd(ids.length);
    const id = ids[idx];
    const p = rnd(100);
    let o: Op;
    if (p < 65) o = op('update-position', 'block', { id, position: { x: rnd(10000), y: rnd(10000) } });
    else if (p < 90) o = op('subblock-update', 'subblock', { blockId: id, subblockId: 'systemPrompt', value: `You are agent ${idx}, revision ${i}.` });
    else if (p < 96) o = op('update-name', 'block', { id, name: `Renamed ${i}` });
    else if (p < 98 && blockType(doc, id) !== 'loop') {
      o = op('batch-remove-blocks', 'blocks', { ids: [id] });
      ids[idx] = ids[ids.length - 1];
      ids.pop();
    } else {
      const b = benchBlock(next++, 'agent');
      o = op('batch-add-blocks', 'blocks', { blocks: [b] });
      ids.push(b.id as string);
    }
    apply(doc, clock.now(), o);
  }
}

/** Milliseconds per call of fn: at least minIters calls and minMs of running. */
function measure(fn: () => void, minIters: number, minMs: number): number {
  fn(); // warm up (and, for an indexed document, build what the call needs)
  let iters = 0;
  const t0 = performance.now();
  let t = t0;
  while (iters < minIters || t - t0 < minMs) {
    fn();
    iters++;
    t = performance.now();
  }
  return (t - t0) / iters;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function show(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(1)} µs`;
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

function reportLine(name: string, n: number, runs: number[]): void {
  console.log(`${name.padEnd(28)} blocks=${String(n).padEnd(6)} median ${show(median(runs)).padStart(10)}   runs ${runs.map(show).join(', ')}`);
}

function main(): void {
  const sizes = (process.argv[2] ?? '1000,10000,50000').split(',').map(Number);
  const reps = Number(process.argv[3] ?? 3);
  // A first pass on a small document, not reported, so that the first size
  // measured is not the one that pays for compiling the code.
  run([300], 1, true);
  run(sizes, reps, false);
}

function run(sizes: number[], reps: number, quiet: boolean): void {
  const report = quiet ? () => {} : reportLine;
  const log = quiet ? () => {} : (s: string) => console.log(s);
  const ts: Timestamp = { wall: benchWall + 1_000_000, logical: 0, replica: 'preparer' };
  for (const n of sizes) {
    const t0 = performance.now();
    const f = buildDoc(n);
    log(`# fixture blocks=${n}: built in ${show(performance.now() - t0)}`);
    const { doc, top, loop } = f;
    const mid = top[Math.floor(top.length / 2)];
    const ops: [string, Op][] = [
      ['add', op('batch-add-blocks', 'blocks', { blocks: [benchBlock(10_000_000, 'agent')] })],
      ['remove', op('batch-remove-blocks', 'blocks', { ids: [mid] })],
      ['rename', op('update-name', 'block', { id: mid, name: 'Reviewer' })],
      ['move', op('update-parent', 'block', { id: mid, parentId: loop, extent: 'parent' })],
      ['edge-add', op('add', 'edge', { id: 'bench-edge', source: top[top.length - 3], target: top[top.length - 1] })],
      ['edge-remove', op('remove', 'edge', { id: `e-${mid}` })],
      ['duplicate', op('duplicate', 'block', { sourceId: mid, id: benchID(10_000_001) })],
      ['position', op('update-position', 'block', { id: mid, position: { x: 1, y: 2 } })],
      ['subblock', op('subblock-update', 'subblock', { blockId: mid, subblockId: 'systemPrompt', value: 'You are a careful reviewer of pull requests' })],
    ];
    for (const [name, o] of ops) {
      const runs: number[] = [];
      for (let r = 0; r < reps; r++) runs.push(measure(() => prepare(doc, ts, o), 3, 200));
      report(`prepare ${name}`, n, runs);
    }
    for (const k of [1, 100]) {
      const behind = doc.clone();
      const ahead = doc.clone();
      mixedOps(ahead, f.ids, k, 11);
      const check = behind.clone();
      check.merge(ahead.deltaSince(behind.context()));
      if (!check.equal(ahead)) throw new Error('deltaSince: the behind replica does not catch up');
      const runs: number[] = [];
      for (let r = 0; r < reps; r++) runs.push(measure(() => ahead.deltaSince(behind.context()), 3, 200));
      report(`deltaSince behind=${k}`, n, runs);
    }
    {
      // One-field deltas by another replica merged into a long-lived
      // document, one that has prepared an operation (so its index, where
      // there is one, is built).
      const pool = 2000;
      const writer = doc.clone();
      const clock = new BenchClock('writer');
      const rnd = prng(2);
      const deltas = Array.from({ length: pool }, (_, i) =>
        apply(writer, clock.now(), op('update-position', 'block', { id: f.ids[rnd(f.ids.length)], position: { x: i, y: i % 977 } })),
      );
      const runs: number[] = [];
      for (let r = 0; r < reps; r++) {
        const reader = doc.clone();
        prepare(reader, ts, ops[7][1]);
        const t1 = performance.now();
        for (const d of deltas) reader.merge(d);
        runs.push((performance.now() - t1) / pool);
      }
      report('merge one-field delta', n, runs);
    }
    if (process.env.BENCH_WHOLE === '0') continue; // the whole-document paths, which this index does not change
    const enc = doc.encode();
    for (const [name, fn] of [
      ['view', () => buildView(doc)],
      ['encode', () => doc.encode()],
      ['decode', () => decode(enc)],
    ] as [string, () => void][]) {
      const runs: number[] = [];
      for (let r = 0; r < reps; r++) runs.push(measure(fn, 2, 200));
      report(name, n, runs);
    }
  }
}

main();
