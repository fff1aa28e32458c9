// Port of crdt/workflow/ops_subflow.go: loop and parallel containers.

import type { Builder, Op } from './builder';
import { KindEdge } from './doc';
import { FieldName, FieldParentID, FieldPosition, asEdge, asPosition, asString, stringValue, type Edge, type Position } from './fields';
import { copyBlock, checkNewCopy, duplicateOffset } from './ops_block';
import {
  BatchAddBlocks,
  blockNames,
  checkID,
  copyName,
  liveIDs,
  putAny,
  removeBlocks,
  withDescendants,
  type BlockInput,
  type SubflowConfigs,
} from './ops_blocks';
import { newEdgeChecker } from './ops_edge';
import {
  TypeLoop,
  TypeParallel,
  blockExists,
  blockType,
  edgeKey,
  fieldKey,
  isContainer,
  normalizeName,
  parentOf,
  protected_,
  subflowKey,
  type Reader,
} from './state';
import { errorf, hasOwn, own, q, show, sortedKeys } from './util';

// Subflow config keys with rules of their own.
export const cfgLoopType = 'loopType';
export const cfgParallelType = 'parallelType';
export const cfgBatchSize = 'batchSize';
/** Derived from the children's parentId and never stored. */
export const cfgNodes = 'nodes';
/** Repeats the container id the config is stored under. */
export const cfgID = 'id';

// batchSize bounds, applied whenever a batch size is written.
export const minBatchSize = 1;
export const maxBatchSize = 20;

/** The config a new container gets when none is given. */
export function subflowDefaults(type: string): Record<string, unknown> | undefined {
  switch (type) {
    case TypeLoop:
      return { [cfgLoopType]: 'for', iterations: 5 };
    case TypeParallel:
      return { [cfgParallelType]: 'count', count: 5, [cfgBatchSize]: maxBatchSize };
  }
  return undefined;
}

/**
 * Writes the config of a block just added: the given one from loops or
 * parallels (by block type) or the defaults. Non-containers get none.
 */
export function writeNewSubflow(
  b: Builder,
  id: string,
  type: string,
  loops: SubflowConfigs | undefined,
  parallels: SubflowConfigs | undefined,
): void {
  let given: Record<string, unknown> | undefined;
  let ok: boolean;
  switch (type) {
    case TypeLoop:
      ok = hasOwn(loops, id);
      given = own(loops, id);
      break;
    case TypeParallel:
      ok = hasOwn(parallels, id);
      given = own(parallels, id);
      break;
    default:
      return;
  }
  if (!ok) given = subflowDefaults(type);
  writeSubflowConfig(b, id, given);
}

/**
 * Validates config and writes it key by key (a shallow merge over what is
 * stored). It fails with Invalid for an unknown loop or parallel type or a
 * non-numeric batch size.
 */
export function writeSubflowConfig(b: Builder, id: string, config: Record<string, unknown> | undefined): void {
  for (const k of sortedKeys(config)) {
    if (k === cfgNodes || k === cfgID) continue;
    if (k === '') {
      throw errorf('Invalid', `subflow ${q(id)}: empty config key`);
    }
    let v: unknown;
    try {
      v = subflowValue(k, (config as Record<string, unknown>)[k]);
    } catch (err) {
      throw errorf('Invalid', `subflow ${q(id)}: ${(err as Error).message}`);
    }
    putAny(b, subflowKey(id, k), v);
  }
}

/** Checks and normalizes one config value. */
export function subflowValue(k: string, v: unknown): unknown {
  switch (k) {
    case cfgLoopType:
      if (v !== 'for' && v !== 'forEach' && v !== 'while' && v !== 'doWhile') {
        throw errorf('Invalid', `loopType ${show(v)}, want for, forEach, while or doWhile`);
      }
      break;
    case cfgParallelType:
      if (v !== 'count' && v !== 'collection') {
        throw errorf('Invalid', `parallelType ${show(v)}, want count or collection`);
      }
      break;
    case cfgBatchSize: {
      const [f, ok] = toFloat(v);
      if (!ok) {
        throw errorf('Invalid', `batchSize ${show(v)} is not a number`);
      }
      // Go's math.Round rounds halves away from zero, Math.round towards +∞;
      // they differ only on negative halves, which the clamp maps to 1 alike.
      return Math.min(Math.max(Math.round(f), minBatchSize), maxBatchSize);
    }
  }
  return v;
}

/**
 * Reads a JSON number: [value, ok]. NaN and infinities are not numbers (Go's
 * toFloat refuses them for float64); a bigint (a decoded integer beyond 2^53)
 * reads as its nearest number, as Go converts int64 and uint64.
 */
export function toFloat(v: unknown): [number, boolean] {
  if (typeof v === 'number') return Number.isFinite(v) ? [v, true] : [0, false];
  if (typeof v === 'bigint') return [Number(v), true];
  return [0, false];
}

/**
 * "update" on target subflow: merges config shallowly into a container's
 * subflow config. type, if given, must match the block's type. It fails with
 * UnknownBlock, NotContainer, Invalid (type mismatch, bad
 * loopType/parallelType/batchSize) or Locked. The derived "nodes" key is
 * ignored and batchSize is clamped to 1..20.
 */
export class UpdateSubflow implements Op {
  readonly id: string;
  readonly type: string;
  readonly config: Record<string, unknown>;
  constructor(init: { id?: string; type?: string; config?: Record<string, unknown> } = {}) {
    this.id = init.id ?? '';
    this.type = init.type ?? '';
    this.config = init.config ?? {};
  }
  name(): string {
    return 'update';
  }
  prepare(b: Builder): void {
    checkContainer(b, this.id);
    if (this.type !== '' && this.type !== blockType(b, this.id)) {
      throw errorf('Invalid', `subflow ${q(this.id)} is a ${blockType(b, this.id)}, not a ${this.type}`);
    }
    writeSubflowConfig(b, this.id, this.config);
  }
}

/** Checks that id is a present, unprotected container. */
export function checkContainer(b: Builder, id: string): void {
  checkID('subflow', id);
  if (!blockExists(b, id)) {
    throw errorf('UnknownBlock', `subflow ${q(id)}`);
  }
  if (!isContainer(blockType(b, id))) {
    throw errorf('NotContainer', `block ${q(id)}`);
  }
  if (protected_(b, id)) {
    throw errorf('Locked', `subflow ${q(id)}`);
  }
}

/**
 * "add" on target subflow (legacy): adds a loop or parallel block with its
 * config (defaults when config is absent), with the rules and errors of
 * BatchAddBlocks. A block of another type fails with NotContainer.
 */
export class AddSubflow implements Op {
  readonly block: BlockInput;
  readonly config: Record<string, unknown> | undefined;
  constructor(init: { block: BlockInput; config?: Record<string, unknown> | null }) {
    this.block = init.block;
    this.config = init.config ?? undefined;
  }
  name(): string {
    return 'add';
  }
  prepare(b: Builder): void {
    if (!isContainer(this.block.type)) {
      throw errorf('NotContainer', `subflow ${q(this.block.id)} has type ${q(this.block.type)}`);
    }
    let loops: SubflowConfigs | undefined;
    let parallels: SubflowConfigs | undefined;
    if (this.config !== undefined) {
      const cfg: SubflowConfigs = { [this.block.id]: this.config };
      if (this.block.type === TypeLoop) loops = cfg;
      else parallels = cfg;
    }
    new BatchAddBlocks({ blocks: [this.block], loops, parallels }).prepare(b);
  }
}

/**
 * "remove" on target subflow (legacy): removes a container with its
 * descendants and their edges. It fails with UnknownBlock, NotContainer or
 * Locked.
 */
export class RemoveSubflow implements Op {
  readonly id: string;
  constructor(init: { id?: string } = {}) {
    this.id = init.id ?? '';
  }
  name(): string {
    return 'remove';
  }
  prepare(b: Builder): void {
    checkContainer(b, this.id);
    removeBlocks(b, withDescendants(b, [this.id]));
  }
}

/**
 * "duplicate-with-children" (legacy): copies a container, every descendant
 * and every edge between them. idMap gives the new id of each descendant and
 * of each internal edge; the container's new id is id. Copies get unique
 * "(copy)" names and are unlocked; the container lands at position, or
 * offset from the source. It fails with UnknownBlock, NotContainer, Invalid
 * (an id missing from idMap), Exists (a new id is present or repeated) or
 * Locked (the source's parent is protected); copied edges go through the
 * edge pipeline.
 */
export class DuplicateSubflowWithChildren implements Op {
  readonly sourceId: string;
  readonly id: string;
  readonly idMap: Record<string, string>;
  readonly position: Position | undefined;
  constructor(init: { sourceId?: string; id?: string; idMap?: Record<string, string>; position?: Position } = {}) {
    this.sourceId = init.sourceId ?? '';
    this.id = init.id ?? '';
    this.idMap = init.idMap ?? {};
    this.position = init.position;
  }
  name(): string {
    return 'duplicate-with-children';
  }
  prepare(b: Builder): void {
    checkNewCopy(b, this.sourceId, this.id);
    if (!isContainer(blockType(b, this.sourceId))) {
      throw errorf('NotContainer', `block ${q(this.sourceId)}`);
    }
    const p = parentOf(b, this.sourceId);
    if (p !== '' && protected_(b, p)) {
      throw errorf('Locked', `parent ${q(p)}`);
    }
    const blocks = withDescendants(b, [this.sourceId]);
    // One map for blocks and edges, as in Go (an edge id equal to a block id
    // shares its entry).
    const newID = new Map<string, string>([[this.sourceId, this.id]]);
    mapIDs(b, blocks.slice(1), this.idMap, newID, blockExists);
    const edges = internalEdges(b, newID);
    mapIDs(
      b,
      edges.map((e) => e.id),
      this.idMap,
      newID,
      (r, id) => r.has(edgeKey(id)),
    );
    const names = blockNames(b);
    blocks.forEach((src, i) => {
      const name = copyName(asString(b.get(fieldKey(src, FieldName))), names);
      names.set(normalizeName(name), newID.get(src) ?? '');
      let pos = asPosition(b.get(fieldKey(src, FieldPosition)));
      if (i === 0) {
        pos = { x: pos.x + duplicateOffset, y: pos.y + duplicateOffset };
        if (this.position !== undefined) pos = this.position;
      }
      copyBlock(b, src, newID.get(src) ?? '', name, pos);
      if (i > 0) {
        b.put(fieldKey(newID.get(src) ?? '', FieldParentID), stringValue(newID.get(parentOf(b, src)) ?? ''));
      }
    });
    const c = newEdgeChecker(b);
    for (const e of edges) {
      c.admit({
        id: newID.get(e.id) ?? '',
        source: newID.get(e.source) ?? '',
        target: newID.get(e.target) ?? '',
        sourceHandle: e.sourceHandle,
        targetHandle: e.targetHandle,
        type: e.type,
      });
    }
  }
}

/**
 * Looks up the new id of each old id in idMap and records it in newID,
 * refusing missing, repeated and present ids.
 */
export function mapIDs(
  b: Builder,
  old: string[],
  idMap: Record<string, string>,
  newID: Map<string, string>,
  exists: (r: Reader, id: string) => boolean,
): void {
  const taken = new Set<string>(newID.values());
  for (const o of old) {
    const n = own(idMap, o) ?? '';
    checkID('new id for ' + o, n);
    if (taken.has(n) || exists(b, n)) {
      throw errorf('Exists', `new id ${q(n)} for ${q(o)}`);
    }
    taken.add(n);
    newID.set(o, n);
  }
}

/** Returns the present edges with both ends among the keys of blocks, sorted by id. */
export function internalEdges(b: Builder, blocks: Map<string, string>): Edge[] {
  const out: Edge[] = [];
  for (const id of liveIDs(b, KindEdge)) {
    const e = asEdge(b.get(edgeKey(id)));
    e.id = id;
    if (blocks.has(e.source) && blocks.has(e.target)) out.push(e);
  }
  return out;
}
