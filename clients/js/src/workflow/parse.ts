// Port of crdt/workflow/parse.go: building operations from the payloads of
// the replaced system's wire, JSON-shaped, numbers as JS numbers.

import type { Op } from './builder';
import { WorkflowError } from './errors';
import type { Position } from './fields';
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
} from './ops_block';
import {
  BatchAddBlocks,
  BatchRemoveBlocks,
  BatchToggleEnabled,
  BatchToggleHandles,
  BatchToggleLocked,
  BatchUpdateParent,
  BatchUpdatePositions,
  type BlockInput,
  type ParentUpdate,
  type PositionUpdate,
  type SubBlockInput,
} from './ops_blocks';
import { AddEdge, BatchAddEdges, BatchRemoveEdges, RemoveEdge, type EdgeInput } from './ops_edge';
import { SubBlockBatchUpdate, UpdateSubBlock, type SubBlockUpdate } from './ops_subblock';
import { AddSubflow, DuplicateSubflowWithChildren, RemoveSubflow, UpdateSubflow } from './ops_subflow';
import { toFloat } from './subflow_config';
import { AddVariable, DuplicateVariable, RemoveVariable, UpdateVariable } from './ops_variable';
import { ReplaceState } from './ops_workflow';
import { DeleteText, InsertText, type TextTarget } from './ops_text';
import { compareStrings, errorf, hasOwn, isObject, q, sortedKeys } from './util';

/** A JSON-shaped payload object (Go's map[string]any). */
export type Payload = Record<string, unknown>;

type Parser = (p: Wire) => Op;

/**
 * Maps "target/operation" to the parser of its payload. The keys are the
 * names the replaced system uses on its wire, legacy operations included.
 */
const opParsers = new Map<string, Parser>([
  ['text/text-insert', (p) => new InsertText({ ...p.textTarget(), index: p.index('index'), text: p.str('text') })],
  ['text/text-delete', (p) => new DeleteText({ ...p.textTarget(), index: p.index('index'), length: p.index('length') })],
  ['block/update-position', (p) => new UpdatePosition({ id: p.id('id'), position: p.position('position') })],
  ['block/update-name', (p) => new UpdateName({ id: p.id('id'), newName: p.str('name') })],
  ['block/toggle-enabled', (p) => new ToggleEnabled({ id: p.id('id') })],
  [
    'block/update-parent',
    (p) => new UpdateParent({ id: p.id('id'), parentId: p.optStr('parentId'), extent: p.optStr('extent') }),
  ],
  ['block/update-advanced-mode', (p) => new UpdateAdvancedMode({ id: p.id('id'), advancedMode: p.boolean('advancedMode') })],
  ['block/update-error-enabled', (p) => new UpdateErrorEnabled({ id: p.id('id'), errorEnabled: p.boolean('errorEnabled') })],
  ['block/update-retry', (p) => new UpdateRetry({ id: p.id('id'), retry: p.optObject('retry') })],
  [
    'block/update-canonical-mode',
    (p) => new UpdateCanonicalMode({ id: p.id('id'), canonicalId: p.str('canonicalId'), mode: p.str('canonicalMode') }),
  ],
  [
    'block/replace-canonical-modes',
    (p) => {
      const data = p.sub('data');
      return new ReplaceCanonicalModes({ id: p.id('id'), modes: data.stringMap('canonicalModes') });
    },
  ],
  ['block/toggle-handles', (p) => new ToggleHandles({ id: p.id('id'), horizontalHandles: p.boolean('horizontalHandles') })],
  [
    'block/add',
    (p) => {
      const block = p.block();
      const autoConnectEdge = p.present('autoConnectEdge') ? p.sub('autoConnectEdge').edge() : undefined;
      return new AddBlock({ block, autoConnectEdge });
    },
  ],
  ['block/remove', (p) => new RemoveBlock({ id: p.id('id') })],
  [
    'block/duplicate',
    (p) =>
      new DuplicateBlock({
        sourceId: p.id('sourceId'),
        id: p.id('id'),
        newName: p.optStr('name'),
        position: p.optPosition('position'),
      }),
  ],
  ['block/update-wide', (p) => new UpdateWide({ id: p.id('id'), isWide: p.boolean('isWide') })],
  ['block/update-trigger-mode', (p) => new UpdateTriggerMode({ id: p.id('id'), triggerMode: p.boolean('triggerMode') })],

  [
    'blocks/batch-update-positions',
    (p) => {
      const updates: PositionUpdate[] = [];
      p.each('updates', (u) => updates.push({ id: u.id('id'), position: u.position('position') }));
      return new BatchUpdatePositions({ updates });
    },
  ],
  [
    'blocks/batch-add-blocks',
    (p) => {
      const blocks: BlockInput[] = [];
      const edges: EdgeInput[] = [];
      p.each('blocks', (b) => blocks.push(b.block()));
      p.eachOpt('edges', (e) => edges.push(e.edge()));
      return new BatchAddBlocks({
        blocks,
        edges,
        loops: p.objectMap('loops'),
        parallels: p.objectMap('parallels'),
        subBlockValues: p.objectMap('subBlockValues'),
      });
    },
  ],
  ['blocks/batch-remove-blocks', (p) => new BatchRemoveBlocks({ ids: p.strings('ids') })],
  [
    'blocks/batch-toggle-enabled',
    (p) => new BatchToggleEnabled({ blockIds: p.strings('blockIds'), previousStates: p.boolMap('previousStates') }),
  ],
  [
    'blocks/batch-toggle-handles',
    (p) => new BatchToggleHandles({ blockIds: p.strings('blockIds'), previousStates: p.boolMap('previousStates') }),
  ],
  [
    'blocks/batch-toggle-locked',
    (p) => new BatchToggleLocked({ blockIds: p.strings('blockIds'), previousStates: p.boolMap('previousStates') }),
  ],
  [
    'blocks/batch-update-parent',
    (p) => {
      const updates: ParentUpdate[] = [];
      p.each('updates', (u) =>
        updates.push({ id: u.id('id'), parentId: u.optStr('parentId'), position: u.optPosition('position') }),
      );
      return new BatchUpdateParent({ updates });
    },
  ],

  ['edge/add', (p) => new AddEdge({ edge: p.edge() })],
  ['edge/remove', (p) => new RemoveEdge({ id: p.id('id') })],
  [
    'edges/batch-add-edges',
    (p) => {
      const edges: EdgeInput[] = [];
      p.each('edges', (e) => edges.push(e.edge()));
      return new BatchAddEdges({ edges });
    },
  ],
  ['edges/batch-remove-edges', (p) => new BatchRemoveEdges({ ids: p.strings('ids') })],

  [
    'subflow/update',
    (p) => new UpdateSubflow({ id: p.id('id'), type: p.optStr('type'), config: p.object('config') }),
  ],
  ['subflow/add', (p) => new AddSubflow({ block: p.block(), config: p.optObject('config') })],
  ['subflow/remove', (p) => new RemoveSubflow({ id: p.id('id') })],
  [
    'subflow/duplicate-with-children',
    (p) =>
      new DuplicateSubflowWithChildren({
        sourceId: p.id('sourceId'),
        id: p.id('id'),
        idMap: p.stringMap('idMap'),
        position: p.optPosition('position'),
      }),
  ],

  [
    'subblock/subblock-update',
    (p) => new UpdateSubBlock({ blockId: p.id('blockId'), subBlockId: p.id('subblockId'), value: p.value('value') }),
  ],
  [
    'subblock/subblock-batch-update',
    (p) => {
      const updates: SubBlockUpdate[] = [];
      p.each('updates', (u) =>
        updates.push({
          blockId: u.id('blockId'),
          subBlockId: u.id('subblockId'),
          value: u.value('value'),
          expectedValue: u.value('expectedValue'),
          hasExpected: u.present('expectedValue'),
        }),
      );
      return new SubBlockBatchUpdate({ updates });
    },
  ],

  [
    'variable/add',
    (p) => new AddVariable({ id: p.id('id'), varName: p.optStr('name'), type: p.optStr('type'), value: p.value('value') }),
  ],
  ['variable/remove', (p) => new RemoveVariable({ id: p.id('variableId') })],
  [
    'variable/variable-update',
    (p) => new UpdateVariable({ id: p.id('variableId'), field: p.str('field'), value: p.value('value') }),
  ],
  ['variable/duplicate', (p) => new DuplicateVariable({ sourceId: p.id('sourceId'), id: p.id('id') })],

  [
    'workflow/replace-state',
    (p) => {
      const s = p.sub('state');
      const blocks: Record<string, BlockInput> = {};
      for (const id of s.keys('blocks')) {
        Object.defineProperty(blocks, id, {
          value: s.sub('blocks').sub(id).block(),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      const edges: EdgeInput[] = [];
      s.eachOpt('edges', (e) => edges.push(e.edge()));
      return new ReplaceState({ blocks, edges, loops: s.objectMap('loops'), parallels: s.objectMap('parallels') });
    },
  ],
]);

/**
 * Builds the operation named by (operation, target) from its reference
 * payload. The two separate events are reachable too: ("subblock-update",
 * "subblock") and ("variable-update", "variable"). It throws Invalid for an
 * unknown pair or a missing or mistyped field (named in the message), and
 * NoEffect for an update-position without commit, which the reference never
 * persists (live drags travel as frames, not operations).
 */
export function parseOp(operation: string, target: string, payload: Payload | null | undefined): Op {
  const parse = opParsers.get(`${target}/${operation}`);
  if (parse === undefined) {
    throw errorf('Invalid', `unknown operation ${q(operation)} on target ${q(target)}`);
  }
  const m: Payload = isObject(payload) ? payload : {};
  if (target === 'block' && operation === 'update-position') {
    if (hasOwn(m, 'commit') && m.commit === false) {
      throw errorf('NoEffect', 'update-position without commit');
    }
  }
  const p = new Wire(m, operation, { err: undefined });
  const op = parse(p);
  if (p.state.err !== undefined) throw p.state.err;
  return op;
}

/** Builds the "subblock-update" event's operation from its payload (blockId, subblockId, value). */
export function parseSubBlockUpdate(payload: Payload | null | undefined): Op {
  return parseOp('subblock-update', 'subblock', payload);
}

/** Builds the "variable-update" event's operation from its payload (variableId, field, value). */
export function parseVariableUpdate(payload: Payload | null | undefined): Op {
  return parseOp('variable-update', 'variable', payload);
}

/** Lists every supported [target, operation] pair, sorted. */
export function operations(): [string, string][] {
  const pairs = [...opParsers.keys()].map((k) => {
    const i = k.indexOf('/');
    return [k.slice(0, i), k.slice(i + 1)] as [string, string];
  });
  return pairs.sort((a, b) => compareStrings(a[0], b[0]) || compareStrings(a[1], b[1]));
}

/** The first error of one parse, shared by the readers of nested objects. */
interface WireState {
  err: WorkflowError | undefined;
}

/**
 * Reads one JSON-shaped object of a payload. The first type error is kept
 * (shared with the readers of nested objects) and every later read returns
 * zero values, so parsers read straight through and check once.
 */
export class Wire {
  constructor(
    readonly m: Payload,
    readonly path: string,
    readonly state: WireState,
  ) {}

  fail(field: string, want: string): void {
    if (this.state.err === undefined) {
      this.state.err = errorf('Invalid', `${this.path}.${field}: want ${want}`);
    }
  }

  /** An own field's value; absent reads as undefined (inherited names are absent). */
  private raw(field: string): unknown {
    return hasOwn(this.m, field) ? this.m[field] : undefined;
  }

  present(field: string): boolean {
    return hasOwn(this.m, field);
  }

  /** Returns a field as is (any JSON value, null if absent). */
  value(field: string): unknown {
    return this.raw(field) ?? null;
  }

  /** Reads a required string. */
  str(field: string): string {
    const s = this.raw(field);
    if (typeof s !== 'string') {
      this.fail(field, 'a string');
      return '';
    }
    return s;
  }

  /** Reads a required, non-empty string. */
  id(field: string): string {
    const s = this.str(field);
    if (s === '') this.fail(field, 'a non-empty id');
    return s;
  }

  /** Reads an optional string; absent and null read as "". */
  optStr(field: string): string {
    const v = this.raw(field);
    if (v === null || v === undefined) return '';
    if (typeof v !== 'string') {
      this.fail(field, 'a string or null');
      return '';
    }
    return v;
  }

  boolean(field: string): boolean {
    const b = this.raw(field);
    if (typeof b !== 'boolean') {
      this.fail(field, 'a boolean');
      return false;
    }
    return b;
  }

  optBool(field: string): boolean | undefined {
    const v = this.raw(field);
    if (v === null || v === undefined) return undefined;
    return this.boolean(field);
  }

  /** Reads a code point index or length: an integer from 0 (below 2^31). */
  index(field: string): number {
    const f = this.number(field);
    if (f < 0 || f >= 2 ** 31 || f !== Math.trunc(f)) {
      this.fail(field, 'an integer from 0');
      return 0;
    }
    return f;
  }

  /** Reads a text field's address: variableId, or blockId and subblockId. */
  textTarget(): TextTarget {
    if (this.present('variableId')) return { variableId: this.id('variableId') };
    return { blockId: this.id('blockId'), subBlockId: this.id('subblockId') };
  }

  number(field: string): number {
    const [f, ok] = toFloat(this.raw(field));
    if (!ok || !Number.isFinite(f)) this.fail(field, 'a finite number');
    return f;
  }

  optNumber(field: string): number | undefined {
    const v = this.raw(field);
    if (v === null || v === undefined) return undefined;
    return this.number(field);
  }

  /** Reads a required object. */
  object(field: string): Payload {
    const m = this.raw(field);
    if (!isObject(m)) {
      this.fail(field, 'an object');
      return {};
    }
    return m;
  }

  /** Reads an optional object; null and absent read as undefined. */
  optObject(field: string): Payload | undefined {
    const v = this.raw(field);
    if (v === null || v === undefined) return undefined;
    return this.object(field);
  }

  /** Returns a reader for a nested object (required). */
  sub(field: string): Wire {
    return new Wire(this.object(field), `${this.path}.${field}`, this.state);
  }

  /** Returns the sorted keys of a nested object. */
  keys(field: string): string[] {
    return sortedKeys(this.object(field));
  }

  position(field: string): Position {
    const p = this.sub(field);
    return { x: p.number('x'), y: p.number('y') };
  }

  optPosition(field: string): Position | undefined {
    const v = this.raw(field);
    if (v === null || v === undefined) return undefined;
    return this.position(field);
  }

  /** Reads an array; optional lists read absent or null as empty. */
  list(field: string, required: boolean): unknown[] {
    const v = this.raw(field);
    if ((v === null || v === undefined) && !required) return [];
    if (!Array.isArray(v)) {
      this.fail(field, 'an array');
      return [];
    }
    return v;
  }

  /** Calls fn with a reader for each object of a required array. */
  each(field: string, fn: (w: Wire) => void): void {
    this.eachIn(field, true, fn);
  }

  /** each for an optional array. */
  eachOpt(field: string, fn: (w: Wire) => void): void {
    this.eachIn(field, false, fn);
  }

  private eachIn(field: string, required: boolean, fn: (w: Wire) => void): void {
    const l = this.list(field, required);
    for (let i = 0; i < l.length; i++) {
      const m = l[i];
      if (!isObject(m)) {
        this.fail(`${field}[${i}]`, 'an object');
        return;
      }
      fn(new Wire(m, `${this.path}.${field}[${i}]`, this.state));
    }
  }

  strings(field: string): string[] {
    const l = this.list(field, true);
    const out: string[] = [];
    for (let i = 0; i < l.length; i++) {
      const s = l[i];
      if (typeof s !== 'string') {
        this.fail(`${field}[${i}]`, 'a string');
        return [];
      }
      out.push(s);
    }
    return out;
  }

  /** Reads an optional object of strings (absent reads as empty). */
  stringMap(field: string): Record<string, string> {
    const m = this.optObject(field) ?? {};
    const out: Record<string, string> = {};
    for (const k of Object.keys(m)) {
      const s = m[k];
      if (typeof s !== 'string') {
        this.fail(`${field}.${k}`, 'a string');
        return {};
      }
      defineOwn(out, k, s);
    }
    return out;
  }

  /** Reads an optional object of booleans (absent reads as empty). */
  boolMap(field: string): Record<string, boolean> {
    const m = this.optObject(field) ?? {};
    const out: Record<string, boolean> = {};
    for (const k of Object.keys(m)) {
      const b = m[k];
      if (typeof b !== 'boolean') {
        this.fail(`${field}.${k}`, 'a boolean');
        return {};
      }
      defineOwn(out, k, b);
    }
    return out;
  }

  /** Reads an optional object of objects; absent or null reads as undefined. */
  objectMap(field: string): Record<string, Record<string, unknown>> | undefined {
    const m = this.optObject(field);
    if (m === undefined) return undefined;
    const out: Record<string, Record<string, unknown>> = {};
    for (const k of Object.keys(m)) {
      const o = m[k];
      if (!isObject(o)) {
        this.fail(`${field}.${k}`, 'an object');
        return undefined;
      }
      defineOwn(out, k, o);
    }
    return out;
  }

  edge(): EdgeInput {
    return {
      id: this.id('id'),
      source: this.id('source'),
      target: this.id('target'),
      sourceHandle: this.optStr('sourceHandle'),
      targetHandle: this.optStr('targetHandle'),
      type: this.optStr('type'),
    };
  }

  /**
   * Reads a full block record. The legacy top-level parentId and extent
   * (real columns before they moved into data) are folded into data.
   */
  block(): BlockInput {
    const inp: BlockInput = {
      id: this.id('id'),
      type: this.str('type'),
      name: this.optStr('name'),
      position: this.optPosition('position'),
      outputs: this.value('outputs'),
      enabled: this.optBool('enabled'),
      horizontalHandles: this.optBool('horizontalHandles'),
      isWide: this.optBool('isWide'),
      advancedMode: this.optBool('advancedMode'),
      triggerMode: this.optBool('triggerMode'),
      errorEnabled: this.optBool('errorEnabled'),
      locked: this.optBool('locked'),
      height: this.optNumber('height'),
      data: cloneObject(this.optObject('data')),
      retry: this.value('retry'),
    };
    for (const k of ['parentId', 'extent']) {
      const v = this.optStr(k);
      if (v !== '') {
        if (inp.data === undefined) inp.data = {};
        if (!hasOwn(inp.data, k)) inp.data[k] = v;
      }
    }
    if (this.raw('subBlocks') !== null && this.raw('subBlocks') !== undefined) {
      const subs = this.sub('subBlocks');
      const out: Record<string, SubBlockInput> = {};
      for (const sid of sortedKeys(subs.m)) {
        const s = subs.sub(sid);
        defineOwn(out, sid, { id: sid, type: s.optStr('type'), value: s.value('value') });
      }
      inp.subBlocks = out;
    }
    return inp;
  }
}

/** A shallow copy (Go's maps.Clone), so folding legacy fields in never touches the payload. */
function cloneObject(m: Payload | undefined): Payload | undefined {
  return m === undefined ? undefined : { ...m };
}

/** Sets an own property even for a key like "__proto__", which plain assignment would not create. */
function defineOwn<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}
