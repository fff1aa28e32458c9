// Cross-language conformance of the text CRDT: replays Go's golden vectors
// (crdt/text/testdata/golden/vectors.json, written by
// crdt/text/golden_test.go) on the TypeScript replica and requires the same
// bytes: scripted edits and exchanges, a slice of a real editing trace,
// the decoder's verdict on mutated and hostile inputs, and Admit's and
// Merge's verdicts on hostile deltas with the state a merge leaves.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { admit, decodeDelta, encodeDelta, loadState, Text, TextError, TextStateLimits, type Delta } from '../src/crdt/text';
import { b64, decodeVerdict, ScriptRunner, unb64, type Script } from './text_helpers';

type GoldenDot = [string, number];

interface GoldenFile {
  version: number;
  scripts: Script[];
  trace: { name: string; replica: string; patches: number; text: string; state: string; half: number; sinceHalf: string };
  decode: { bytes: string; error?: string; delta?: string }[];
  admitBase: string;
  admit: {
    sender: string;
    delta: {
      runs: { id: GoldenDot; len: number; text: string; left: GoldenDot; right: GoldenDot }[];
      deleted: { replica: string; lo: number; hi: number }[];
    };
    admit?: string;
    merge?: string;
    after: string;
  }[];
}

const dir = new URL('../../../crdt/text/testdata/', import.meta.url);
const golden = JSON.parse(readFileSync(fileURLToPath(new URL('golden/vectors.json', dir)), 'utf8')) as GoldenFile;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function verdict(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TextError) return err.code;
    throw err;
  }
  return '';
}

function stateOf(t: Text): string {
  return b64(encodeDelta(t.deltaSince()));
}

function load(state: string): Text {
  const t = new Text();
  t.merge(decodeDelta(unb64(state), TextStateLimits));
  return t;
}

describe('text golden vectors (Go → TypeScript)', () => {
  it('has vectors of every kind', () => {
    expect(golden.version).toBe(1);
    expect(golden.scripts.length).toBeGreaterThan(3);
    expect(golden.decode.length).toBeGreaterThan(50);
    expect(golden.admit.length).toBeGreaterThan(50);
  });

  for (const sc of golden.scripts) {
    it(`replays script ${sc.name} to the same bytes`, () => {
      const run = new ScriptRunner(sc.replicas);
      sc.steps.forEach((st, i) => {
        const b = run.step(sc, i);
        if (b !== undefined) expect(hex(b), `step ${i}`).toBe(hex(unb64(st.delta!)));
      });
      const fin = run.final(sc.replicas);
      for (const r of sc.replicas) {
        expect(fin[r].text, r).toBe(sc.final[r].text);
        expect(fin[r].state, r).toBe(sc.final[r].state);
        expect(fin[r].anchors, r).toEqual(sc.final[r].anchors);
        // The state decodes and re-encodes to itself, and loads into a
        // replica that writes it again.
        expect(b64(encodeDelta(decodeDelta(unb64(sc.final[r].state), TextStateLimits)))).toBe(sc.final[r].state);
        expect(stateOf(loadState(unb64(sc.final[r].state)))).toBe(sc.final[r].state);
      }
    });
  }

  it('replays a slice of a real trace to the same state', () => {
    const tr = golden.trace;
    const raw = JSON.parse(gunzipSync(readFileSync(fileURLToPath(new URL(`${tr.name}.json.gz`, dir)))).toString('utf8')) as {
      startContent: string;
      txns: { patches: [number, number, string][] }[];
    };
    const patches = raw.txns.flatMap((t) => t.patches).slice(0, tr.patches);
    const play = (n: number) => {
      const t = new Text();
      if (raw.startContent !== '') t.insert(tr.replica, 0, raw.startContent);
      for (const [pos, d, s] of patches.slice(0, n)) {
        if (d > 0) t.delete(pos, d);
        if (s !== '') t.insert(tr.replica, pos, s);
      }
      return t;
    };
    const t = play(tr.patches);
    expect(t.toString()).toBe(tr.text);
    expect(stateOf(t)).toBe(tr.state);
    const half = play(tr.half);
    const since = t.deltaSince(half.context());
    expect(b64(encodeDelta(since))).toBe(tr.sinceHalf);
    half.merge(decodeDelta(unb64(tr.sinceHalf), TextStateLimits));
    expect(half.toString()).toBe(tr.text);
    // Merged from the whole state, or loaded, a replica writes the same state.
    expect(stateOf(load(tr.state))).toBe(tr.state);
    const loaded = loadState(unb64(tr.state));
    expect(stateOf(loaded)).toBe(tr.state);
    // A loaded replica goes on editing as one that replayed the trace.
    for (const r of [t, loaded]) {
      r.insert('z', 100, 'typed after loading');
      r.delete(3, 40);
      r.insert(tr.replica, r.length, '!');
    }
    expect(stateOf(loaded)).toBe(stateOf(t));
  });

  it('accepts and refuses exactly the inputs Go does', () => {
    golden.decode.forEach((g, i) => {
      let got = '';
      let re = '';
      try {
        re = b64(encodeDelta(decodeDelta(unb64(g.bytes))));
      } catch (err) {
        got = decodeVerdict(err);
      }
      expect(got, `decode ${i}: ${hex(unb64(g.bytes))}`).toBe(g.error ?? '');
      if (got === '') expect(re, `decode ${i}`).toBe(g.delta);
    });
  });

  it('loads or refuses with a TextError every decoder input', () => {
    let loaded = 0;
    golden.decode.forEach((g, i) => {
      try {
        const t = loadState(unb64(g.bytes));
        // loadState does not re-derive the canonical form, so it may load
        // what decodeDelta refuses as not canonical, but nothing else
        // decodeDelta refuses; a canonical state loads into a replica
        // that writes it again byte for byte.
        if (g.error === 'NotCanonical') return;
        expect(g.error, `input ${i} loads but does not decode`).toBeUndefined();
        expect(stateOf(t), `input ${i}`).toBe(g.bytes);
        loaded++;
      } catch (err) {
        expect(err instanceof TextError && err.malformed, `input ${i}: ${String(err)}`).toBe(true);
      }
    });
    expect(loaded).toBeGreaterThan(0);
    for (const sc of golden.scripts) for (const r of sc.replicas) expect(stateOf(loadState(unb64(sc.final[r].state)))).toBe(sc.final[r].state);
  });

  it('admits and merges hostile deltas as Go does', () => {
    const dot = (d: GoldenDot) => ({ replica: d[0], counter: d[1] });
    golden.admit.forEach((g, i) => {
      const d: Delta = {
        runs: g.delta.runs.map((r) => ({ id: dot(r.id), len: r.len, text: r.text, left: dot(r.left), right: dot(r.right) })),
        deleted: g.delta.deleted.map((x) => ({ ...x })),
      };
      const t = load(golden.admitBase);
      expect(verdict(() => admit(t, d, g.sender)), `admit ${i}`).toBe(g.admit ?? '');
      expect(stateOf(t), `admit ${i} changed the replica`).toBe(golden.admitBase);
      expect(verdict(() => t.merge(d)), `merge ${i}`).toBe(g.merge ?? '');
      expect(stateOf(t), `merge ${i}`).toBe(g.after);
    });
  });
});
