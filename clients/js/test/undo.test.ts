// Cross-language conformance of the undo manager: replays the Go undo
// scenarios (crdt/workflow/undo_vectors_test.go) with this replica's
// UndoManager, and checks that every edit, undo and redo writes the same
// delta byte for byte, that "nothing to undo" happens at the same steps,
// and that every replica ends with Go's view. Plus the manager's own
// behaviour (grouping, bounds, transactions) on a live document.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apply } from '../src/workflow/builder';
import { Doc } from '../src/workflow/doc';
import { viewToJSON } from '../src/workflow/json';
import { Clock } from '../src/crdt/hlc';
import { isContainer } from '../src/workflow/state';
import { parseOp, type Payload } from '../src/workflow/parse';
import { UndoManager } from '../src/workflow/undo';
import { buildView } from '../src/workflow/view';

interface UndoStepJSON {
  replica?: string;
  ts?: { wall: number; logical: number };
  op?: { name: string; target: string; payload: Payload };
  undo?: boolean;
  redo?: boolean;
  begin?: boolean;
  end?: boolean;
  sync?: boolean;
  delta?: string;
  nothing?: boolean;
}

interface UndoScenario {
  name: string;
  replicas: string[];
  window: number;
  steps: UndoStepJSON[];
  views: Record<string, unknown>;
}

const url = new URL('../../../crdt/workflow/testdata/undo/scenarios.json', import.meta.url);
const scenarios = (JSON.parse(readFileSync(url, 'utf8')) as { scenarios: UndoScenario[] }).scenarios;

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

describe('undo scenario vectors', () => {
  it('has scenarios with undos and redos that write deltas', () => {
    const n = scenarios.flatMap((s) => s.steps).filter((s) => (s.undo || s.redo) && s.delta !== undefined).length;
    expect(n).toBeGreaterThan(10);
  });

  for (const s of scenarios) {
    it(s.name, () => {
      const docs = new Map(s.replicas.map((r) => [r, new Doc()]));
      const ms = new Map(s.replicas.map((r) => [r, new UndoManager({ window: s.window })]));
      const mismatches: string[] = [];
      s.steps.forEach((step, i) => {
        if (step.sync) {
          const all = new Doc();
          for (const d of docs.values()) all.merge(d.clone());
          for (const d of docs.values()) d.merge(all.clone());
          return;
        }
        const r = step.replica as string;
        const doc = docs.get(r) as Doc;
        const m = ms.get(r) as UndoManager;
        if (step.begin) return m.begin();
        if (step.end) return m.end();
        const ts = { wall: step.ts!.wall, logical: step.ts!.logical, replica: r };
        if (step.op !== undefined) {
          const delta = doc.prepare(ts, parseOp(step.op.name, step.op.target, step.op.payload));
          m.record(doc, delta, ts);
          doc.merge(delta);
          if (b64(delta.encode()) !== step.delta) mismatches.push(`step ${i} ${step.op.name}: delta differs`);
          return;
        }
        const delta = step.undo ? m.undo(doc, ts) : m.redo(doc, ts);
        const what = `step ${i} ${step.undo ? 'undo' : 'redo'} by ${r}`;
        if (step.nothing) {
          if (delta !== undefined) mismatches.push(`${what}: wrote a delta, Go had nothing to do`);
        } else if (delta === undefined) {
          mismatches.push(`${what}: nothing to do, Go wrote a delta`);
        } else if (b64(delta.encode()) !== step.delta) {
          mismatches.push(`${what}: delta ${b64(delta.encode())}\n   want ${step.delta}`);
        }
      });
      for (const r of s.replicas) {
        expect(viewToJSON(buildView(docs.get(r) as Doc)), `view of ${r}`).toEqual(s.views[r]);
      }
      expect(mismatches).toEqual([]);
    });
  }
});

describe('UndoManager', () => {
  const block = (id: string, name: string) => ({ id, type: 'agent', name, position: { x: 0, y: 0 } });
  const setup = (m: UndoManager) => {
    const doc = new Doc();
    let wall = 1_000;
    const edit = (name: string, target: string, payload: Payload, step = 1000) => {
      wall += step;
      const ts = { wall, logical: 0, replica: 'r1' };
      const delta = doc.prepare(ts, parseOp(name, target, payload));
      m.record(doc, delta, ts);
      doc.merge(delta);
    };
    const now = () => ({ wall: (wall += 1000), logical: 0, replica: 'r1' });
    return { doc, edit, now };
  };

  it('groups a transaction and cuts groups with stopCapturing', () => {
    const m = new UndoManager({ window: 10_000 });
    const { doc, edit, now } = setup(m);
    m.begin();
    edit('batch-add-blocks', 'blocks', { blocks: [block('a', 'A')] });
    edit('update-name', 'block', { id: 'a', name: 'A2' });
    m.end();
    edit('update-name', 'block', { id: 'a', name: 'A3' }, 10);
    m.stopCapturing();
    edit('update-name', 'block', { id: 'a', name: 'A4' }, 10);
    expect(m.canUndo).toBe(true);
    m.undo(doc, now());
    expect(buildView(doc).blocks['a']?.name).toBe('A3');
    m.undo(doc, now());
    expect(buildView(doc).blocks['a']?.name).toBe('A2');
    m.undo(doc, now());
    expect(Object.keys(buildView(doc).blocks)).toEqual([]);
    expect(m.canUndo).toBe(false);
    expect(m.undo(doc, now())).toBeUndefined();
    expect(m.canRedo).toBe(true);
    m.redo(doc, now());
    expect(buildView(doc).blocks['a']?.name).toBe('A2');
  });

  it('keeps at most maxEntries entries', () => {
    const m = new UndoManager({ window: -1, maxEntries: 2 });
    const { doc, edit, now } = setup(m);
    edit('batch-add-blocks', 'blocks', { blocks: [block('a', 'A')] });
    for (let i = 0; i < 5; i++) edit('update-name', 'block', { id: 'a', name: `N${i}` });
    let n = 0;
    while (m.undo(doc, now()) !== undefined) n++;
    expect(n).toBe(2);
    expect(buildView(doc).blocks['a']?.name).toBe('N2');
  });

  it('never records a merged remote edit', () => {
    const m = new UndoManager();
    const doc = new Doc();
    const other = new Doc();
    doc.merge(apply(other, { wall: 5, logical: 0, replica: 'bob' }, parseOp('batch-add-blocks', 'blocks', { blocks: [block('a', 'A')] })));
    expect(m.canUndo).toBe(false);
    expect(m.undo(doc, { wall: 10, logical: 0, replica: 'alice' })).toBeUndefined();
  });
});

/** mulberry32: deterministic across runs and platforms. */
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

/** The view without the paint order (a restored block is a new add: it paints on top). */
function shown(doc: Doc): unknown {
  const v = { ...viewToJSON(buildView(doc)) } as { order?: unknown };
  delete v.order;
  return v;
}

/** randomOp draws a wire operation over doc's current blocks, edges and variables. */
function randomOp(doc: Doc, rnd: (n: number) => number, seq: () => number): [string, string, Record<string, unknown>] {
  const v = buildView(doc);
  const blocks = Object.keys(v.blocks).sort();
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)];
  const any = () => (blocks.length > 0 ? pick(blocks) : 'none');
  const containers = blocks.filter((id) => isContainer(v.blocks[id].type));
  switch (blocks.length < 3 ? 0 : rnd(11)) {
    case 0: {
      const data = containers.length > 0 && rnd(2) === 0 ? { parentId: pick(containers), extent: 'parent' } : undefined;
      return ['batch-add-blocks', 'blocks', { blocks: [{ id: `b${seq()}`, type: pick(['agent', 'api', 'loop']), name: `Block ${seq()}`, position: { x: rnd(500), y: 0 }, data }] }];
    }
    case 1:
      return ['add', 'edge', { id: `e${seq()}`, source: any(), target: any() }];
    case 2:
      return ['update-name', 'block', { id: any(), name: `Name ${seq()}` }];
    case 3:
      return ['update-position', 'block', { id: any(), position: { x: rnd(900), y: rnd(900) }, commit: true }];
    case 4:
      return ['update-parent', 'block', { id: any(), parentId: containers.length > 0 && rnd(2) === 0 ? pick(containers) : null, extent: 'parent' }];
    case 5:
      return ['batch-remove-blocks', 'blocks', { ids: [any()] }];
    case 6:
      return ['toggle-enabled', 'block', { id: any() }];
    case 7:
      return ['subblock-update', 'subblock', { blockId: any(), subblockId: pick(['p', 'q']), value: `v${seq()}` }];
    case 8:
      return ['remove', 'edge', { id: v.edges.length > 0 ? pick(v.edges).id : 'none' }];
    case 9:
      return ['duplicate', 'block', { sourceId: any(), id: `d${seq()}` }];
    default:
      return rnd(2) === 0
        ? ['add', 'variable', { id: `v${seq()}`, name: `var${seq()}`, type: 'plain', value: seq() }]
        : ['variable-update', 'variable', { variableId: pick([...Object.keys(v.variables), 'none']), field: 'value', value: seq() }];
  }
}

const baseSeed = Number(process.env.FLOWSYNC_SEED ?? Date.now() % 2 ** 31);

describe('UndoManager properties (seeded; replay with FLOWSYNC_SEED)', () => {
  it('undo of an edit gives back the view before it, redo the view after, with nobody else editing', () => {
    console.log(`undo properties: seed ${baseSeed} (replay with FLOWSYNC_SEED=${baseSeed})`);
    let undone = 0;
    for (let run = 0; run < 20; run++) {
      const seed = baseSeed + run;
      const rnd = prng(seed);
      let n = 0;
      const seq = () => ++n;
      const doc = new Doc();
      const clock = new Clock('solo');
      let wall = 1_000;
      const m = new UndoManager({ window: -1 });
      for (let i = 0; i < 40; i++) {
        const before = shown(doc);
        const [name, target, payload] = randomOp(doc, rnd, seq);
        const ts = clock.now((wall += 10));
        let delta: Doc;
        try {
          delta = doc.prepare(ts, parseOp(name, target, payload));
        } catch {
          continue;
        }
        m.record(doc, delta, ts);
        doc.merge(delta);
        const after = shown(doc);
        if (JSON.stringify(after) === JSON.stringify(before)) continue; // nothing visible to undo (maybe no entry)
        const step = m.prepareUndo(doc, clock.now((wall += 10)));
        expect(step, `seed ${seed} #${i} ${name}: nothing to undo`).toBeDefined();
        doc.merge(step!.delta);
        step!.commit();
        undone++;
        expect(shown(doc), `seed ${seed} #${i} undo of ${name} ${JSON.stringify(payload)}`).toEqual(before);
        m.redo(doc, clock.now((wall += 10)));
        expect(shown(doc), `seed ${seed} #${i} redo of ${name}`).toEqual(after);
      }
    }
    expect(undone).toBeGreaterThan(200);
  });

  it('two replicas editing, undoing and redoing at random converge', () => {
    for (let run = 0; run < 20; run++) {
      const seed = baseSeed + 1000 + run;
      const rnd = prng(seed);
      let n = 0;
      const seq = () => ++n;
      const rs = ['alice', 'bob'].map((id) => ({ doc: new Doc(), clock: new Clock(id), m: new UndoManager({ window: -1 }) }));
      let wall = 1_000;
      for (let i = 0; i < 60; i++) {
        const r = rs[rnd(2)];
        const ts = r.clock.now((wall += 10));
        const what = rnd(6);
        if (what < 3) {
          const [name, target, payload] = randomOp(r.doc, rnd, seq);
          try {
            const delta = r.doc.prepare(ts, parseOp(name, target, payload));
            r.m.record(r.doc, delta, ts);
            r.doc.merge(delta);
          } catch {
            // refused: nothing changed
          }
        } else if (what === 3) {
          const all = new Doc();
          for (const x of rs) all.merge(x.doc.clone());
          for (const x of rs) {
            x.doc.merge(all.clone());
            x.clock.observe({ wall, logical: 999, replica: '' }, wall);
          }
        } else if (what === 4) {
          r.m.undo(r.doc, ts);
        } else {
          r.m.redo(r.doc, ts);
        }
      }
      const all = new Doc();
      for (const x of rs) all.merge(x.doc.clone());
      for (const x of rs) x.doc.merge(all.clone());
      expect(rs[0].doc.equal(rs[1].doc), `seed ${seed}: states differ`).toBe(true);
      expect(shown(rs[0].doc), `seed ${seed}: views differ`).toEqual(shown(rs[1].doc));
    }
  });
});
