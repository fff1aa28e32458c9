// Port of crdt/workflow/ops_subflow.go: loop and parallel containers. The
// config rules (keys, defaults, value checks) are in subflow_config.ts.

import type { Builder, Op } from './builder';
import { EdgeFinder } from './doc_index_reads';
import { FieldName, FieldParentID, FieldPosition, asPosition, asString, stringValue, type Edge, type Position } from './fields';
import { copyBlock, checkNewCopy, duplicateOffset, setCopyParent } from './ops_block';
import { BatchAddBlocks } from './ops_blocks';
import {
  blockNames,
  checkID,
  copyName,
  removeBlocks,
  withDescendants,
  type BlockInput,
  type SubflowConfigs,
} from './ops_common';
import { newEdgeChecker } from './ops_edge';
import { writeSubflowConfig } from './subflow_config';
import {
  TypeLoop,
  blockExists,
  blockType,
  edgeKey,
  fieldKey,
  isContainer,
  normalizeName,
  type Reader,
} from './state';
import { protected_, treeOf } from './tree';
import { compareStrings, errorf, own, q } from './util';

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
    const t = treeOf(b);
    const p = t.parentOf(this.sourceId);
    if (p !== '' && t.protected(b, p)) {
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
        b.put(fieldKey(newID.get(src) ?? '', FieldParentID), stringValue(newID.get(t.parentOf(src)) ?? ''));
      } else {
        setCopyParent(b, newID.get(src) ?? '', p);
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
  const f = new EdgeFinder(b);
  for (const block of blocks.keys()) {
    f.at(block, (e) => {
      if (blocks.has(e.source) && blocks.has(e.target) && e.source === block) out.push(e); // each internal edge once, at its source
    });
  }
  return out.sort((x, y) => compareStrings(x.id, y.id));
}
