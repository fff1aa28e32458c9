// Port of the essential cases of crdt/workflow/ops_test.go: refusals with the
// right typed error (and no change), field ops, containers, edges and
// cycles, names, locks and batch semantics, plus builder-level checks
// (dots continue the replica's counter, NoEffect, the MaxCounter guard).

import { describe, expect, it } from 'vitest';
import { Doc } from '../src/workflow/doc';
import { isError, type ErrorCode } from '../src/workflow/errors';
import { apply, prepare, type Op } from '../src/workflow/builder';
import {
  FieldAdvancedMode,
  FieldCanonicalPrefix,
  FieldEnabled,
  FieldErrorEnabled,
  FieldExtent,
  FieldHeight,
  FieldHorizontalHandles,
  FieldIsWide,
  FieldLocked,
  FieldName,
  FieldParentID,
  FieldRetry,
  FieldTriggerMode,
  VarFieldName,
  VarFieldValue,
  asBool,
  decodeValue,
} from '../src/workflow/fields';
import {
  AddBlock,
  DuplicateBlock,
  RemoveBlock,
  ReplaceCanonicalModes,
  ToggleEnabled,
  ToggleHandles,
  UpdateAdvancedMode,
  UpdateCanonicalMode,
  UpdateErrorEnabled,
  UpdateName,
  UpdateParent,
  UpdatePosition,
  UpdateRetry,
  UpdateTriggerMode,
  UpdateWide,
} from '../src/workflow/ops_block';
import {
  BatchAddBlocks,
  BatchRemoveBlocks,
  BatchToggleEnabled,
  BatchToggleHandles,
  BatchToggleLocked,
  BatchUpdateParent,
  BatchUpdatePositions,
} from '../src/workflow/ops_blocks';
import { AddEdge, BatchAddEdges, BatchRemoveEdges, RemoveEdge } from '../src/workflow/ops_edge';
import { SubBlockBatchUpdate, UpdateSubBlock, subBlockTypeUnknown } from '../src/workflow/ops_subblock';
import { AddSubflow, DuplicateSubflowWithChildren, RemoveSubflow, UpdateSubflow } from '../src/workflow/ops_subflow';
import { AddVariable, DuplicateVariable, RemoveVariable, UpdateVariable } from '../src/workflow/ops_variable';
import { ReplaceState } from '../src/workflow/ops_workflow';
import {
  TypeLoop,
  TypeParallel,
  blockKey,
  fieldKey,
  normalizeName,
  subflowKey,
  variableFieldKey,
  variableKey,
} from '../src/workflow/state';
import { protected_ } from '../src/workflow/tree';
import { OtDoc, numEq, otBlock, otChild, otFixture } from './ops_helpers';

describe('fixture', () => {
  it('locks LK, lk1 (under LK) and k', () => {
    const o = otFixture();
    for (const id of ['LK', 'lk1']) expect(protected_(o.d, id), id).toBe(true);
    expect(o.flag('LK', FieldLocked)).toBe(true);
    expect(o.flag('lk1', FieldLocked)).toBe(true);
    expect(o.flag('k', FieldLocked)).toBe(true);
    expect(protected_(o.d, 'k')).toBe(true);
    expect(protected_(o.d, 'a')).toBe(false);
  });
});

describe('refusals', () => {
  const cases: [string, Op, ErrorCode][] = [
    // block target
    ['position unknown', new UpdatePosition({ id: 'zz' }), 'UnknownBlock'],
    ['position empty id', new UpdatePosition(), 'Invalid'],
    ['position locked', new UpdatePosition({ id: 'k' }), 'Locked'],
    ['position under locked container', new UpdatePosition({ id: 'lk1' }), 'Locked'],
    ['name empty', new UpdateName({ id: 'a', newName: ' . ' }), 'NameConflict'],
    ['name reserved', new UpdateName({ id: 'a', newName: 'Loop' }), 'NameConflict'],
    ['name reserved spaced', new UpdateName({ id: 'a', newName: 'Vari able' }), 'NameConflict'],
    ['name taken normalized', new UpdateName({ id: 'a', newName: 'b.' }), 'NameConflict'],
    ['name taken by locked', new UpdateName({ id: 'a', newName: 'k' }), 'NameConflict'],
    ['name locked', new UpdateName({ id: 'k', newName: 'K2' }), 'Locked'],
    ['name unknown', new UpdateName({ id: 'zz', newName: 'Z' }), 'UnknownBlock'],
    ['toggle enabled locked', new ToggleEnabled({ id: 'lk1' }), 'Locked'],
    ['toggle enabled unknown', new ToggleEnabled({ id: 'zz' }), 'UnknownBlock'],
    ['parent unknown', new UpdateParent({ id: 'a', parentId: 'zz' }), 'UnknownBlock'],
    ['parent not container', new UpdateParent({ id: 'a', parentId: 'b' }), 'NotContainer'],
    ['parent itself', new UpdateParent({ id: 'L', parentId: 'L' }), 'Invalid'],
    ['parent locked', new UpdateParent({ id: 'a', parentId: 'LK' }), 'Locked'],
    ['parent of locked', new UpdateParent({ id: 'lk1', parentId: '' }), 'Locked'],
    ['advanced locked', new UpdateAdvancedMode({ id: 'k', advancedMode: true }), 'Locked'],
    ['error enabled unknown', new UpdateErrorEnabled({ id: 'zz' }), 'UnknownBlock'],
    ['retry locked', new UpdateRetry({ id: 'k', retry: { enabled: true } }), 'Locked'],
    ['canonical bad mode', new UpdateCanonicalMode({ id: 'a', canonicalId: 'x', mode: 'expert' }), 'Invalid'],
    ['canonical empty id', new UpdateCanonicalMode({ id: 'a', mode: 'basic' }), 'Invalid'],
    ['canonical locked', new UpdateCanonicalMode({ id: 'k', canonicalId: 'x', mode: 'basic' }), 'Locked'],
    ['replace canonical bad', new ReplaceCanonicalModes({ id: 'a', modes: { x: '?' } }), 'Invalid'],
    ['handles locked', new ToggleHandles({ id: 'k' }), 'Locked'],
    ['wide unknown', new UpdateWide({ id: 'zz' }), 'UnknownBlock'],
    ['trigger locked', new UpdateTriggerMode({ id: 'lk1' }), 'Locked'],
    ['add exists', new AddBlock({ block: otBlock('a', 'agent', 'New') }), 'Exists'],
    [
      'add bad edge',
      new AddBlock({ block: otBlock('x', 'agent', 'X'), autoConnectEdge: { id: 'e', source: 'x', target: 's' } }),
      'EdgeRejected',
    ],
    ['remove unknown', new RemoveBlock({ id: 'zz' }), 'UnknownBlock'],
    ['remove locked', new RemoveBlock({ id: 'lk1' }), 'Locked'],
    ['duplicate unknown', new DuplicateBlock({ sourceId: 'zz', id: 'x' }), 'UnknownBlock'],
    ['duplicate exists', new DuplicateBlock({ sourceId: 'a', id: 'b' }), 'Exists'],
    ['duplicate name taken', new DuplicateBlock({ sourceId: 'a', id: 'x', newName: 'B' }), 'NameConflict'],
    ['duplicate under locked', new DuplicateBlock({ sourceId: 'lk1', id: 'x' }), 'Locked'],
    // blocks target
    ['positions all unknown', new BatchUpdatePositions({ updates: [{ id: 'zz', position: { x: 0, y: 0 } }] }), 'NoEffect'],
    [
      'positions all locked',
      new BatchUpdatePositions({
        updates: [
          { id: 'k', position: { x: 0, y: 0 } },
          { id: 'zz', position: { x: 0, y: 0 } },
        ],
      }),
      'Locked',
    ],
    ['add blocks exists', new BatchAddBlocks({ blocks: [otBlock('x', 'agent', 'X'), otBlock('a', 'agent', 'A2')] }), 'Exists'],
    ['add blocks repeated id', new BatchAddBlocks({ blocks: [otBlock('x', 'agent', 'X'), otBlock('x', 'agent', 'X2')] }), 'Exists'],
    ['add blocks no name', new BatchAddBlocks({ blocks: [otBlock('x', 'agent', '')] }), 'Invalid'],
    ['add blocks no type', new BatchAddBlocks({ blocks: [otBlock('x', '', 'X')] }), 'Invalid'],
    ['add blocks empty id', new BatchAddBlocks({ blocks: [otBlock('', 'agent', 'X')] }), 'Invalid'],
    ['add blocks long id', new BatchAddBlocks({ blocks: [otBlock('i'.repeat(257), 'agent', 'X')] }), 'Invalid'],
    // 86 three-byte characters: 258 UTF-8 bytes, as Go's len counts them.
    ['add blocks long id in bytes', new BatchAddBlocks({ blocks: [otBlock('€'.repeat(86), 'agent', 'X')] }), 'Invalid'],
    ['add blocks name taken', new BatchAddBlocks({ blocks: [otBlock('x', 'agent', 'a')] }), 'NameConflict'],
    [
      'add blocks name repeated',
      new BatchAddBlocks({ blocks: [otBlock('x', 'agent', 'X'), otBlock('y', 'agent', 'x ')] }),
      'NameConflict',
    ],
    ['add blocks name reserved', new BatchAddBlocks({ blocks: [otBlock('x', 'agent', 'Parallel')] }), 'NameConflict'],
    ['add blocks parent unknown', new BatchAddBlocks({ blocks: [otChild('x', 'agent', 'X', 'zz')] }), 'UnknownBlock'],
    ['add blocks parent not container', new BatchAddBlocks({ blocks: [otChild('x', 'agent', 'X', 'a')] }), 'NotContainer'],
    [
      'add blocks parent in batch not container',
      new BatchAddBlocks({ blocks: [otBlock('y', 'agent', 'Y'), otChild('x', 'agent', 'X', 'y')] }),
      'NotContainer',
    ],
    [
      'add blocks nested in itself',
      new BatchAddBlocks({ blocks: [otChild('x', TypeLoop, 'X', 'y'), otChild('y', TypeLoop, 'Y', 'x')] }),
      'Invalid',
    ],
    ['add blocks parent locked', new BatchAddBlocks({ blocks: [otChild('x', 'agent', 'X', 'LK')] }), 'Locked'],
    [
      'add blocks bad loop config',
      new BatchAddBlocks({ blocks: [otBlock('x', TypeLoop, 'X')], loops: { x: { loopType: 'until' } } }),
      'Invalid',
    ],
    [
      'add blocks bad edge',
      new BatchAddBlocks({ blocks: [otBlock('x', 'agent', 'X')], edges: [{ id: 'e', source: 'x', target: 'x' }] }),
      'EdgeRejected',
    ],
    ['add blocks nothing', new BatchAddBlocks(), 'NoEffect'],
    ['remove blocks all locked', new BatchRemoveBlocks({ ids: ['k', 'lk1', 'LK'] }), 'Locked'],
    ['remove blocks unknown', new BatchRemoveBlocks({ ids: ['zz'] }), 'NoEffect'],
    ['toggle enabled all locked', new BatchToggleEnabled({ blockIds: ['k'] }), 'Locked'],
    ['toggle handles unknown', new BatchToggleHandles({ blockIds: ['zz'] }), 'NoEffect'],
    ['toggle locked unknown', new BatchToggleLocked({ blockIds: ['zz'] }), 'NoEffect'],
    [
      'update parent all skipped locked',
      new BatchUpdateParent({
        updates: [
          { id: 'a', parentId: 'LK' },
          { id: 'k', parentId: 'L' },
        ],
      }),
      'Locked',
    ],
    [
      'update parent all skipped invalid',
      new BatchUpdateParent({ updates: [{ id: 'a', parentId: 'b' }, { id: 'L', parentId: 'L' }, { id: 'zz' }] }),
      'NoEffect',
    ],
    // edges
    ['edge missing source', new AddEdge({ edge: { id: 'e', source: 'zz', target: 'a' } }), 'UnknownBlock'],
    ['edge missing target', new AddEdge({ edge: { id: 'e', source: 'a', target: '' } }), 'UnknownBlock'],
    ['edge empty id', new AddEdge({ edge: { id: '', source: 'a', target: 'c' } }), 'Invalid'],
    ['edge locked target', new AddEdge({ edge: { id: 'e', source: 'a', target: 'k' } }), 'EdgeRejected'],
    ['edge target under locked', new AddEdge({ edge: { id: 'e', source: 'LK', target: 'lk1' } }), 'EdgeRejected'],
    ['edge note source', new AddEdge({ edge: { id: 'e', source: 'n', target: 'a' } }), 'EdgeRejected'],
    ['edge note target', new AddEdge({ edge: { id: 'e', source: 'a', target: 'n' } }), 'EdgeRejected'],
    ['edge starter target', new AddEdge({ edge: { id: 'e', source: 'a', target: 's' } }), 'EdgeRejected'],
    ['edge scope', new AddEdge({ edge: { id: 'e', source: 'a', target: 'l1' } }), 'EdgeRejected'],
    ['edge self loop', new AddEdge({ edge: { id: 'e', source: 'a', target: 'a' } }), 'EdgeRejected'],
    ['edge duplicate', new AddEdge({ edge: { id: 'e', source: 'a', target: 'b' } }), 'EdgeRejected'],
    ['edge id exists', new AddEdge({ edge: { id: 'ab', source: 'a', target: 'c' } }), 'Exists'],
    ['edge cycle', new AddEdge({ edge: { id: 'e', source: 'b', target: 'a' } }), 'EdgeRejected'],
    [
      'batch edges duplicate in batch',
      new BatchAddEdges({
        edges: [
          { id: 'e1', source: 'a', target: 'c', sourceHandle: 'source-top' },
          { id: 'e2', source: 'a', target: 'c', sourceHandle: 'source' },
        ],
      }),
      'EdgeRejected',
    ],
    [
      'batch edges cycle in batch',
      new BatchAddEdges({
        edges: [
          { id: 'e1', source: 'b', target: 'c' },
          { id: 'e2', source: 'c', target: 'a' },
        ],
      }),
      'EdgeRejected',
    ],
    [
      'batch edges repeated id',
      new BatchAddEdges({
        edges: [
          { id: 'e1', source: 'b', target: 'c' },
          { id: 'e1', source: 'a', target: 'c' },
        ],
      }),
      'Exists',
    ],
    ['remove edge unknown', new RemoveEdge({ id: 'zz' }), 'UnknownEdge'],
    ['remove edge empty id', new RemoveEdge({ id: '' }), 'Invalid'],
    ['batch remove edges unknown', new BatchRemoveEdges({ ids: ['zz'] }), 'NoEffect'],
    // subflow
    ['subflow unknown', new UpdateSubflow({ id: 'zz', config: { iterations: 3 } }), 'UnknownBlock'],
    ['subflow not container', new UpdateSubflow({ id: 'a', config: { iterations: 3 } }), 'NotContainer'],
    ['subflow type mismatch', new UpdateSubflow({ id: 'L', type: TypeParallel, config: { count: 3 } }), 'Invalid'],
    ['subflow locked', new UpdateSubflow({ id: 'LK', config: { iterations: 3 } }), 'Locked'],
    ['subflow bad loop type', new UpdateSubflow({ id: 'L', config: { loopType: 'until' } }), 'Invalid'],
    ['subflow bad parallel type', new UpdateSubflow({ id: 'P', config: { parallelType: 'all' } }), 'Invalid'],
    ['subflow bad batch size', new UpdateSubflow({ id: 'P', config: { batchSize: 'big' } }), 'Invalid'],
    ['subflow nothing', new UpdateSubflow({ id: 'L', config: { nodes: ['l1'] } }), 'NoEffect'],
    ['add subflow not container', new AddSubflow({ block: otBlock('x', 'agent', 'X') }), 'NotContainer'],
    ['add subflow exists', new AddSubflow({ block: otBlock('L', TypeLoop, 'Loop 9') }), 'Exists'],
    ['remove subflow not container', new RemoveSubflow({ id: 'a' }), 'NotContainer'],
    ['remove subflow locked', new RemoveSubflow({ id: 'LK' }), 'Locked'],
    [
      'duplicate subflow missing map',
      new DuplicateSubflowWithChildren({ sourceId: 'L', id: 'L2', idMap: { l1: 'm1' } }),
      'Invalid',
    ],
    [
      'duplicate subflow id taken',
      new DuplicateSubflowWithChildren({ sourceId: 'L', id: 'L2', idMap: { l1: 'a', l2: 'm2', l12: 'e' } }),
      'Exists',
    ],
    ['duplicate subflow not container', new DuplicateSubflowWithChildren({ sourceId: 'a', id: 'x' }), 'NotContainer'],
    // subblock
    ['subblock unknown block', new UpdateSubBlock({ blockId: 'zz', subBlockId: 'p', value: 1 }), 'UnknownBlock'],
    ['subblock locked', new UpdateSubBlock({ blockId: 'lk1', subBlockId: 'p', value: 1 }), 'Locked'],
    ['subblock empty sub id', new UpdateSubBlock({ blockId: 'a', value: 1 }), 'Invalid'],
    [
      'subblock batch one locked',
      new SubBlockBatchUpdate({
        updates: [
          { blockId: 'a', subBlockId: 'p', value: 1 },
          { blockId: 'k', subBlockId: 'p', value: 1 },
        ],
      }),
      'Locked',
    ],
    [
      'subblock batch one unknown',
      new SubBlockBatchUpdate({
        updates: [
          { blockId: 'a', subBlockId: 'p', value: 1 },
          { blockId: 'zz', subBlockId: 'p', value: 1 },
        ],
      }),
      'UnknownBlock',
    ],
    [
      'subblock batch precondition',
      new SubBlockBatchUpdate({
        updates: [
          { blockId: 'a', subBlockId: 'p', value: 1 },
          { blockId: 'b', subBlockId: 'p', value: 2, expectedValue: 'old', hasExpected: true },
        ],
      }),
      'Precondition',
    ],
    // variables
    ['variable empty id', new AddVariable({ varName: 'x' }), 'Invalid'],
    ['variable exists', new AddVariable({ id: 'v', varName: 'again' }), 'Exists'],
    ['variable remove unknown', new RemoveVariable({ id: 'zz' }), 'UnknownVariable'],
    ['variable update unknown', new UpdateVariable({ id: 'zz', field: 'value', value: 1 }), 'UnknownVariable'],
    ['variable update bad field', new UpdateVariable({ id: 'v', field: 'workflowId', value: 1 }), 'Invalid'],
    ['variable update name not string', new UpdateVariable({ id: 'v', field: 'name', value: 1 }), 'Invalid'],
    ['variable duplicate unknown', new DuplicateVariable({ sourceId: 'zz', id: 'v2' }), 'UnknownVariable'],
    ['variable duplicate exists', new DuplicateVariable({ sourceId: 'v', id: 'v' }), 'Exists'],
    // workflow
    ['replace no position', new ReplaceState({ blocks: { x: { id: 'x', type: 'agent', name: '' } } }), 'Invalid'],
    ['replace id mismatch', new ReplaceState({ blocks: { x: otBlock('y', 'agent', 'Y') } }), 'Invalid'],
    ['replace no type', new ReplaceState({ blocks: { x: otBlock('x', '', 'X') } }), 'Invalid'],
  ];
  for (const [name, op, code] of cases) {
    it(`${name} → ${code}`, () => {
      const o = otFixture();
      o.ok(new AddVariable({ id: 'v', varName: 'v', type: 'string' }));
      o.fails(op, code);
    });
  }

  it('remove edge with a locked target → Locked', () => {
    const o = otFixture();
    // klk's target c is unprotected; lock it to test the rule.
    o.ok(new BatchToggleLocked({ blockIds: ['c'] }));
    o.fails(new RemoveEdge({ id: 'klk' }), 'Locked');
    o.fails(new BatchRemoveEdges({ ids: ['klk', 'zz'] }), 'Locked');
  });
});

describe('builder', () => {
  it('refuses a timestamp without replica', () => {
    const d = new Doc();
    expect(() => prepare(d, { wall: 1, logical: 0, replica: '' }, new AddVariable({ id: 'v' }))).toThrowError(
      expect.objectContaining({ code: 'Invalid' }),
    );
  });

  it('continues the replica counter, and prepare leaves the document alone', () => {
    const d = new Doc();
    const ts = { wall: 5, logical: 0, replica: 'r1' };
    const first = apply(d, ts, new AddVariable({ id: 'v', varName: 'n', type: 'string' }));
    // Membership, name, type, value: four dots 1..4.
    expect(first.context().max('r1')).toBe(4);
    expect(d.context().max('r1')).toBe(4);
    const second = prepare(d, { wall: 6, logical: 0, replica: 'r1' }, new UpdateVariable({ id: 'v', field: 'value', value: 2 }));
    expect(second.context().max('r1')).toBe(5);
    expect(second.context().contains({ replica: 'r1', counter: 4 })).toBe(true); // covers the old value
    expect(d.context().max('r1')).toBe(4); // not merged
    expect(decodeValue(d.get(variableFieldKey('v', VarFieldValue)))).toBe(''); // still the default value
  });

  it('refuses an edit stamped before the add of what it edits (its value would be hidden)', () => {
    const d = new Doc();
    apply(d, { wall: 5000, logical: 0, replica: 'alice' }, new AddVariable({ id: 'v', varName: 'n', type: 'string' }));
    const before = d.encode();
    const lagging = { wall: 4000, logical: 0, replica: 'bob' };
    expect(() => prepare(d, lagging, new UpdateVariable({ id: 'v', field: 'value', value: 2 }))).toThrowError(
      expect.objectContaining({ code: 'Invalid' }),
    );
    // Same time, smaller replica id: still before the add.
    expect(() =>
      prepare(d, { wall: 5000, logical: 0, replica: 'aaron' }, new UpdateVariable({ id: 'v', field: 'value', value: 2 })),
    ).toThrowError(expect.objectContaining({ code: 'Invalid' }));
    expect(d.encode()).toEqual(before);
    apply(d, { wall: 5001, logical: 0, replica: 'bob' }, new UpdateVariable({ id: 'v', field: 'value', value: 2 }));
    expect(decodeValue(d.get(variableFieldKey('v', VarFieldValue)))).toBe(2);
  });

  it('refuses a replica whose counters are spent', () => {
    const d = new Doc();
    d.context().add({ replica: 'r1', counter: Number.MAX_SAFE_INTEGER - 2 ** 20 });
    expect(() => prepare(d, { wall: 1, logical: 0, replica: 'r1' }, new AddVariable({ id: 'v' }))).toThrowError(
      expect.objectContaining({ code: 'Invalid' }),
    );
    // One below the guard still works.
    const e = new Doc();
    e.context().add({ replica: 'r1', counter: Number.MAX_SAFE_INTEGER - 2 ** 20 - 1 });
    expect(prepare(e, { wall: 1, logical: 0, replica: 'r1' }, new AddVariable({ id: 'v' })).context().max('r1')).toBe(
      Number.MAX_SAFE_INTEGER - 2 ** 20 + 3,
    );
  });

  it('a removal spends a dot of its own', () => {
    const o = otFixture();
    o.ok(new UpdateParent({ id: 'a', parentId: 'L', extent: 'parent' }));
    const before = o.d.context().max('r1');
    const delta = o.ok(new UpdateParent({ id: 'a', parentId: '' }));
    expect(delta.context().max('r1')).toBe(before + 1);
    expect(delta.store().numDots()).toBe(0);
  });

  it('attaches prepare and apply to Doc', () => {
    const d = new Doc();
    const delta = d.apply({ wall: 1, logical: 0, replica: 'x' }, new AddVariable({ id: 'v' }));
    expect(delta.context().max('x')).toBe(4);
    expect(d.has(variableKey('v'))).toBe(true);
  });
});

describe('block field ops', () => {
  it('writes every field', () => {
    const o = otFixture();
    o.ok(new UpdatePosition({ id: 'a', position: { x: 7, y: 8 } }));
    o.ok(new UpdateName({ id: 'a', newName: 'Agent One' }));
    o.ok(new UpdateName({ id: 'a', newName: 'agent one.' })); // its own name, normalized
    o.ok(new ToggleEnabled({ id: 'a' }));
    o.ok(new UpdateAdvancedMode({ id: 'a', advancedMode: true }));
    o.ok(new UpdateErrorEnabled({ id: 'a', errorEnabled: true }));
    o.ok(new UpdateRetry({ id: 'a', retry: { enabled: true, maxTries: 4 } }));
    o.ok(new UpdateCanonicalMode({ id: 'a', canonicalId: 'x', mode: 'advanced' }));
    o.ok(new UpdateCanonicalMode({ id: 'a', canonicalId: 'y', mode: 'basic' }));
    o.ok(new ToggleHandles({ id: 'a', horizontalHandles: false }));
    o.ok(new UpdateWide({ id: 'a', isWide: true }));
    o.ok(new UpdateTriggerMode({ id: 'c', triggerMode: true }));

    expect(o.pos('a')).toEqual({ x: 7, y: 8 });
    expect(o.str('a', FieldName)).toBe('agent one.');
    expect(asBool(o.field('a', FieldEnabled), true)).toBe(false);
    expect(o.flag('a', FieldAdvancedMode)).toBe(true);
    expect(o.flag('a', FieldErrorEnabled)).toBe(true);
    expect(asBool(o.field('a', FieldHorizontalHandles), true)).toBe(false);
    expect(o.flag('a', FieldIsWide)).toBe(true);
    expect(o.flag('c', FieldTriggerMode)).toBe(true);
    const retry = o.decode(fieldKey('a', FieldRetry)) as Record<string, unknown>;
    expect(retry.enabled).toBe(true);
    expect(numEq(retry.maxTries, 4)).toBe(true);

    o.ok(new ReplaceCanonicalModes({ id: 'a', modes: { y: 'advanced', z: 'basic' } }));
    expect(o.d.has(fieldKey('a', FieldCanonicalPrefix + 'x'))).toBe(false);
    expect(o.str('a', FieldCanonicalPrefix + 'y')).toBe('advanced');
    expect(o.str('a', FieldCanonicalPrefix + 'z')).toBe('basic');
    o.ok(new ToggleEnabled({ id: 'a' }));
    expect(o.flag('a', FieldEnabled)).toBe(true);
    // Renaming frees the old name.
    o.ok(new UpdateName({ id: 'b', newName: 'A' }));
    // A cleared retry is no value.
    o.ok(new UpdateRetry({ id: 'a' }));
    expect(o.field('a', FieldRetry)).toBeNull();
  });

  it('moves in and out of containers', () => {
    const o = otFixture();
    o.ok(new UpdateParent({ id: 'a', parentId: 'L', extent: 'parent' }));
    expect(o.str('a', FieldParentID)).toBe('L');
    expect(o.str('a', FieldExtent)).toBe('parent');
    o.ok(new UpdateParent({ id: 'a', parentId: '' }));
    expect(o.d.has(fieldKey('a', FieldParentID))).toBe(false);
    expect(o.d.has(fieldKey('a', FieldExtent))).toBe(false);
    // A container cannot move into its own descendant.
    o.ok(new UpdateParent({ id: 'P', parentId: 'L' }));
    o.fails(new UpdateParent({ id: 'L', parentId: 'P' }), 'Invalid');
  });
});

describe('batch-add-blocks', () => {
  it('stores only non-default fields, merges sub-block values and writes subflow configs', () => {
    const o = new OtDoc();
    const agent = {
      ...otBlock('a', 'agent', 'A'),
      subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: 'hi' } },
      data: { width: 300, canonicalModes: { m: 'basic' } },
      outputs: { content: 'string' },
    };
    o.ok(
      new BatchAddBlocks({
        blocks: [
          agent,
          otBlock('L', TypeLoop, 'Loop 1'),
          otBlock('P', TypeParallel, 'Par 1'),
          otBlock('P2', TypeParallel, 'Par 2'),
          otChild('c', 'agent', 'C', 'L'),
        ],
        parallels: { P2: { parallelType: 'collection', batchSize: 99, nodes: ['x'], distribution: '<items>' } },
        subBlockValues: { a: { prompt: 'override', model: 'gpt' } },
        edges: [{ id: 'e', source: 'L', target: 'c', sourceHandle: 'loop-start-source' }],
      }),
    );
    for (const f of [FieldEnabled, FieldHorizontalHandles, FieldAdvancedMode, FieldTriggerMode, FieldErrorEnabled, FieldLocked, FieldIsWide, FieldHeight]) {
      expect(o.d.has(fieldKey('a', f)), `${f}: a default was stored`).toBe(false);
    }
    expect(o.sub('a', 'prompt')).toBe('override');
    expect(o.subType('a', 'prompt')).toBe('long-input');
    expect(o.sub('a', 'model')).toBe('gpt');
    expect(o.subType('a', 'model')).toBe('short-input');
    expect(o.str('a', FieldCanonicalPrefix + 'm')).toBe('basic');
    expect(numEq(o.data('a', 'width'), 300)).toBe(true);
    expect(o.str('c', FieldParentID)).toBe('L');
    expect(o.str('c', FieldExtent)).toBe('parent');
    expect(o.cfg('L', 'loopType')).toBe('for');
    expect(numEq(o.cfg('L', 'iterations'), 5)).toBe(true);
    expect(o.cfg('P', 'parallelType')).toBe('count');
    expect(numEq(o.cfg('P', 'count'), 5)).toBe(true);
    expect(numEq(o.cfg('P', 'batchSize'), 20)).toBe(true);
    expect(o.cfg('P2', 'parallelType')).toBe('collection');
    expect(numEq(o.cfg('P2', 'batchSize'), 20)).toBe(true);
    expect(o.d.has(subflowKey('P2', 'nodes'))).toBe(false);
    expect(o.d.has(subflowKey('P2', 'count'))).toBe(false);
    expect(o.cfg('P2', 'distribution')).toBe('<items>');
    expect(o.edgeExists('e')).toBe(true);
    expect(o.edge('e').sourceHandle).toBe('loop-start-source');
    expect(o.d.has(subflowKey('a', 'loopType'))).toBe(false);
  });

  it('clamps batch sizes and merges configs shallowly', () => {
    const o = otFixture();
    for (const [inp, want] of [
      [0, 1],
      [-3, 1],
      [7, 7],
      [21, 20],
      [1e9, 20],
      [2.5, 3],
    ] as const) {
      o.ok(new UpdateSubflow({ id: 'P', type: TypeParallel, config: { batchSize: inp } }));
      expect(numEq(o.cfg('P', 'batchSize'), want), `batchSize ${inp}`).toBe(true);
    }
    o.ok(new UpdateSubflow({ id: 'L', config: { loopType: 'forEach', forEachItems: '<x.items>' } }));
    o.ok(new UpdateSubflow({ id: 'L', config: { iterations: 9 } }));
    expect(o.cfg('L', 'loopType')).toBe('forEach');
    expect(o.cfg('L', 'forEachItems')).toBe('<x.items>');
    expect(numEq(o.cfg('L', 'iterations'), 9)).toBe(true);
  });
});

describe('removal', () => {
  for (const mk of [
    () => new BatchRemoveBlocks({ ids: ['L'] }),
    () => new RemoveBlock({ id: 'L' }),
    () => new RemoveSubflow({ id: 'L' }),
  ]) {
    it(`${mk().name()} cascades to descendants and edges`, () => {
      const o = otFixture();
      o.ok(new UpdateParent({ id: 'P', parentId: 'L' }));
      o.ok(new AddBlock({ block: otChild('p1', 'agent', 'P1', 'P') }));
      o.ok(new UpdateSubBlock({ blockId: 'l1', subBlockId: 'prompt', value: 'x' }));
      o.ok(mk());
      for (const id of ['L', 'l1', 'l2', 'P', 'p1']) {
        expect(o.exists(id), id).toBe(false);
        expect(o.keysOf(id), id).toBe(0);
      }
      expect(o.edgeExists('l12')).toBe(false);
      expect(o.edgeExists('ab')).toBe(true);
      expect(o.exists('a')).toBe(true);
    });
  }

  it('batch removal skips locked blocks', () => {
    const o = otFixture();
    o.ok(new BatchRemoveBlocks({ ids: ['k', 'c', 'zz', 'lk1'] }));
    expect(o.exists('c')).toBe(false);
    expect(o.edgeExists('klk')).toBe(false);
    expect(o.exists('k')).toBe(true);
    expect(o.exists('lk1')).toBe(true);
  });
});

describe('locks and batch toggles', () => {
  it('toggle-locked cascades to container descendants and protects them', () => {
    const o = otFixture();
    o.ok(new BatchToggleLocked({ blockIds: ['LK'] }));
    expect(o.flag('LK', FieldLocked)).toBe(false);
    expect(o.flag('lk1', FieldLocked)).toBe(false);
    o.ok(new UpdatePosition({ id: 'lk1', position: { x: 3, y: 3 } }));
    o.ok(new BatchToggleLocked({ blockIds: ['L', 'a'] }));
    for (const id of ['L', 'l1', 'l2', 'a']) expect(o.flag(id, FieldLocked), id).toBe(true);
    o.fails(new UpdateName({ id: 'l1', newName: 'X' }), 'Locked');
    o.fails(new AddEdge({ edge: { id: 'e', source: 'l2', target: 'l1' } }), 'EdgeRejected');
  });

  it('batch toggles follow the first block and flip handles independently', () => {
    const o = otFixture();
    o.ok(new ToggleEnabled({ id: 'b' })); // b disabled; a enabled
    o.ok(new BatchToggleEnabled({ blockIds: ['zz', 'k', 'a', 'b', 'L'], previousStates: { a: false } }));
    for (const id of ['a', 'b', 'L', 'l1', 'l2']) expect(asBool(o.field(id, FieldEnabled), true), id).toBe(false);
    expect(asBool(o.field('k', FieldEnabled), true)).toBe(true);
    o.ok(new ToggleHandles({ id: 'b', horizontalHandles: false }));
    o.ok(new BatchToggleHandles({ blockIds: ['a', 'b', 'b', 'k'] }));
    expect(asBool(o.field('a', FieldHorizontalHandles), true)).toBe(false);
    expect(asBool(o.field('b', FieldHorizontalHandles), true)).toBe(true);
    expect(asBool(o.field('k', FieldHorizontalHandles), true)).toBe(true);
  });

  it('batch positions and parents skip what they may not touch', () => {
    const o = otFixture();
    o.ok(
      new BatchUpdatePositions({
        updates: [
          { id: 'a', position: { x: 5, y: 5 } },
          { id: 'k', position: { x: 9, y: 9 } },
          { id: 'zz', position: { x: 0, y: 0 } },
        ],
      }),
    );
    expect(o.pos('a')).toEqual({ x: 5, y: 5 });
    expect(o.pos('k')).not.toEqual({ x: 9, y: 9 });
    o.ok(
      new BatchUpdateParent({
        updates: [
          { id: 'a', parentId: 'L', position: { x: 1, y: 1 } },
          { id: 'b', parentId: 'LK' }, // protected parent: skipped
          { id: 'l1', parentId: '' },
          { id: 'c', parentId: 'a' }, // not a container: skipped
        ],
      }),
    );
    expect(o.str('a', FieldParentID)).toBe('L');
    expect(o.str('a', FieldExtent)).toBe('parent');
    expect(o.pos('a')).toEqual({ x: 1, y: 1 });
    expect(o.d.has(fieldKey('b', FieldParentID))).toBe(false);
    expect(o.d.has(fieldKey('c', FieldParentID))).toBe(false);
    expect(o.d.has(fieldKey('l1', FieldParentID))).toBe(false);
  });
});

describe('edges', () => {
  it('canonicalizes handles, allows container edges, refuses cycles, removes', () => {
    const o = otFixture();
    o.ok(
      new AddEdge({ edge: { id: 'bc', source: 'b', target: 'c', sourceHandle: 'source-right', targetHandle: 'target-left' } }),
    );
    expect(o.edge('bc').sourceHandle).toBe('source');
    expect(o.edge('bc').targetHandle).toBe('target');
    o.ok(
      new BatchAddEdges({
        edges: [
          { id: 'bc2', source: 'b', target: 'c', sourceHandle: 'error' },
          { id: 'l2L', source: 'l2', target: 'L', targetHandle: 'loop-end' },
        ],
      }),
    );
    // L→l1 would now close L→l1→l2→L.
    o.fails(new AddEdge({ edge: { id: 'Ll1', source: 'L', target: 'l1' } }), 'EdgeRejected');
    o.ok(new RemoveEdge({ id: 'bc' }));
    o.ok(new BatchRemoveEdges({ ids: ['bc2', 'zz', 'ab'] }));
    expect(o.edgeExists('bc')).toBe(false);
    expect(o.edgeExists('bc2')).toBe(false);
    expect(o.edgeExists('ab')).toBe(false);
    expect(o.edgeExists('l2L')).toBe(true);
    // The source may be locked; only the target's protection matters.
    o.ok(new AddEdge({ edge: { id: 'kb', source: 'k', target: 'b' } }));
  });
});

describe('duplicates', () => {
  it('duplicate copies fields with unique names, never locked', () => {
    const o = otFixture();
    o.ok(new UpdateSubBlock({ blockId: 'l1', subBlockId: 'prompt', value: 'p' }));
    o.ok(new DuplicateBlock({ sourceId: 'l1', id: 'l1b' }));
    o.ok(new DuplicateBlock({ sourceId: 'l1', id: 'l1c' }));
    expect(o.str('l1b', FieldName)).toBe('L1 (copy)');
    expect(o.str('l1c', FieldName)).toBe('L1 (copy 2)');
    expect(o.sub('l1b', 'prompt')).toBe('p');
    expect(o.subType('l1b', 'prompt')).toBe(subBlockTypeUnknown);
    expect(o.str('l1b', FieldParentID)).toBe('L');
    expect(o.pos('l1b')).toEqual({ x: 51, y: 52 });
    o.ok(new DuplicateBlock({ sourceId: 'k', id: 'k2', newName: 'K two', position: { x: 0, y: 0 } }));
    expect(o.flag('k2', FieldLocked)).toBe(false);
    expect(o.str('k2', FieldName)).toBe('K two');
    o.ok(new DuplicateBlock({ sourceId: 'P', id: 'P2' }));
    expect(o.cfg('P2', 'parallelType')).toBe('count');
  });

  it('duplicate-with-children copies descendants, config and internal edges', () => {
    const o = otFixture();
    o.ok(new UpdateSubflow({ id: 'L', config: { iterations: 3 } }));
    o.ok(new DuplicateSubflowWithChildren({ sourceId: 'L', id: 'M', idMap: { l1: 'm1', l2: 'm2', l12: 'm12' } }));
    expect(o.str('m1', FieldParentID)).toBe('M');
    expect(o.str('m2', FieldParentID)).toBe('M');
    expect(numEq(o.cfg('M', 'iterations'), 3)).toBe(true);
    expect(o.edge('m12').source).toBe('m1');
    expect(o.edge('m12').target).toBe('m2');
    expect(o.str('M', FieldName)).toBe('Loop 1 (copy)');
    expect(o.str('m1', FieldName)).toBe('L1 (copy)');
    expect(o.str('M', FieldParentID)).toBe('');
  });

  it('add subflow writes the given config or the defaults', () => {
    const o = otFixture();
    o.ok(new AddSubflow({ block: otBlock('W', TypeLoop, 'While'), config: { loopType: 'while', whileCondition: '<x> < 3' } }));
    o.ok(new AddSubflow({ block: otBlock('Q', TypeParallel, 'Q') }));
    expect(o.cfg('W', 'loopType')).toBe('while');
    expect(o.d.has(subflowKey('W', 'iterations'))).toBe(false);
    expect(numEq(o.cfg('Q', 'batchSize'), 20)).toBe(true);
  });
});

describe('sub-blocks and variables', () => {
  it('sub-block updates keep types and check preconditions', () => {
    const o = otFixture();
    o.ok(new UpdateSubBlock({ blockId: 'a', subBlockId: 'prompt', value: 'v1' }));
    expect(o.sub('a', 'prompt')).toBe('v1');
    expect(o.subType('a', 'prompt')).toBe('unknown');
    o.ok(new BatchAddBlocks({ blocks: [{ id: 'x', type: 'agent', name: 'X', subBlocks: { m: { id: 'm', type: 'dropdown' } } }] }));
    o.ok(
      new SubBlockBatchUpdate({
        updates: [
          { blockId: 'x', subBlockId: 'm', value: 'gpt', expectedValue: null, hasExpected: true },
          { blockId: 'a', subBlockId: 'prompt', value: { k: 1.0 }, expectedValue: 'v1', hasExpected: true },
          { blockId: 'a', subBlockId: 'prompt', value: 'v3', expectedValue: { k: 1 }, hasExpected: true },
        ],
      }),
    );
    expect(o.sub('x', 'm')).toBe('gpt');
    expect(o.subType('x', 'm')).toBe('dropdown');
    expect(o.sub('a', 'prompt')).toBe('v3');
    // A null expected value does not match a present one.
    o.fails(
      new SubBlockBatchUpdate({ updates: [{ blockId: 'a', subBlockId: 'prompt', value: 'v4', hasExpected: true }] }),
      'Precondition',
    );
  });

  it('variables add, update, duplicate and remove', () => {
    const o = otFixture();
    o.ok(new AddVariable({ id: 'v', varName: 'apiKey', type: 'string' }));
    expect(o.varField('v', VarFieldValue)).toBe('');
    expect(o.varField('v', VarFieldName)).toBe('apiKey');
    o.ok(new UpdateVariable({ id: 'v', field: VarFieldValue, value: ['x', 1.5] }));
    o.ok(new UpdateVariable({ id: 'v', field: VarFieldName, value: 'token' }));
    o.ok(new DuplicateVariable({ sourceId: 'v', id: 'w' }));
    expect(o.varField('w', VarFieldName)).toBe('token (copy)');
    expect(o.varField('w', VarFieldValue)).toEqual(o.varField('v', VarFieldValue));
    o.fails(new DuplicateVariable({ sourceId: 'v', id: 'w' }), 'Exists');
    o.ok(new RemoveVariable({ id: 'v' }));
    expect(o.d.has(variableKey('v'))).toBe(false);
    expect(o.keysOf('v')).toBe(0);
    expect(o.d.has(variableKey('w'))).toBe(true);
  });
});

describe('replace-state', () => {
  it('replaces the graph without validation and keeps variables', () => {
    const o = otFixture();
    o.ok(new AddVariable({ id: 'v', varName: 'keep', type: 'string' }));
    o.ok(
      new ReplaceState({
        blocks: {
          x: otBlock('x', 'agent', 'X'),
          y: { id: '', type: 'agent', name: 'x', position: { x: 0, y: 0 } }, // no name check; id from the key
          L2: otBlock('L2', TypeLoop, 'Loop'),
        },
        edges: [
          { id: 'e1', source: 'x', target: 'y', sourceHandle: 'source-top' },
          { id: 'e2', source: 'x', target: 'y', sourceHandle: 'source' }, // duplicate
          { id: 'e3', source: 'x', target: 'a' }, // a is gone
          { id: 'e4', source: 'y', target: 'x' }, // cycle: kept, no validation
        ],
        loops: { L2: { loopType: 'forEach' }, L: { iterations: 1 } },
      }),
    );
    for (const id of ['a', 'b', 'L', 'l1', 'k', 'LK', 'lk1']) {
      expect(o.exists(id), id).toBe(false);
      expect(o.keysOf(id), id).toBe(0);
    }
    expect(o.exists('x')).toBe(true);
    expect(o.exists('y')).toBe(true);
    expect(o.edgeExists('e1')).toBe(true);
    expect(o.edgeExists('e2')).toBe(false);
    expect(o.edgeExists('e3')).toBe(false);
    expect(o.edgeExists('e4')).toBe(true);
    expect(o.edgeExists('ab')).toBe(false);
    expect(o.cfg('L2', 'loopType')).toBe('forEach');
    expect(o.d.has(subflowKey('L2', 'iterations'))).toBe(false);
    expect(o.d.has(variableKey('v'))).toBe(true);
  });
});

describe('names', () => {
  it('normalizes like Go', () => {
    expect(normalizeName('Agent One')).toBe('agentone');
    expect(normalizeName('a.b\tc\u00a0D')).toBe('abcd');
    expect(normalizeName('plain')).toBe('plain');
    expect(normalizeName('İSTANBUL')).toBe('istanbul');
  });

  it('typed errors carry their code', () => {
    const o = otFixture();
    try {
      o.ok(new UpdateName({ id: 'a', newName: 'Loop' }));
      expect.unreachable();
    } catch (err) {
      expect(isError(err, 'NameConflict')).toBe(true);
      expect(isError(err, 'Invalid')).toBe(false);
    }
    expect(blockKey('a').id).toBe('a');
  });
});
