// Port of crdt/workflow/view_scenarios_test.go. These tests pin the view's
// conflict rules end to end: each starts replicas from one shared state, lets
// them edit concurrently, delivers the deltas in every order and checks that
// states and views agree and that the rule holds. Operations go through
// parseOp in their reference wire form, as an editor sends them.

import { describe, expect, it } from 'vitest';
import { Clock } from '../src/crdt/hlc';
import { apply } from '../src/workflow/builder';
import { Doc } from '../src/workflow/doc';
import { viewToJSON } from '../src/workflow/json';
import { parseOp } from '../src/workflow/parse';
import { buildView, type View } from '../src/workflow/view';
import type { WorkflowError } from '../src/workflow/errors';
import { isProtected } from '../src/workflow/protect';

/** An operation in wire form: [operation, target, payload]. */
type WireOp = [string, string, Record<string, unknown>];

class Scenario {
  readonly base = new Doc();
  readonly wall: number = 1_000;
  private readonly deltas: Doc[] = [];

  constructor(setup: WireOp[]) {
    const clock = new Clock('setup');
    let wall = this.wall;
    for (const [name, target, payload] of setup) {
      wall++;
      apply(this.base, clock.now(wall), parseOp(name, target, payload));
    }
    this.wall = wall;
  }

  /**
   * Applies ops to a copy of the base, as replica, at wall time wall, and
   * records the resulting deltas as one concurrent branch.
   */
  concurrently(replica: string, wall: number, ...ops: WireOp[]): this {
    const doc = this.base.clone();
    const clock = new Clock(replica);
    clock.observe({ wall: this.wall, logical: 0, replica: '' }, this.wall);
    const branch = new Doc();
    for (const [name, target, payload] of ops) {
      branch.merge(apply(doc, clock.now(wall), parseOp(name, target, payload)));
    }
    this.deltas.push(branch);
    return this;
  }

  /**
   * Delivers the branches to the base in every order (each twice: merging is
   * idempotent) and returns the common view, failing if any two orders
   * disagree on the state or the view.
   */
  converge(): View {
    let first: Doc | undefined;
    let firstView: View | undefined;
    for (const order of permutations(this.deltas.length)) {
      const doc = this.base.clone();
      for (const i of order) {
        doc.merge(this.deltas[i]);
        doc.merge(this.deltas[i]);
      }
      const v = buildView(doc);
      // Doc.view() (attached by view.ts) is the same function.
      expect(viewToJSON(doc.view())).toEqual(viewToJSON(v));
      if (first === undefined) {
        first = doc;
        firstView = v;
        continue;
      }
      expect(doc.equal(first), `order ${order}: state differs`).toBe(true);
      expect(viewToJSON(v), `order ${order}: view differs`).toEqual(viewToJSON(firstView!));
    }
    return firstView!;
  }

  /** The base with every branch merged in. */
  merged(): Doc {
    const doc = this.base.clone();
    for (const d of this.deltas) doc.merge(d);
    return doc;
  }
}

/** Applies op to a copy of doc as replica "later" and returns the copy's view. */
function after(doc: Doc, op: WireOp): View {
  const out = doc.clone();
  apply(out, new Clock('later').now(10_000), parseOp(...op));
  return buildView(out);
}

/** The code an operation on a copy of doc is refused with, '' if accepted. */
function refusal(doc: Doc, op: WireOp): string {
  try {
    apply(doc.clone(), new Clock('later').now(10_000), parseOp(...op));
    return '';
  } catch (e) {
    return (e as WorkflowError).code;
  }
}

function permutations(n: number): number[][] {
  const out: number[][] = [];
  const order = Array.from({ length: n }, (_, i) => i);
  const rec = (k: number): void => {
    if (k === n) {
      out.push([...order]);
      return;
    }
    for (let i = k; i < n; i++) {
      [order[k], order[i]] = [order[i], order[k]];
      rec(k + 1);
      [order[k], order[i]] = [order[i], order[k]];
    }
  };
  rec(0);
  return out;
}

function block(id: string, type: string, name: string, x: number, y: number): Record<string, unknown> {
  return { id, type, name, position: { x, y } };
}

function child(id: string, name: string, parent: string): Record<string, unknown> {
  return { ...block(id, 'agent', name, 10, 10), data: { parentId: parent, extent: 'parent' } };
}

const addBlocks = (...blocks: Record<string, unknown>[]): WireOp => ['batch-add-blocks', 'blocks', { blocks }];
const removeBlocks = (...ids: string[]): WireOp => ['batch-remove-blocks', 'blocks', { ids }];
const addEdge = (id: string, source: string, target: string): WireOp => ['add', 'edge', { id, source, target }];
const rename = (id: string, name: string): WireOp => ['update-name', 'block', { id, name }];
const setSub = (blockId: string, subblockId: string, value: unknown): WireOp => [
  'subblock-update',
  'subblock',
  { blockId, subblockId, value },
];
const move = (id: string, parentId: string): WireOp => ['update-parent', 'block', { id, parentId, extent: 'parent' }];

describe('view scenarios (concurrent edits, every delivery order)', () => {
  it('concurrent delete and edit of a block: the remove wins over edits', () => {
    const v = new Scenario([addBlocks(block('a', 'agent', 'Agent 1', 0, 0))])
      .concurrently('alice', 2_000, removeBlocks('a'))
      .concurrently('bob', 2_000, rename('a', 'Renamed'), setSub('a', 'prompt', 'hello'))
      .converge();
    expect(v.blocks).not.toHaveProperty('a');
  });

  it('an edge added to a block another replica deletes does not show', () => {
    const v = new Scenario([addBlocks(block('a', 'agent', 'A', 0, 0), block('b', 'agent', 'B', 100, 0))])
      .concurrently('alice', 2_000, removeBlocks('b'))
      .concurrently('bob', 2_000, addEdge('e1', 'a', 'b'))
      .converge();
    expect(v.edges).toEqual([]);
    expect(v.blocks).toHaveProperty('a');
  });

  it('concurrent edge adds that close a cycle: the cycle breaks at its newest edge', () => {
    const v = new Scenario([
      addBlocks(block('a', 'agent', 'A', 0, 0), block('b', 'agent', 'B', 100, 0), block('c', 'agent', 'C', 200, 0)),
      addEdge('e-ab', 'a', 'b'),
    ])
      .concurrently('alice', 2_000, addEdge('e-bc', 'b', 'c'))
      .concurrently('bob', 2_001, addEdge('e-ca', 'c', 'a'))
      .converge();
    expect(v.edges.map((e) => e.id)).toEqual(['e-ab', 'e-bc']);
  });

  it('containers moved into each other: the newest pointer on the cycle is cut', () => {
    const v = new Scenario([addBlocks(block('l1', 'loop', 'Loop 1', 0, 0), block('l2', 'loop', 'Loop 2', 600, 0))])
      .concurrently('alice', 2_000, move('l1', 'l2'))
      .concurrently('bob', 2_001, move('l2', 'l1'))
      .converge();
    const { l1, l2 } = v.blocks;
    expect(l1).toBeDefined();
    expect(l2).toBeDefined();
    expect(l1.data.parentId).toBe('l2');
    expect(l2.data).not.toHaveProperty('parentId');
    expect(v.loops.l2.nodes).toEqual(['l1']);
    expect(v.loops.l1.nodes).toEqual([]);
  });

  it('concurrent renames to the same name: the earlier keeps it, the later gets " 2"', () => {
    const v = new Scenario([addBlocks(block('a', 'agent', 'A', 0, 0), block('b', 'agent', 'B', 100, 0))])
      .concurrently('alice', 2_000, rename('a', 'Summarize'))
      .concurrently('bob', 2_001, rename('b', 'summarize'))
      .converge();
    expect(v.blocks.a.name).toBe('Summarize');
    expect(v.blocks.b.name).toBe('summarize 2');
  });

  it('remove vs concurrent re-add (undo): the re-add survives (add wins)', () => {
    const v = new Scenario([addBlocks(block('a', 'agent', 'A', 0, 0))])
      .concurrently('alice', 2_000, removeBlocks('a'), addBlocks(block('a', 'agent', 'A', 5, 5)))
      .concurrently('bob', 2_001, removeBlocks('a'))
      .converge();
    const b = v.blocks.a;
    expect(b).toBeDefined();
    expect(b.position).toEqual({ x: 5, y: 5 });
    expect(b.name).toBe('A');
  });

  it('replace-state vs a concurrent edit: replaced blocks stay gone, surviving ones keep the edit', () => {
    const v = new Scenario([addBlocks(block('a', 'agent', 'A', 0, 0), block('b', 'agent', 'B', 100, 0))])
      .concurrently('alice', 2_000, [
        'replace-state',
        'workflow',
        { state: { blocks: { a: block('a', 'agent', 'A', 50, 50), c: block('c', 'agent', 'C', 200, 0) } } },
      ])
      .concurrently('bob', 2_001, setSub('a', 'prompt', 'kept'), rename('b', 'B2'))
      .converge();
    expect(v.blocks).not.toHaveProperty('b');
    expect(v.blocks).toHaveProperty('a');
    expect(v.blocks).toHaveProperty('c');
    expect(v.blocks.a.subBlocks.prompt?.value).toBe('kept');
  });

  it('two users dragging one block: the later drop wins', () => {
    const v = new Scenario([addBlocks(block('a', 'agent', 'A', 0, 0))])
      .concurrently('alice', 2_000, ['update-position', 'block', { id: 'a', position: { x: 10, y: 10 } }])
      .concurrently('bob', 2_005, ['update-position', 'block', { id: 'a', position: { x: 90, y: 90 } }])
      .converge();
    expect(v.blocks.a.position).toEqual({ x: 90, y: 90 });
  });

  it('deleting a container while a child is added: the child shows at the top level', () => {
    const v = new Scenario([addBlocks(block('loop', 'loop', 'Loop 1', 0, 0), child('c1', 'C1', 'loop'))])
      .concurrently('alice', 2_000, removeBlocks('loop'))
      .concurrently('bob', 2_000, addBlocks(child('c2', 'C2', 'loop')), addEdge('e', 'c1', 'c2'))
      .converge();
    expect(Object.keys(v.blocks)).toEqual(['c2']);
    expect(v.blocks.c2.data).not.toHaveProperty('parentId');
    expect(v.edges).toEqual([]);
    expect(Object.keys(v.loops)).toEqual([]);
  });

  it('a variable removed while renamed stays removed', () => {
    const v = new Scenario([['add', 'variable', { id: 'v1', name: 'apiKey', type: 'string', value: 'x' }]])
      .concurrently('alice', 2_000, ['remove', 'variable', { variableId: 'v1' }])
      .concurrently('bob', 2_001, ['variable-update', 'variable', { variableId: 'v1', field: 'name', value: 'token' }])
      .converge();
    expect(v.variables).not.toHaveProperty('v1');
  });

  it('three replicas, concurrent structural edits: duplicate edges collapse, the toggle holds', () => {
    const v = new Scenario([addBlocks(block('a', 'agent', 'A', 0, 0), block('b', 'agent', 'B', 100, 0))])
      .concurrently('alice', 2_000, addEdge('e1', 'a', 'b'))
      .concurrently('bob', 2_000, addEdge('e2', 'a', 'b'))
      .concurrently('carol', 2_000, ['toggle-enabled', 'block', { id: 'a' }])
      .converge();
    expect(v.edges).toHaveLength(1);
    // alice and bob wrote at the same hybrid wall and logical time: the
    // replica id decides which add is earliest, alice < bob.
    expect(v.edges[0].id).toBe('e1');
    expect(v.blocks.a.enabled).toBe(false);
  });
});

describe('view rules a single replica reaches (model_test.go render)', () => {
  it('renders an added block with defaults, sub-blocks and container config', () => {
    const doc = new Doc();
    const clock = new Clock('solo');
    apply(
      doc,
      clock.now(1),
      parseOp('batch-add-blocks', 'blocks', {
        blocks: [
          { ...block('p', 'parallel', 'Fan out', 0, 0), data: { width: 640 } },
          {
            ...block('a', 'agent', 'Agent 1', 10, 20),
            subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: 'hi' }, bare: { id: 'bare' } },
            data: { parentId: 'p', extent: 'parent', canonicalModes: { model: 'advanced' } },
          },
          { ...block('t', 'agent', 'Top', 0, 0), data: { extent: 'parent' } },
        ],
      }),
    );
    const v = buildView(doc);
    const a = v.blocks.a;
    expect(a).toMatchObject({ type: 'agent', name: 'Agent 1', position: { x: 10, y: 20 }, enabled: true, horizontalHandles: true, outputs: {} });
    expect(a.subBlocks.prompt).toEqual({ id: 'prompt', type: 'long-input', value: 'hi' });
    // A sub-block added with neither type nor value is stored as absent and not shown.
    expect(a.subBlocks).not.toHaveProperty('bare');
    expect({ ...a.data }).toEqual({ parentId: 'p', extent: 'parent', canonicalModes: { model: 'advanced' } });
    // The stored extent shows only on a child.
    expect(v.blocks.t.data).not.toHaveProperty('extent');
    expect(v.parallels.p).toEqual({ id: 'p', nodes: ['a'], count: 5, parallelType: 'count', distribution: '', batchSize: 20 });
    expect({ ...v.blocks.p.data }).toEqual({
      width: 640,
      type: 'subflowNode',
      height: 300,
      count: 5,
      parallelType: 'count',
      collection: '',
      batchSize: 20,
    });
    expect(v.variables).toEqual({});
  });

  it('hides an edge that update-parent moved across a container boundary, until it holds again', () => {
    const doc = new Doc();
    const clock = new Clock('solo');
    let wall = 1;
    const run = (...op: WireOp) => apply(doc, clock.now(wall++), parseOp(op[0], op[1], op[2]));
    run(...addBlocks(block('loop', 'loop', 'Loop 1', 0, 0), block('a', 'agent', 'A', 0, 0), block('b', 'agent', 'B', 0, 0)));
    run(...addEdge('e', 'a', 'b'));
    expect(buildView(doc).edges.map((e) => e.id)).toEqual(['e']);
    run(...move('b', 'loop'));
    expect(buildView(doc).edges).toEqual([]);
    run('update-parent', 'block', { id: 'b', parentId: null });
    expect(buildView(doc).edges.map((e) => e.id)).toEqual(['e']);
  });
});

describe('container tree (operations follow the view)', () => {
  const cycle = (...extra: [string, number, WireOp][]): { doc: Doc; v: View } => {
    const s = new Scenario([addBlocks(block('l1', 'loop', 'L1', 0, 0), block('l2', 'loop', 'L2', 600, 0), child('c', 'C', 'l2'))])
      .concurrently('alice', 2_000, move('l1', 'l2'))
      .concurrently('bob', 2_001, move('l2', 'l1'));
    for (const [r, w, op] of extra) s.concurrently(r, w, op);
    const v = s.converge();
    expect([v.blocks.l1.data.parentId, v.blocks.l2.data.parentId, v.blocks.c.data.parentId]).toEqual(['l2', undefined, 'l2']);
    return { doc: s.merged(), v };
  };

  it('removing a cycle end removes exactly its view descendants', () => {
    const { doc } = cycle();
    expect(Object.keys(after(doc, removeBlocks('l1')).blocks).sort()).toEqual(['c', 'l2']);
    expect(Object.keys(after(doc, removeBlocks('l2')).blocks)).toEqual([]);
  });

  it('toggling a cycle end touches exactly its view descendants', () => {
    const { doc } = cycle();
    const v = after(doc, ['batch-toggle-enabled', 'blocks', { blockIds: ['l1'] }]);
    expect([v.blocks.l1.enabled, v.blocks.l2.enabled, v.blocks.c.enabled]).toEqual([false, true, true]);
  });

  it('a lock on a cycle end protects exactly its view descendants', () => {
    const { doc } = cycle(['carol', 2_000, ['batch-toggle-locked', 'blocks', { blockIds: ['l1'] }]]);
    expect(isProtected(doc, 'l1')).toBe(true);
    expect(isProtected(doc, 'l2')).toBe(false);
    expect(refusal(doc, rename('l2', 'Outer'))).toBe('');
    expect(refusal(doc, rename('l1', 'X'))).toBe('Locked');
  });

  it('moving a block into the container it shows in keeps the tree as it is', () => {
    const { doc } = cycle();
    const v = after(doc, ['batch-update-parent', 'blocks', { updates: [{ id: 'l1', parentId: 'l2' }] }]);
    expect(v.blocks.l1.data.parentId).toBe('l2');
    expect(v.blocks.l2.data).not.toHaveProperty('parentId');
    expect(refusal(doc, move('l2', 'l1'))).toBe('Invalid');
  });

  for (const n of [70, 1000]) {
    it(`refuses a move into a descendant ${n} levels down; a lock reaches all the way`, () => {
      const blocks = Array.from({ length: n }, (_, i) => ({
        ...block(`l${i}`, 'loop', `Loop ${i}`, 0, 0),
        ...(i > 0 ? { data: { parentId: `l${i - 1}` } } : {}),
      }));
      const doc = new Doc();
      apply(doc, new Clock('solo').now(1_000), parseOp(...addBlocks(...blocks)));
      expect(refusal(doc, move('l0', `l${n - 1}`))).toBe('Invalid');
      expect(Object.keys(after(doc, removeBlocks(`l${n - 1}`)).blocks).length).toBe(n - 1);
      apply(doc, new Clock('solo').now(2_000), parseOp('batch-toggle-locked', 'blocks', { blockIds: ['l0'] }));
      expect(isProtected(doc, `l${n - 1}`)).toBe(true);
    });
  }

  it('a block moved into a concurrently removed loop shows at the top level and holds its name once', () => {
    const s = new Scenario([addBlocks(block('L', 'loop', 'Loop 1', 0, 0), block('w', 'agent', 'Worker', 700, 0))])
      .concurrently('alice', 2_000, removeBlocks('L'))
      .concurrently('bob', 2_000, ['batch-update-parent', 'blocks', { updates: [{ id: 'w', parentId: 'L', position: { x: 20, y: 30 } }] }]);
    const v = s.converge();
    expect(Object.keys(v.blocks)).toEqual(['w']);
    expect(v.blocks.w.data).not.toHaveProperty('parentId');
    expect(v.blocks.w.position).toEqual({ x: 20, y: 30 });
    const doc = s.merged();
    expect(refusal(doc, addBlocks(block('n1', 'agent', 'Worker', 0, 0)))).toBe('NameConflict');
  });

  it('two offline adds at one spot paint in one order everywhere', () => {
    const v = new Scenario([addBlocks(block('L', 'loop', 'Loop 1', 0, 0))])
      .concurrently('alice', 2_000, addBlocks(block('a4', 'agent', 'Agent 4', 100, 100)))
      .concurrently('bob', 2_000, addBlocks(block('b4', 'agent', 'Agent 4', 100, 100), child('k', 'Kid', 'L')))
      .converge();
    expect(v.order).toEqual(['L', 'k', 'a4', 'b4']);
  });
});
