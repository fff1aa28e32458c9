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
