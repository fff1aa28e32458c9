// The view's conflict rules exist for concurrent edits only. As
// model_test.go's render states: name suffixes, cycle breaking, duplicate
// edges, hidden orphans and move-cycle breaking must never fire for a single
// replica's history, because the operations refuse whatever would need them.
// This test drives one replica through seeded random histories and checks,
// after every accepted operation, that the view shows exactly the stored
// state, with only the scope rule applied (update-parent moves a block
// without touching its edges, as the reference does).

import { describe, expect, it } from 'vitest';
import { Clock } from '../src/crdt/hlc';
import { apply } from '../src/workflow/builder';
import { Doc, KindBlock, KindEdge, type Key } from '../src/workflow/doc';
import { asEdge, asString } from '../src/workflow/fields';
import { parseOp } from '../src/workflow/parse';
import { fieldKey, isContainer } from '../src/workflow/state';
import { compareStrings } from '../src/workflow/util';
import { buildView } from '../src/workflow/view';

/** mulberry32, as in ts_vectors.test.ts: deterministic across runs and platforms. */
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

function liveIds(doc: Doc, kind: number): string[] {
  const ids: string[] = [];
  doc.store().range((k: Key) => {
    if (k.kind === kind) ids.push(k.id);
    return true;
  });
  return ids.sort(compareStrings);
}

/**
 * Checks that the view is the stored state with only the scope rule applied;
 * returns how many edges and child blocks it shows, so the caller can tell
 * that the history reached interesting states.
 */
function checkView(doc: Doc, where: string): { edges: number; children: number } {
  const v = buildView(doc);
  const blocks = liveIds(doc, KindBlock);
  const parent = (id: string) => asString(doc.get(fieldKey(id, 'parentId')));
  // No hidden orphans: every member shows.
  expect(Object.keys(v.blocks).sort(compareStrings), where).toEqual(blocks);
  for (const id of blocks) {
    const b = v.blocks[id];
    // No name suffixes, and no move-cycle breaking.
    expect(b.name, `${where}: name of ${id}`).toBe(asString(doc.get(fieldKey(id, 'name'))));
    expect(b.data.parentId ?? '', `${where}: parent of ${id}`).toBe(parent(id));
  }
  // No cycle breaking and no duplicate removal: every stored edge whose ends
  // satisfy the scope rule shows.
  const edges = liveIds(doc, KindEdge).filter((id) => {
    const e = asEdge(doc.get({ kind: KindEdge, id, sub: '' }));
    const ps = parent(e.source);
    const pt = parent(e.target);
    return ps === pt || ps === e.target || pt === e.source;
  });
  expect(
    v.edges.map((e) => e.id),
    `${where}: edges`,
  ).toEqual(edges);
  // Every container has its config, listing its children.
  for (const id of blocks) {
    const type = v.blocks[id].type;
    if (!isContainer(type)) continue;
    const sub = type === 'loop' ? v.loops[id] : v.parallels[id];
    expect(sub?.nodes, `${where}: nodes of ${id}`).toEqual(blocks.filter((c) => parent(c) === id));
  }
  return { edges: v.edges.length, children: blocks.filter((id) => parent(id) !== '').length };
}

function history(seed: number, steps: number): { accepted: number; refused: number; maxEdges: number; maxChildren: number } {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)];
  const doc = new Doc();
  const clock = new Clock('solo');
  let wall = 1;
  let seq = 0;
  let accepted = 0;
  let refused = 0;
  let maxEdges = 0;
  let maxChildren = 0;
  for (let i = 0; i < steps; i++) {
    const v = buildView(doc);
    const blocks = Object.keys(v.blocks).sort(compareStrings);
    const containers = blocks.filter((id) => isContainer(v.blocks[id].type));
    const any = () => (blocks.length > 0 ? pick(blocks) : 'none');
    const name = () => (rnd(4) === 0 ? pick(['Agent', 'agent', 'Agent 2', 'agent2']) : `Block ${++seq}`);
    let op: [string, string, Record<string, unknown>];
    switch (blocks.length < 4 ? 0 : rnd(10)) {
      case 0: {
        const id = `b${++seq}`;
        const data = containers.length > 0 && rnd(2) === 0 ? { parentId: pick(containers), extent: 'parent' } : undefined;
        op = ['batch-add-blocks', 'blocks', { blocks: [{ id, type: pick(['agent', 'api', 'loop', 'parallel']), name: name(), position: { x: 0, y: 0 }, data }] }];
        break;
      }
      case 1:
      case 2: {
        // Mostly between blocks with the same parent, which scope allows.
        const source = any();
        const peers = blocks.filter((id) => id !== source && v.blocks[id].data.parentId === v.blocks[source]?.data.parentId);
        op = ['add', 'edge', { id: `e${++seq}`, source, target: peers.length > 0 && rnd(5) > 0 ? pick(peers) : any() }];
        break;
      }
      case 3:
        op = ['update-name', 'block', { id: any(), name: name() }];
        break;
      case 4:
        op = ['update-parent', 'block', { id: any(), parentId: containers.length > 0 && rnd(3) > 0 ? pick(containers) : null, extent: 'parent' }];
        break;
      case 5:
        op = ['batch-update-parent', 'blocks', { updates: [{ id: any(), parentId: containers.length > 0 ? pick(containers) : null }] }];
        break;
      case 6:
        op = rnd(2) === 0 ? ['batch-remove-blocks', 'blocks', { ids: [any()] }] : ['toggle-enabled', 'block', { id: any() }];
        break;
      case 9: {
        const source = any();
        op = ['add', 'edge', { id: `e${++seq}`, source, target: any() }];
        break;
      }
      case 7:
        op = ['remove', 'edge', { id: v.edges.length > 0 ? pick(v.edges).id : 'none' }];
        break;
      default:
        op = ['duplicate', 'block', { sourceId: any(), id: `d${++seq}` }];
    }
    try {
      apply(doc, clock.now(wall++), parseOp(op[0], op[1], op[2]));
      accepted++;
    } catch (e) {
      if (typeof (e as { code?: unknown }).code !== 'string') throw e;
      refused++;
      continue;
    }
    const seen = checkView(doc, `seed ${seed} step ${i} ${op[0]} ${JSON.stringify(op[2])}`);
    maxEdges = Math.max(maxEdges, seen.edges);
    maxChildren = Math.max(maxChildren, seen.children);
  }
  return { accepted, refused, maxEdges, maxChildren };
}

describe('a single replica never triggers the concurrent-edit rules', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}`, () => {
      const { accepted, refused, maxEdges, maxChildren } = history(seed, 250);
      // The history must actually exercise both paths and reach graphs with
      // edges and nested blocks.
      expect(accepted).toBeGreaterThan(100);
      expect(refused).toBeGreaterThan(5);
      expect(maxEdges).toBeGreaterThan(3);
      expect(maxChildren).toBeGreaterThan(1);
    });
  }
});
