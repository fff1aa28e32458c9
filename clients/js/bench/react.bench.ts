// What the React bindings add to a change of the document: the view is
// rebuilt once (buildView, what any editor pays), then shared with the
// previous view (share), then every mounted useBlock row compares its
// block (an identity check once the view is shared). One remote rename of
// one block in a workflow of n blocks, each with a prompt. Run it with
// `BENCH_FILE=react.bench.ts node bench/run.mjs [sizes] [reps]`; the figures
// are in BENCHMARKS.md.

import { Clock } from '../src/crdt/hlc';
import { apply } from '../src/workflow/builder';
import { newDoc, type Doc } from '../src/workflow/doc';
import { parseOp } from '../src/workflow/parse';
import { buildView, type View } from '../src/workflow/view';
import { share } from '../src/react/share';

function buildDoc(n: number, clock: Clock, wall: { t: number }): Doc {
  const doc = newDoc();
  for (let start = 0; start < n; start += 500) {
    const blocks = [];
    for (let i = start; i < Math.min(n, start + 500); i++) {
      blocks.push({
        id: `b${i}`,
        type: 'agent',
        name: `Agent ${i}`,
        position: { x: (i % 40) * 300, y: Math.floor(i / 40) * 200 },
        subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: `prompt of block ${i}` } },
      });
    }
    apply(doc, clock.now(wall.t++), parseOp('batch-add-blocks', 'blocks', { blocks }));
  }
  return doc;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const show = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);

function time(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

const sizes = (process.argv[2] ?? '100,1000,5000').split(',').map(Number);
const reps = Number(process.argv[3] ?? 5);
// A first pass on 300 blocks, not reported, so the first size measured does not pay for compiling the code.
for (const [n, report] of [[300, false] as const, ...sizes.map((n) => [n, true] as const)]) {
  const clock = new Clock('bench');
  const wall = { t: 1_700_000_000_000 };
  const doc = buildDoc(n, clock, wall);
  let prev: View = buildView(doc);
  const rebuild: number[] = [];
  const shared: number[] = [];
  const rows: number[] = [];
  for (let r = 0; r < reps; r++) {
    apply(doc, clock.now(wall.t++), parseOp('update-name', 'block', { id: `b${r % n}`, name: `Renamed ${r}` }));
    let next!: View;
    rebuild.push(time(() => (next = buildView(doc))));
    let out!: View;
    shared.push(time(() => (out = share(prev, next))));
    let changed = 0;
    rows.push(
      time(() => {
        for (const id of out.order) if (share(prev.blocks[id], out.blocks[id]) !== prev.blocks[id]) changed++;
      }),
    );
    if (changed !== 1) throw new Error(`bench: ${changed} rows changed, want 1`);
    prev = out;
  }
  if (!report) continue;
  const line = (name: string, xs: number[]) => console.log(`${name.padEnd(30)} blocks=${String(n).padEnd(6)} median ${show(median(xs)).padStart(10)}   runs ${xs.map(show).join(', ')}`);
  line('buildView (rebuild)', rebuild);
  line('share (view with previous)', shared);
  line(`${n} useBlock rows compare`, rows);
}
