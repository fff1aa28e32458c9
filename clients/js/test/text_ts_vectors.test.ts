// The TypeScript → Go half of the text conformance check: seeded scripts of
// edits and exchanges between TypeScript replicas, with every delta's
// bytes and the final states, committed to test/vectors/text-ts-vectors.json;
// Go's crdt/text TestTSVectors replays them and must write the same bytes.
// The file is regenerated in memory on every run and compared with the
// committed one:
//
//   UPDATE_VECTORS=1 npx vitest run test/text_ts_vectors

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { b64, ScriptRunner, type Script, type ScriptStep } from './text_helpers';

const vectorsPath = fileURLToPath(new URL('./vectors/text-ts-vectors.json', import.meta.url));

/** mulberry32: seeded, so every run draws the same script. */
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

const words = ['a', 'xy', 'é', '日本', '😀', 'word ', '\t', 'ab😀c'];

/** A script of steps edits among replicas, exchanging catch-ups now and then, then all of them. */
function script(name: string, seed: number, replicas: string[], steps: number): Script {
  const rnd = prng(seed);
  const run = new ScriptRunner(replicas);
  const sc: Script = { name, replicas, steps: [], final: {} };
  const push = (st: ScriptStep) => {
    sc.steps.push(st);
    const b = run.step(sc, sc.steps.length - 1);
    if (b !== undefined) st.delta = b64(b);
  };
  for (let i = 0; i < steps; i++) {
    const r = replicas[rnd(replicas.length)];
    const n = run.doc(r).length;
    const k = rnd(10);
    if (k === 0) {
      push({ replica: r, since: replicas[rnd(replicas.length)] });
    } else if (k === 1 && i > 0) {
      // Deliver an earlier edit of another replica if its origins are there.
      const j = rnd(sc.steps.length);
      const st = sc.steps[j];
      if ((st.insert || st.delete) && st.replica !== r) {
        try {
          push({ replica: r, mergeStep: j });
        } catch {
          sc.steps.pop(); // its origins had not reached r
        }
      }
    } else if (n > 0 && k < 5) {
      const pos = rnd(n);
      push({ replica: r, delete: { pos, n: 1 + rnd(Math.min(6, n - pos)) } });
    } else {
      push({ replica: r, insert: { pos: rnd(n + 1), text: words[rnd(words.length)] } });
    }
  }
  for (const a of replicas) for (const b of replicas) if (a !== b) push({ replica: a, since: b });
  sc.final = run.final(replicas);
  return sc;
}

function build(): { version: number; scripts: Script[] } {
  return {
    version: 1,
    scripts: [
      script('two-replicas', 1, ['alice', 'bob'], 120),
      script('three-replicas', 2, ['a', 'b', 'c'], 200),
      script('typing-race', 3, ['x1', 'x2', 'x3', 'x4'], 300),
    ],
  };
}

describe('text TypeScript → Go vectors', () => {
  it('are up to date', () => {
    const file = build();
    for (const sc of file.scripts) {
      const texts = new Set(Object.values(sc.final).map((f) => f.state));
      expect(texts.size, `${sc.name}: replicas converge`).toBe(1);
    }
    const text = JSON.stringify(file, null, 1) + '\n';
    if (process.env.UPDATE_VECTORS === '1') {
      writeFileSync(vectorsPath, text);
      return;
    }
    let committed: string;
    try {
      committed = readFileSync(vectorsPath, 'utf8');
    } catch {
      throw new Error(`${vectorsPath} is missing; generate it with UPDATE_VECTORS=1 npx vitest run test/text_ts_vectors`);
    }
    expect(JSON.parse(committed), 'regenerate with UPDATE_VECTORS=1 if the change is intended').toEqual(JSON.parse(text));
  });
});
