// The view's rules at the level of the store: every rule and tie-break of
// crdt/workflow/view.go exercised with hand-made entries (exact stamps and
// dots), so the tests pin the order decisions without going through the
// operations. view_scenarios.test.ts covers the same rules end to end.

import { describe, expect, it } from 'vitest';
import {
  KindBlock,
  KindBlockField,
  KindEdge,
  KindSubBlock,
  KindSubBlockType,
  KindSubflow,
  KindVariable,
  KindVariableField,
  type Key,
  type Value,
} from '../src/workflow/doc';
import { anyValue, boolValue, edgeValue, floatValue, positionValue, stringValue } from '../src/workflow/fields';
import { viewToJSON } from '../src/workflow/json';
import { buildView, type View, type ViewEntry, type ViewSource } from '../src/workflow/view';

interface At {
  wall: number;
  logical?: number;
  replica?: string;
}

/**
 * A store built by hand: each put is one entry with the stamp given and the
 * next counter of its replica. forEachKey can walk keys in insertion or
 * reverse order, since Go ranges over a map in random order and the view
 * must not depend on it.
 */
class Store implements ViewSource {
  private readonly keys = new Map<string, { key: Key; es: ViewEntry[] }>();
  private readonly counters = new Map<string, number>();
  reversed = false;

  put(kind: number, id: string, sub: string, value: Value, at: At = { wall: 1 }): this {
    const replica = at.replica ?? 'r';
    const counter = (this.counters.get(replica) ?? 0) + 1;
    this.counters.set(replica, counter);
    const k = JSON.stringify([kind, id, sub]);
    let slot = this.keys.get(k);
    if (slot === undefined) {
      slot = { key: { kind, id, sub } as Key, es: [] };
      this.keys.set(k, slot);
    }
    slot.es.push({ dot: { replica, counter }, value: { wall: at.wall, logical: at.logical ?? 0, value } });
    return this;
  }

  block(id: string, type = 'agent', name = '', at?: At): this {
    this.put(KindBlock, id, '', null, at);
    this.put(KindBlockField, id, 'type', stringValue(type), at);
    if (name !== '') this.put(KindBlockField, id, 'name', stringValue(name), at);
    return this;
  }

  field(id: string, field: string, value: Value, at?: At): this {
    return this.put(KindBlockField, id, field, value, at);
  }

  edge(id: string, source: string, target: string, at?: At, handles: { sh?: string; th?: string; ty?: string } = {}): this {
    return this.put(
      KindEdge,
      id,
      '',
      edgeValue({ id: '', source, target, sourceHandle: handles.sh ?? '', targetHandle: handles.th ?? '', type: handles.ty ?? '' }),
      at,
    );
  }

  entries(k: Key): readonly ViewEntry[] {
    return this.keys.get(JSON.stringify([k.kind, k.id, k.sub]))?.es ?? [];
  }

  forEachKey(fn: (k: Key, entries: readonly ViewEntry[]) => void): void {
    const slots = [...this.keys.values()];
    if (this.reversed) slots.reverse();
    for (const s of slots) fn(s.key, s.es);
  }
}

/** The view of s, checked to be the same whatever order the store is walked in. */
function view(s: Store): View {
  s.reversed = false;
  const a = buildView(s);
  s.reversed = true;
  const b = buildView(s);
  s.reversed = false;
  expect(viewToJSON(b)).toEqual(viewToJSON(a));
  return a;
}

describe('block rendering', () => {
  it('reads absent fields as the reference defaults', () => {
    const v = view(new Store().block('a', 'agent'));
    const b = v.blocks.a;
    expect(b).toMatchObject({
      id: 'a',
      type: 'agent',
      name: '',
      position: { x: 0, y: 0 },
      outputs: {},
      enabled: true,
      horizontalHandles: true,
      isWide: false,
      advancedMode: false,
      triggerMode: false,
      errorEnabled: false,
      height: 0,
      locked: false,
    });
    expect(b.retry).toBeUndefined();
    expect(Object.keys(b.data)).toEqual([]);
    expect(viewToJSON(v).blocks.a).not.toHaveProperty('retry');
    expect(v.edges).toEqual([]);
  });

  it('reads every written field', () => {
    const s = new Store()
      .block('a', 'api', 'Call')
      .field('a', 'position', positionValue({ x: 1.5, y: -2 }))
      .field('a', 'enabled', boolValue(false))
      .field('a', 'horizontalHandles', boolValue(false))
      .field('a', 'isWide', boolValue(true))
      .field('a', 'advancedMode', boolValue(true))
      .field('a', 'triggerMode', boolValue(true))
      .field('a', 'errorEnabled', boolValue(true))
      .field('a', 'locked', boolValue(true))
      .field('a', 'height', floatValue(120))
      .field('a', 'outputs', anyValue({ result: { type: 'string' } }))
      .field('a', 'retry', anyValue({ maxAttempts: 3 }))
      .field('a', 'data.note', stringValue('x'))
      .field('a', 'canonicalMode.model', stringValue('advanced'))
      .field('a', 'canonicalMode.empty', stringValue(''));
    const b = view(s).blocks.a;
    expect(b.position).toEqual({ x: 1.5, y: -2 });
    expect([b.enabled, b.horizontalHandles, b.isWide, b.advancedMode, b.triggerMode, b.errorEnabled, b.locked]).toEqual([
      false, false, true, true, true, true, true,
    ]);
    expect(b.height).toBe(120);
    expect(b.outputs).toEqual({ result: { type: 'string' } });
    expect(b.retry).toEqual({ maxAttempts: 3 });
    // canonical modes with an empty mode are left out, as Go skips them.
    expect({ ...b.data }).toEqual({ note: 'x', canonicalModes: { model: 'advanced' } });
  });

  it('reads values of the wrong shape as zero values, the same on every replica', () => {
    const s = new Store()
      .block('a')
      .field('a', 'name', floatValue(7))
      .field('a', 'position', stringValue('nowhere'))
      .field('a', 'enabled', stringValue('yes'))
      .field('a', 'height', stringValue('tall'))
      .field('a', 'outputs', Uint8Array.of(0xc1)); // not msgpack at all
    const b = view(s).blocks.a;
    expect(b.name).toBe('');
    expect(b.position).toEqual({ x: 0, y: 0 });
    expect(b.enabled).toBe(true);
    expect(b.height).toBe(0);
    expect(b.outputs).toBeNull(); // Go's Value.MarshalJSON renders undecodable values as null
  });

  it('shows parentId and extent only on a block whose parent is a container', () => {
    const s = new Store()
      .block('loop', 'loop', 'Loop 1')
      .block('agent', 'agent', 'Agent')
      .block('c', 'agent', 'C')
      .field('c', 'parentId', stringValue('loop'))
      .field('c', 'extent', stringValue('parent'))
      .block('d', 'agent', 'D')
      .field('d', 'parentId', stringValue('agent')) // not a container: ignored
      .field('d', 'extent', stringValue('parent'))
      .block('top', 'agent', 'Top')
      .field('top', 'extent', stringValue('parent')); // extent without parent stays hidden
    const v = view(s);
    expect(v.blocks.c.data.parentId).toBe('loop');
    expect(v.blocks.c.data.extent).toBe('parent');
    expect(v.blocks.d.data).not.toHaveProperty('parentId');
    expect(v.blocks.d.data).not.toHaveProperty('extent');
    expect(v.blocks.top.data).not.toHaveProperty('extent');
    expect(v.loops.loop.nodes).toEqual(['c']);
  });

  it('shows sub-blocks with a value or a type; "unknown" stands for a missing type', () => {
    const s = new Store()
      .block('a')
      .put(KindSubBlock, 'a', 'prompt', stringValue('hi'))
      .put(KindSubBlockType, 'a', 'model', stringValue('combobox'))
      .put(KindSubBlockType, 'a', 'ghost', floatValue(3)) // a type that is not a string, and no value
      .put(KindSubBlock, 'a', 'typed', anyValue([1, 2]))
      .put(KindSubBlockType, 'a', 'typed', stringValue('table'));
    const subs = view(s).blocks.a.subBlocks;
    expect(Object.keys(subs).sort()).toEqual(['model', 'prompt', 'typed']);
    expect(subs.prompt).toEqual({ id: 'prompt', type: 'unknown', value: 'hi' });
    expect(subs.model).toEqual({ id: 'model', type: 'combobox', value: null });
    expect(subs.typed).toEqual({ id: 'typed', type: 'table', value: [1, 2] });
  });

  it('takes the winning write of concurrent values: hybrid time, then replica in byte order', () => {
    const s = new Store()
      .block('a')
      .field('a', 'name', stringValue('older'), { wall: 5, replica: 'z' })
      .field('a', 'name', stringValue('newer'), { wall: 6, replica: 'a' })
      .field('a', 'position', positionValue({ x: 1, y: 1 }), { wall: 9, logical: 2, replica: 'a' })
      .field('a', 'position', positionValue({ x: 2, y: 2 }), { wall: 9, logical: 1, replica: 'z' })
      // Same hybrid time: the greater replica id wins, compared by UTF-8
      // bytes as Go does: U+1F600 (F0 9F 98 80) sorts after U+FFFD (EF BF BD),
      // although its UTF-16 form (D83D …) sorts before.
      .field('a', 'height', floatValue(1), { wall: 9, replica: '\ufffd' })
      .field('a', 'height', floatValue(2), { wall: 9, replica: '\u{1F600}' });
    const b = view(s).blocks.a;
    expect(b.name).toBe('newer');
    expect(b.position).toEqual({ x: 1, y: 1 });
    expect(b.height).toBe(2);
  });
});

describe('visibility', () => {
  it('shows the children of a removed container at the top level (the orphan rule); their edges to removed blocks hide', () => {
    const s = new Store()
      .field('loop', 'type', stringValue('loop')) // fields survive, membership is gone
      .block('c1', 'agent', 'C1')
      .field('c1', 'parentId', stringValue('loop'))
      .block('c2', 'agent', 'C2')
      .field('c2', 'parentId', stringValue('loop'))
      .block('gc', 'agent', 'Grandchild')
      .edge('e', 'c1', 'c2')
      .edge('e2', 'c1', 'gone');
    s.field('gc', 'parentId', stringValue('c1')); // c1 is no container: gc's parent is ignored
    const v = view(s);
    expect(Object.keys(v.blocks).sort()).toEqual(['c1', 'c2', 'gc']);
    for (const id of ['c1', 'c2', 'gc']) expect(v.blocks[id].data).not.toHaveProperty('parentId');
    expect(v.edges.map((e) => e.id)).toEqual(['e']); // both ends show, both top-level now
    expect(Object.keys(v.loops)).toEqual([]);
  });

  it('keeps a chain of descendants under a removed container, rooted at the top level', () => {
    const s = new Store()
      .field('outer', 'type', stringValue('loop'))
      .block('inner', 'parallel', 'Inner')
      .field('inner', 'parentId', stringValue('outer'))
      .block('leaf', 'agent', 'Leaf')
      .field('leaf', 'parentId', stringValue('inner'))
      .block('other', 'agent', 'Other');
    const v = view(s);
    expect(Object.keys(v.blocks).sort()).toEqual(['inner', 'leaf', 'other']);
    expect(v.blocks.inner.data).not.toHaveProperty('parentId');
    expect(v.blocks.leaf.data.parentId).toBe('inner');
    expect(Object.keys(v.parallels)).toEqual(['inner']);
    expect(v.order.indexOf('inner')).toBeLessThan(v.order.indexOf('leaf'));
  });

  it('breaks a move cycle at its newest pointer', () => {
    const s = new Store()
      .block('l1', 'loop', 'Loop 1')
      .block('l2', 'loop', 'Loop 2')
      .block('l3', 'loop', 'Loop 3')
      .field('l1', 'parentId', stringValue('l2'), { wall: 2000, replica: 'alice' })
      .field('l2', 'parentId', stringValue('l3'), { wall: 2001, replica: 'bob' })
      .field('l3', 'parentId', stringValue('l1'), { wall: 2002, replica: 'carol' });
    const v = view(s);
    expect(v.blocks.l1.data.parentId).toBe('l2');
    expect(v.blocks.l2.data.parentId).toBe('l3');
    expect(v.blocks.l3.data).not.toHaveProperty('parentId');
    expect(v.loops.l3.nodes).toEqual(['l2']);
    expect(v.loops.l2.nodes).toEqual(['l1']);
    expect(v.loops.l1.nodes).toEqual([]);
  });

  it('orders moves with equal stamps by block id', () => {
    const s = new Store()
      .block('a', 'loop', 'A')
      .block('b', 'loop', 'B')
      .put(KindBlockField, 'a', 'parentId', stringValue('b'), { wall: 7, replica: 'x' })
      .put(KindBlockField, 'b', 'parentId', stringValue('a'), { wall: 7, replica: 'x' });
    // Same wall and replica: the dot's counter decides (a's write came first).
    const v = view(s);
    expect(v.blocks.a.data.parentId).toBe('b');
    expect(v.blocks.b.data).not.toHaveProperty('parentId');
  });
});

describe('names', () => {
  it('keeps a name for the earliest writer and suffixes the others with the smallest free number', () => {
    const s = new Store()
      .block('a', 'agent')
      .block('b', 'agent')
      .block('c', 'agent')
      .block('d', 'agent')
      .field('a', 'name', stringValue('Summarize'), { wall: 10, replica: 'x' })
      .field('b', 'name', stringValue('summarize'), { wall: 11, replica: 'x' })
      .field('c', 'name', stringValue('Sum marize'), { wall: 12, replica: 'x' })
      .field('d', 'name', stringValue('summarize 2'), { wall: 9, replica: 'x' });
    const v = view(s);
    // d wrote "summarize 2" first, so b skips 2 and c gets the next free one.
    expect(v.blocks.d.name).toBe('summarize 2');
    expect(v.blocks.a.name).toBe('Summarize');
    expect(v.blocks.b.name).toBe('summarize 3');
    expect(v.blocks.c.name).toBe('Sum marize 4');
  });

  it('breaks name-stamp ties by block id and ignores hidden and unnamed blocks', () => {
    const s = new Store()
      .block('b', 'agent', 'Same', { wall: 1, replica: 'q' })
      .block('a', 'agent', '', { wall: 1, replica: 'q' })
      .block('c', 'agent', '', { wall: 1, replica: 'q' })
      .field('gone', 'name', stringValue('Same'), { wall: 0, replica: 'a' });
    s.field('a', 'name', stringValue('same'), { wall: 5, replica: 'q' });
    s.field('c', 'name', stringValue('SAME'), { wall: 5, replica: 'q' });
    const v = view(s);
    expect(v.blocks.b.name).toBe('Same');
    // a and c wrote at the same hybrid time by the same replica: the dot
    // (counter) orders them, a first.
    expect(v.blocks.a.name).toBe('same 2');
    expect(v.blocks.c.name).toBe('SAME 3');
    expect(v.blocks).not.toHaveProperty('gone');
  });
});

describe('edges', () => {
  const graph = () =>
    new Store()
      .block('a', 'agent', 'A')
      .block('b', 'agent', 'B')
      .block('c', 'agent', 'C');

  it('breaks a cycle at its newest edge and sorts edges by id', () => {
    const s = graph()
      .edge('z-ab', 'a', 'b', { wall: 1 })
      .edge('y-bc', 'b', 'c', { wall: 2 })
      .edge('x-ca', 'c', 'a', { wall: 3 });
    expect(view(s).edges.map((e) => e.id)).toEqual(['y-bc', 'z-ab']);
  });

  it('orders edges of equal wall and logical time by replica id', () => {
    const s = graph().edge('e2', 'a', 'b', { wall: 1, replica: 'r' }).edge('e1', 'b', 'a', { wall: 1, replica: 's' });
    // e1 is newer (replica s > r), so it closes the cycle and is dropped.
    expect(view(s).edges.map((e) => e.id)).toEqual(['e2']);
  });

  it('shows only the earliest of duplicate edges; different handles are different edges', () => {
    const s = graph()
      .edge('e1', 'a', 'b', { wall: 5 })
      .edge('e0', 'a', 'b', { wall: 6 })
      .edge('e3', 'a', 'b', { wall: 7 }, { sh: 'condition-if' })
      .edge('e4', 'a', 'b', { wall: 8 }, { ty: 'custom' }); // type is not part of the identity
    const v = view(s);
    expect(v.edges.map((e) => e.id)).toEqual(['e1', 'e3']);
    expect(viewToJSON(v).edges).toEqual([
      { id: 'e1', source: 'a', target: 'b' },
      { id: 'e3', source: 'a', sourceHandle: 'condition-if', target: 'b' },
    ]);
  });

  it('hides self-loops, edges to hidden blocks and edges across a container boundary', () => {
    const s = graph()
      .block('loop', 'loop', 'Loop 1')
      .block('in', 'agent', 'In')
      .field('in', 'parentId', stringValue('loop'))
      .edge('self', 'a', 'a')
      .edge('dangling', 'a', 'removed')
      .edge('across', 'a', 'in')
      .edge('into', 'loop', 'in') // container to its direct child: allowed
      .edge('out', 'in', 'loop') // allowed by scope, but closes a cycle with the older 'into'
      .edge('ok', 'a', 'loop');
    expect(view(s).edges.map((e) => e.id)).toEqual(['into', 'ok']);
  });

  it('drops an edge whose value is malformed', () => {
    const s = graph().put(KindEdge, 'bad', '', stringValue('a->b'));
    expect(view(s).edges).toEqual([]);
  });
});

describe('subflows', () => {
  it('renders loop defaults and mirrors them into data', () => {
    const v = view(new Store().block('l', 'loop', 'Loop 1'));
    expect(v.loops.l).toEqual({
      id: 'l',
      nodes: [],
      iterations: 5,
      loopType: 'for',
      forEachItems: '',
      whileCondition: '',
      doWhileCondition: '',
    });
    expect({ ...v.blocks.l.data }).toEqual({
      type: 'subflowNode',
      width: 500,
      height: 300,
      count: 5,
      loopType: 'for',
      collection: '',
    });
    const json = viewToJSON(v).loops.l;
    expect(json).not.toHaveProperty('whileCondition');
    expect(json).not.toHaveProperty('doWhileCondition');
  });

  it('reads loop config, ignoring non-finite and non-numeric numbers', () => {
    const s = new Store()
      .block('l', 'loop', 'Loop 1')
      .field('l', 'data.width', floatValue(800))
      .put(KindSubflow, 'l', 'iterations', floatValue(Infinity))
      .put(KindSubflow, 'l', 'loopType', stringValue('while'))
      .put(KindSubflow, 'l', 'whileCondition', stringValue('<x> < 3'))
      .put(KindSubflow, 'l', 'forEachItems', anyValue(['a', 'b']));
    const v = view(s);
    expect(v.loops.l.iterations).toBe(5);
    expect(v.loops.l.loopType).toBe('while');
    expect(v.loops.l.forEachItems).toEqual(['a', 'b']);
    expect(v.blocks.l.data).toMatchObject({ width: 800, height: 300, collection: ['a', 'b'], whileCondition: '<x> < 3' });
  });

  it('renders parallels with batchSize clamped to 1..20', () => {
    const s = new Store()
      .block('p', 'parallel', 'P')
      .block('q', 'parallel', 'Q')
      .block('r', 'parallel', 'R')
      .put(KindSubflow, 'p', 'batchSize', floatValue(0))
      .put(KindSubflow, 'q', 'batchSize', floatValue(50))
      .put(KindSubflow, 'r', 'parallelType', stringValue('collection'))
      .put(KindSubflow, 'r', 'distribution', anyValue({ k: [1] }))
      .put(KindSubflow, 'r', 'count', floatValue(2.5));
    const v = view(s);
    expect(v.parallels.p.batchSize).toBe(1);
    expect(v.parallels.q.batchSize).toBe(20);
    expect(v.parallels.r).toEqual({
      id: 'r',
      nodes: [],
      count: 2.5,
      parallelType: 'collection',
      distribution: { k: [1] },
      batchSize: 20,
    });
    expect(v.blocks.r.data).toMatchObject({ count: 2.5, parallelType: 'collection', batchSize: 20, collection: { k: [1] } });
  });
});

describe('variables', () => {
  it('shows members only, with their fields', () => {
    const s = new Store()
      .put(KindVariable, 'v1', '', null)
      .put(KindVariableField, 'v1', 'name', stringValue('apiKey'))
      .put(KindVariableField, 'v1', 'type', stringValue('string'))
      .put(KindVariableField, 'v1', 'value', anyValue({ secret: true }))
      .put(KindVariable, 'v2', '', null)
      .put(KindVariableField, 'gone', 'name', stringValue('orphan'));
    const v = view(s);
    expect(Object.keys(v.variables).sort()).toEqual(['v1', 'v2']);
    expect(v.variables.v1).toEqual({ id: 'v1', name: 'apiKey', type: 'string', value: { secret: true } });
    expect(v.variables.v2).toEqual({ id: 'v2', name: '', type: '', value: null });
  });
});

describe('atomic records', () => {
  it('shows the winning add whole: values stamped before it are not part of the block', () => {
    const alice = { wall: 5, replica: 'alice' };
    const bob = { wall: 5, replica: 'bob' }; // same time: the replica id breaks the tie
    const s = new Store()
      .block('x', 'agent', 'Alpha', alice)
      .field('x', 'isWide', boolValue(true), alice)
      .put(KindSubBlock, 'x', 'prompt', stringValue('from alpha'), alice)
      .put(KindSubBlockType, 'x', 'prompt', stringValue('long-input'), alice)
      .put(KindSubflow, 'x', 'iterations', floatValue(9), alice)
      .block('x', 'api', 'Beta', bob)
      .field('x', 'enabled', boolValue(false), bob)
      // Stamped after the winning add: an edit that applies.
      .field('x', 'position', positionValue({ x: 7, y: 8 }), { wall: 6, replica: 'alice' });
    const b = view(s).blocks.x;
    expect(b).toMatchObject({ type: 'api', name: 'Beta', enabled: false, isWide: false, position: { x: 7, y: 8 } });
    expect(b.subBlocks).toEqual({});
  });

  it('hides variable fields stamped before the winning add', () => {
    const s = new Store()
      .put(KindVariable, 'v', '', null, { wall: 1 })
      .put(KindVariableField, 'v', 'name', stringValue('old'), { wall: 1 })
      .put(KindVariableField, 'v', 'value', anyValue(3), { wall: 1 })
      .put(KindVariable, 'v', '', null, { wall: 2, replica: 'q' })
      .put(KindVariableField, 'v', 'name', stringValue('new'), { wall: 2, replica: 'q' });
    expect(view(s).variables.v).toEqual({ id: 'v', name: 'new', type: '', value: null });
  });
});

describe('ids that are Object.prototype names', () => {
  it('are ordinary keys', () => {
    const s = new Store().block('__proto__', 'agent', 'P').block('constructor', 'agent', 'C');
    const v = view(s);
    expect(Object.keys(v.blocks).sort()).toEqual(['__proto__', 'constructor']);
    const json = JSON.parse(JSON.stringify(viewToJSON(v)));
    expect(Object.keys(json.blocks).sort()).toEqual(['__proto__', 'constructor']);
  });
});
