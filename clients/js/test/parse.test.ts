// Port of crdt/workflow/parse_test.go: every supported pair parses from a
// reference payload and applies to the fixture; fields land where they
// should; malformed payloads are refused with Invalid (NoEffect for an
// uncommitted position).

import { describe, expect, it } from 'vitest';
import { isError, type ErrorCode } from '../src/workflow/errors';
import { AddBlock, UpdatePosition } from '../src/workflow/ops_block';
import { AddEdge } from '../src/workflow/ops_edge';
import { SubBlockBatchUpdate, UpdateSubBlock } from '../src/workflow/ops_subblock';
import { UpdateVariable } from '../src/workflow/ops_variable';
import { ReplaceState } from '../src/workflow/ops_workflow';
import { BatchAddBlocks } from '../src/workflow/ops_blocks';
import { operations, parseOp, parseSubBlockUpdate, parseVariableUpdate, type Payload } from '../src/workflow/parse';
import { AddVariable } from '../src/workflow/ops_variable';
import { otFixture } from './ops_helpers';

/** A valid reference payload for every supported pair; each applies cleanly to the fixture (plus variable "v"). */
const otPayloads: Record<string, Payload> = {
  'block/update-position': { id: 'a', position: { x: 1.5, y: 2 }, commit: true },
  // As parse_test.go: the fixture's variable "v" is a string, so its value is a text.
  'text/text-insert': { variableId: 'v', index: 1.0, text: 'héllo ' },
  'text/text-delete': { variableId: 'v', index: 1.0, length: 2.0 },
  'block/update-name': { id: 'a', name: 'Renamed' },
  'block/toggle-enabled': { id: 'a' },
  'block/update-parent': { id: 'a', parentId: 'L', extent: 'parent' },
  'block/update-advanced-mode': { id: 'a', advancedMode: true },
  'block/update-error-enabled': { id: 'a', errorEnabled: true },
  'block/update-retry': { id: 'a', retry: { enabled: true, maxTries: 3.0, waitBetweenTriesMs: 500 } },
  'block/update-canonical-mode': { id: 'a', canonicalId: 'model', canonicalMode: 'advanced' },
  'block/replace-canonical-modes': { id: 'a', data: { canonicalModes: { model: 'basic' } } },
  'block/toggle-handles': { id: 'a', horizontalHandles: false },
  'block/add': {
    id: 'x',
    type: 'agent',
    name: 'X',
    position: { x: 0, y: 0 },
    subBlocks: { p: { id: 'p', type: 'long-input', value: 'hi' } },
    enabled: true,
    height: 10,
    data: { parentId: 'L', extent: 'parent' },
    autoConnectEdge: { id: 'e', source: 'l2', target: 'x', sourceHandle: 'source' },
  },
  'block/remove': { id: 'a' },
  'block/duplicate': { sourceId: 'a', id: 'a2', position: { x: 3, y: 4 } },
  'block/update-wide': { id: 'a', isWide: true },
  'block/update-trigger-mode': { id: 'c', triggerMode: true },
  'blocks/batch-update-positions': { updates: [{ id: 'a', position: { x: 1, y: 1 } }] },
  'blocks/batch-add-blocks': {
    blocks: [
      { id: 'x', type: 'loop', name: 'X', position: { x: 0, y: 0 } },
      { id: 'y', type: 'agent', name: 'Y', parentId: 'x' },
    ],
    edges: [{ id: 'e', source: 'x', target: 'y', sourceHandle: null }],
    loops: { x: { loopType: 'for', iterations: 2, nodes: ['y'] } },
    parallels: {},
    subBlockValues: { y: { prompt: 'hi' } },
  },
  'blocks/batch-remove-blocks': { ids: ['a', 'L'] },
  'blocks/batch-toggle-enabled': { blockIds: ['a'], previousStates: { a: true } },
  'blocks/batch-toggle-handles': { blockIds: ['a'], previousStates: { a: true } },
  'blocks/batch-toggle-locked': { blockIds: ['a', 'LK'] },
  'blocks/batch-update-parent': {
    updates: [
      { id: 'a', parentId: 'L', position: { x: 1, y: 1 } },
      { id: 'l1', parentId: '' },
    ],
  },
  'edge/add': { id: 'e', source: 'b', target: 'c', sourceHandle: 'source-bottom', targetHandle: null },
  'edge/remove': { id: 'ab' },
  'edges/batch-add-edges': { edges: [{ id: 'e', source: 'b', target: 'c' }] },
  'edges/batch-remove-edges': { ids: ['ab', 'nope'] },
  'subflow/update': { id: 'P', type: 'parallel', config: { batchSize: 50 } },
  'subflow/add': { id: 'W', type: 'loop', name: 'While', config: { loopType: 'while' } },
  'subflow/remove': { id: 'L' },
  'subflow/duplicate-with-children': { sourceId: 'L', id: 'M', idMap: { l1: 'm1', l2: 'm2', l12: 'm12' } },
  'subblock/subblock-update': { blockId: 'a', subblockId: 'prompt', value: 'hello' },
  'subblock/subblock-batch-update': { updates: [{ blockId: 'a', subblockId: 'prompt', value: 'x', expectedValue: null }] },
  'variable/add': { id: 'w', name: 'W', type: 'number', value: 3, workflowId: 'wf' },
  'variable/remove': { variableId: 'v' },
  'variable/variable-update': { variableId: 'v', field: 'value', value: 'new' },
  'variable/duplicate': { sourceId: 'v', id: 'v2' },
  'workflow/replace-state': {
    state: {
      blocks: { x: { id: 'x', type: 'agent', name: 'X', position: { x: 0, y: 0 } } },
      edges: [],
      loops: {},
      parallels: {},
    },
  },
};

describe('parseOp', () => {
  it('lists every pair, sorted', () => {
    const ops = operations();
    expect(ops.length).toBe(Object.keys(otPayloads).length);
    expect(ops.map(([t, o]) => `${t}/${o}`)).toEqual(Object.keys(otPayloads).sort());
  });

  for (const [target, operation] of operations()) {
    it(`${target}/${operation} parses and applies`, () => {
      const payload = otPayloads[`${target}/${operation}`];
      expect(payload, 'no test payload').toBeDefined();
      const op = parseOp(operation, target, payload);
      expect(op.name()).toBe(operation);
      const o = otFixture();
      o.ok(new AddVariable({ id: 'v', varName: 'v', type: 'string', value: 'text' }));
      o.ok(op);
    });
  }

  it('reads fields where they belong', () => {
    const edge = parseOp('add', 'edge', otPayloads['edge/add']);
    expect(edge).toBeInstanceOf(AddEdge);
    expect((edge as AddEdge).edge).toEqual({
      id: 'e',
      source: 'b',
      target: 'c',
      sourceHandle: 'source-bottom',
      targetHandle: '',
      type: '',
    });
    const batch = parseOp('subblock-batch-update', 'subblock', otPayloads['subblock/subblock-batch-update']) as SubBlockBatchUpdate;
    // expectedValue: null must be a precondition (that the value is absent).
    expect(batch.updates[0].hasExpected).toBe(true);
    expect(batch.updates[0].expectedValue).toBeNull();
    const sub = parseSubBlockUpdate({ blockId: 'a', subblockId: 'p', value: null });
    expect(sub).toBeInstanceOf(UpdateSubBlock);
    expect((sub as UpdateSubBlock).value).toBeNull();
    const v = parseVariableUpdate({ variableId: 'v', field: 'name', value: 'n' }) as UpdateVariable;
    expect(v).toBeInstanceOf(UpdateVariable);
    expect([v.id, v.field, v.value]).toEqual(['v', 'name', 'n']);
    const add = parseOp('add', 'block', otPayloads['block/add']) as AddBlock;
    expect(add.block.position).toEqual({ x: 0, y: 0 });
    expect(add.block.height).toBe(10);
    expect(add.block.enabled).toBe(true);
    expect(add.block.horizontalHandles).toBeUndefined();
    expect(add.block.subBlocks?.p).toEqual({ id: 'p', type: 'long-input', value: 'hi' });
    expect(add.autoConnectEdge?.source).toBe('l2');
    const pos = parseOp('update-position', 'block', otPayloads['block/update-position']) as UpdatePosition;
    expect(pos.position).toEqual({ x: 1.5, y: 2 });
  });

  it('folds legacy top-level parentId and extent into data, without overriding data', () => {
    const op = parseOp('batch-add-blocks', 'blocks', {
      blocks: [
        { id: 'y', type: 'agent', name: 'Y', parentId: 'x', extent: 'parent' },
        { id: 'z', type: 'agent', name: 'Z', parentId: 'x', data: { parentId: 'w' } },
      ],
    }) as BatchAddBlocks;
    expect(op.blocks[0].data).toEqual({ parentId: 'x', extent: 'parent' });
    expect(op.blocks[1].data).toEqual({ parentId: 'w' });
  });

  it('reads replace-state blocks by key, sorted', () => {
    const op = parseOp('replace-state', 'workflow', {
      state: { blocks: { b: { id: 'b', type: 'agent', position: { x: 0, y: 0 } }, a: { id: 'a', type: 'agent' } } },
    }) as ReplaceState;
    expect(Object.keys(op.blocks)).toEqual(['a', 'b']);
    expect(op.edges).toEqual([]);
    expect(op.loops).toBeUndefined();
  });

  it('ignores inherited property names', () => {
    // "constructor" is on every object's prototype; it must read as absent.
    expect(() => parseOp('toggle-enabled', 'block', { constructor: 'x' } as Payload)).toThrowError(
      expect.objectContaining({ code: 'Invalid' }),
    );
    expect(() => parseOp('toString', 'block', {})).toThrowError(expect.objectContaining({ code: 'Invalid' }));
  });

  const refusals: [string, string, Payload, ErrorCode][] = [
    ['fly', 'block', { id: 'a' }, 'Invalid'],
    ['add', 'galaxy', {}, 'Invalid'],
    ['update-name', 'block', { id: 'a' }, 'Invalid'],
    ['update-name', 'block', { id: 7, name: 'x' }, 'Invalid'],
    ['update-name', 'block', { id: '', name: 'x' }, 'Invalid'],
    ['update-position', 'block', { id: 'a', position: { x: '1', y: 2 } }, 'Invalid'],
    ['update-position', 'block', { id: 'a', position: { x: 1, y: 2 }, commit: false }, 'NoEffect'],
    ['update-position', 'block', { id: 'a', position: { x: Number.NaN, y: 2 } }, 'Invalid'],
    ['toggle-handles', 'block', { id: 'a', horizontalHandles: 'yes' }, 'Invalid'],
    ['update-parent', 'block', { id: 'a', parentId: 3 }, 'Invalid'],
    ['batch-remove-blocks', 'blocks', { ids: 'a' }, 'Invalid'],
    ['batch-remove-blocks', 'blocks', { ids: ['a', 1] }, 'Invalid'],
    ['batch-add-blocks', 'blocks', { blocks: ['a'] }, 'Invalid'],
    ['batch-add-blocks', 'blocks', { blocks: [], loops: { x: 1 } }, 'Invalid'],
    ['batch-add-blocks', 'blocks', { blocks: [{ id: 'x', type: 'agent', subBlocks: [] }] }, 'Invalid'],
    ['batch-update-positions', 'blocks', { updates: [{ id: 'a' }] }, 'Invalid'],
    ['add', 'edge', { id: 'e', source: 'a' }, 'Invalid'],
    ['update', 'subflow', { id: 'L' }, 'Invalid'],
    ['subblock-batch-update', 'subblock', { updates: [{ blockId: 'a' }] }, 'Invalid'],
    ['remove', 'variable', { id: 'v' }, 'Invalid'],
    ['replace-state', 'workflow', { state: { blocks: [] } }, 'Invalid'],
    ['replace-canonical-modes', 'block', { id: 'a', data: { canonicalModes: { m: 1 } } }, 'Invalid'],
  ];
  for (const [operation, target, payload, code] of refusals) {
    it(`refuses ${target}/${operation} ${JSON.stringify(payload)} with ${code}`, () => {
      let err: unknown;
      try {
        parseOp(operation, target, payload);
      } catch (e) {
        err = e;
      }
      expect(isError(err, code), String(err)).toBe(true);
    });
  }

  it('names the offending field', () => {
    expect(() => parseOp('update-name', 'block', { id: 'a' })).toThrowError(/update-name\.name: want a string/);
    expect(() => parseOp('batch-update-positions', 'blocks', { updates: [{ id: 'a', position: { x: 1 } }] })).toThrowError(
      /batch-update-positions\.updates\[0\]\.position\.y: want a finite number/,
    );
  });
});

// Regression: an operation carrying NaN or an infinity was stored, and Go's
// view of the document no longer marshalled to JSON. Refused as Invalid
// (payload numbers by parseOp, values by prepare), changing nothing.
describe('operations refuse NaN and infinities', () => {
  it('refuses them in parsed payloads and in built operations', () => {
    expect(() => parseOp('update-position', 'block', { id: 'a', position: { x: NaN, y: 0 }, commit: true })).toThrow(/finite number/);
    const d = otFixture();
    d.fails(new UpdatePosition({ id: 'a', position: { x: NaN, y: 1 } }), 'Invalid');
    d.fails(new UpdatePosition({ id: 'a', position: { x: 1, y: -Infinity } }), 'Invalid');
    d.fails(new UpdateSubBlock({ blockId: 'a', subBlockId: 'code', value: { deep: [Infinity] } }), 'Invalid');
    d.fails(new AddVariable({ id: 'v', varName: 'v', type: 'number', value: NaN }), 'Invalid');
  });
});
