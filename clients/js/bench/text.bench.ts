// The TypeScript text replica on the real editing traces of
// crdt/text/testdata: each patch applied as one local edit, the state
// encoded, loaded (decoded and merged into an empty replica), and every
// edit's delta merged in order into an empty replica, as Go's
// crdt/text/bench_test.go does. Run it alone with
//
//   BENCH_FILE=text.bench.ts nice node bench/run.mjs [trace] [reps]
//
// benchmarks/jstext replays the same traces into Yjs and Loro in the same
// run through textAdapter. The figures are in BENCHMARKS.md.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { encodeDelta, loadState, Text, type Delta } from '../src/crdt/text';

/** [position, deleted count, inserted text], positions in code points. */
export type Patch = [number, number, string];

export interface Trace {
  startContent: string;
  endContent: string;
  patches: Patch[];
}

/** Reads a gzipped trace (crdt/text/testdata/README.md has the format). */
export function readTrace(path: string): Trace {
  const raw = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as {
    startContent: string;
    endContent: string;
    txns: { patches: Patch[] }[];
  };
  const patches: Patch[] = [];
  for (const t of raw.txns) for (const p of t.patches) patches.push(p);
  return { startContent: raw.startContent, endContent: raw.endContent, patches };
}

/** What the harness asks of each implementation. */
export interface TextAdapter<D> {
  name: string;
  /** Applies every patch as one local edit to a new document. */
  apply(tr: Trace): D;
  text(d: D): string;
  /** The whole document, with what merging late edits needs. */
  encode(d: D): Uint8Array;
  /** A new document from encode's bytes. */
  load(b: Uint8Array): D;
}

export const flowsyncAdapter: TextAdapter<Text> = {
  name: 'flowsync-ts',
  apply(tr) {
    const t = new Text();
    if (tr.startContent !== '') t.insert('a', 0, tr.startContent);
    for (const [pos, del, ins] of tr.patches) {
      if (del > 0) t.delete(pos, del);
      if (ins !== '') t.insert('a', pos, ins);
    }
    return t;
  },
  text: (t) => t.toString(),
  encode: (t) => encodeDelta(t.deltaSince()),
  load: (b) => loadState(b),
};

/** Every patch's deltas, for the remote merge. */
export function deltasOf(tr: Trace): Delta[] {
  const t = new Text();
  const ds: Delta[] = [];
  if (tr.startContent !== '') ds.push(t.insert('a', 0, tr.startContent));
  for (const [pos, del, ins] of tr.patches) {
    if (del > 0) ds.push(t.delete(pos, del));
    if (ins !== '') ds.push(t.insert('a', pos, ins));
  }
  return ds;
}

/** Merges ds in order into an empty replica. */
export function mergeAll(ds: Delta[]): Text {
  const t = new Text();
  for (const d of ds) t.merge(d);
  return t;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

export function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const v = fn();
  return [v, performance.now() - t0];
}

/** Runs the flowsync replica alone: apply, encode, load and remote merge, reps times each. */
export function main(traceDir: string, name: string, reps: number): void {
  const tr = readTrace(`${traceDir}/${name}.json.gz`);
  const apply: number[] = [];
  const load: number[] = [];
  const merge: number[] = [];
  let size = 0;
  for (let i = 0; i < reps; i++) {
    const [t, ms] = time(() => flowsyncAdapter.apply(tr));
    if (t.toString() !== tr.endContent) throw new Error('local replay ends with another text');
    apply.push(ms);
    const b = flowsyncAdapter.encode(t);
    size = b.length;
    const [l, lms] = time(() => flowsyncAdapter.load(b));
    if (l.toString() !== tr.endContent) throw new Error('loaded state has another text');
    load.push(lms);
    const ds = deltasOf(tr);
    const [m, mms] = time(() => mergeAll(ds));
    if (m.toString() !== tr.endContent) throw new Error('remote merge ends with another text');
    merge.push(mms);
  }
  const f = (xs: number[]) => `${median(xs).toFixed(1)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})`;
  console.log(`${name}: ${tr.patches.length} patches, final ${tr.endContent.length} chars`);
  console.log(`  apply  ${f(apply)}`);
  console.log(`  load   ${f(load)}`);
  console.log(`  merge  ${f(merge)}   (every delta, in order, into an empty replica)`);
  console.log(`  state  ${size} bytes`);
}

const g = globalThis as { process?: { argv: string[]; env: Record<string, string | undefined> } };
if (g.process?.env.BENCH_FILE === 'text.bench.ts') {
  const args = g.process.argv.slice(2);
  main(g.process.env.TRACE_DIR ?? '../../crdt/text/testdata', args[0] ?? 'automerge-paper', Number(args[1] ?? 3));
}
