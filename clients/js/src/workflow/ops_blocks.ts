// Port of crdt/workflow/ops_blocks.go: the batch block operations. The
// document walks every operation shares are in ops_common.ts. The order of writes decides the dot
// counters of a delta, so every loop here visits what Go visits in Go's order
// (sorted keys where Go sorts, input order where Go keeps it).

import type { Builder, Op } from './builder';
import { isError, WorkflowError } from './errors';
import {
  FieldEnabled,
  FieldExtent,
  FieldHorizontalHandles,
  FieldLocked,
  FieldParentID,
  FieldPosition,
  asBool,
  boolValue,
  positionValue,
  stringValue,
  type Position,
} from './fields';
import {
  blockNames,
  checkID,
  checkName,
  dataString,
  removeBlocks,
  withDescendants,
  writeBlock,
  type BlockInput,
  type SubBlockInput,
  type SubflowConfigs,
} from './ops_common';
import { newEdgeChecker, type EdgeInput } from './ops_edge';
import type { NameSet } from './doc_index_reads';
import { blockExists, blockType, fieldKey, isContainer, isLocked } from './state';
import { protected_, staleCut, treeOf } from './tree';
import { writeNewSubflow } from './subflow_config';
import { errorf, hasOwn, own, q } from './util';

// The input types of the batch operations are declared in ops_common.ts,
// where the writes that read them live; they belong to this module's API.
export { maxIDLen, type BlockInput, type SubBlockInput, type SubflowConfigs } from './ops_common';

/** One entry of BatchUpdatePositions. */
export interface PositionUpdate {
  id: string;
  position: Position;
}

/** One entry of BatchUpdateParent. An empty or absent parentId detaches the block. */
export interface ParentUpdate {
  id: string;
  parentId?: string;
  position?: Position;
}

/**
 * "batch-update-positions": moves several blocks. Unknown and protected
 * blocks are skipped; if all are, it fails with Locked (some were protected)
 * or NoEffect.
 */
export class BatchUpdatePositions implements Op {
  readonly updates: PositionUpdate[];
  constructor(init: { updates?: PositionUpdate[] } = {}) {
    this.updates = init.updates ?? [];
  }
  name(): string {
    return 'batch-update-positions';
  }
  prepare(b: Builder): void {
    const s = new Skips();
    for (const u of this.updates) {
      if (!s.usable(b, u.id)) continue;
      b.put(fieldKey(u.id, FieldPosition), positionValue(u.position ?? { x: 0, y: 0 }));
    }
    s.err('batch-update-positions');
  }
}

/**
 * "batch-add-blocks": adds blocks with their sub-block values, subflow
 * configs and edges, all or nothing. It fails with Invalid (malformed block,
 * no name), Exists (id present or repeated), NameConflict, UnknownBlock or
 * NotContainer (bad parent), Locked (parent protected) or EdgeRejected.
 *
 * Defaults: enabled and horizontalHandles true, advancedMode, triggerMode,
 * errorEnabled and locked false, height 0. A new loop or parallel block gets
 * default subflow config unless loops or parallels has its id. Entries of
 * loops and parallels for ids that are not container blocks of this batch are
 * ignored: a batch may not rewrite a container it does not add.
 */
export class BatchAddBlocks implements Op {
  readonly blocks: BlockInput[];
  readonly edges: EdgeInput[];
  readonly loops: SubflowConfigs | undefined;
  readonly parallels: SubflowConfigs | undefined;
  readonly subBlockValues: SubflowConfigs | undefined;
  constructor(
    init: {
      blocks?: BlockInput[];
      edges?: EdgeInput[];
      loops?: SubflowConfigs;
      parallels?: SubflowConfigs;
      subBlockValues?: Record<string, Record<string, unknown>>;
    } = {},
  ) {
    this.blocks = init.blocks ?? [];
    this.edges = init.edges ?? [];
    this.loops = init.loops;
    this.parallels = init.parallels;
    this.subBlockValues = init.subBlockValues;
  }
  name(): string {
    return 'batch-add-blocks';
  }
  prepare(b: Builder): void {
    const batch = new Map<string, BlockInput>();
    const names = blockNames(b);
    for (const inp of this.blocks) {
      checkNewBlock(b, inp, batch, names);
      batch.set(inp.id, inp);
    }
    for (const inp of this.blocks) {
      checkNewParent(b, inp.id, batch);
    }
    for (const inp of this.blocks) {
      const withValues: BlockInput = {
        ...inp,
        subBlocks: mergeSubBlockValues(inp.subBlocks, own(this.subBlockValues, inp.id)),
      };
      writeBlock(b, withValues);
      writeNewSubflow(b, inp.id, inp.type, this.loops, this.parallels);
    }
    const c = newEdgeChecker(b);
    for (const e of this.edges) {
      c.admit(e);
    }
  }
}

/**
 * Validates a block to be added against the document and the blocks of the
 * batch before it, and records its name in names.
 */
export function checkNewBlock(b: Builder, inp: BlockInput, batch: Map<string, BlockInput>, names: NameSet): void {
  checkID('block', inp.id);
  if (batch.has(inp.id) || blockExists(b, inp.id)) {
    throw errorf('Exists', `block ${q(inp.id)}`);
  }
  if (!inp.type) {
    throw errorf('Invalid', `block ${q(inp.id)} has no type`);
  }
  if (!inp.name) {
    throw errorf('Invalid', `block ${q(inp.id)} has no name`);
  }
  const norm = checkName(inp.name, names, inp.id);
  names.set(norm, inp.id);
}

/**
 * Checks the parent named in a new block's data: a present or batch
 * container, not protected, not a parent loop within the batch.
 */
export function checkNewParent(b: Builder, id: string, batch: Map<string, BlockInput>): void {
  const parent = dataString(batch.get(id)?.data, 'parentId');
  if (parent === '') return;
  const inp = batch.get(parent);
  if (inp !== undefined) {
    if (!isContainer(inp.type)) {
      throw errorf('NotContainer', `parent ${q(parent)} of block ${q(id)}`);
    }
    // Walk the batch's own parent links: a batch must not nest a block in
    // itself. Each batch block is visited once at most, so the walk ends.
    const seen = new Set<string>();
    for (let p = parent; p !== '' && !seen.has(p); p = dataString(batch.get(p)?.data, 'parentId')) {
      if (p === id) {
        throw errorf('Invalid', `block ${q(id)} is its own ancestor`);
      }
      if (!batch.has(p)) break;
      seen.add(p);
    }
    return;
  }
  checkParent(b, id, parent);
}

/**
 * Checks that a present block may become a child of parent: a live container
 * that is not the block or one of its effective descendants (at any depth)
 * and not protected.
 */
export function checkParent(b: Builder, id: string, parent: string): void {
  if (!blockExists(b, parent)) {
    throw errorf('UnknownBlock', `parent ${q(parent)} of block ${q(id)}`);
  }
  if (!isContainer(blockType(b, parent))) {
    throw errorf('NotContainer', `parent ${q(parent)} of block ${q(id)}`);
  }
  const t = treeOf(b);
  if (t.contains(id, parent)) {
    throw errorf('Invalid', `block ${q(id)} cannot move into itself or a descendant`);
  }
  if (t.protected(b, parent)) {
    throw errorf('Locked', `parent ${q(parent)}`);
  }
  for (const c of staleCut(b, t, id, parent)) {
    if (t.protected(b, c)) {
      throw errorf('Locked', `block ${q(c)} holds a stale parent that the move must clear`);
    }
  }
}

/**
 * Returns subs with values overridden by vals; a value for a sub-block not in
 * subs creates one of type "short-input", as the reference does.
 */
export function mergeSubBlockValues(
  subs: Record<string, SubBlockInput> | undefined,
  vals: Record<string, unknown> | undefined,
): Record<string, SubBlockInput> | undefined {
  if (vals === undefined || vals === null || Object.keys(vals).length === 0) return subs;
  const out: Record<string, SubBlockInput> = {};
  for (const k of Object.keys(subs ?? {})) out[k] = (subs as Record<string, SubBlockInput>)[k];
  for (const id of Object.keys(vals)) {
    const sb: SubBlockInput = hasOwn(out, id) ? { ...out[id] } : { id, type: 'short-input' };
    sb.value = vals[id];
    out[id] = sb;
  }
  return out;
}

/**
 * "batch-remove-blocks": removes blocks, with every descendant of a
 * container and every edge touching a removed block. Unknown and protected
 * ids are skipped; if nothing is left it fails with Locked (some were
 * protected) or NoEffect.
 */
export class BatchRemoveBlocks implements Op {
  readonly ids: string[];
  constructor(init: { ids?: string[] } = {}) {
    this.ids = init.ids ?? [];
  }
  name(): string {
    return 'batch-remove-blocks';
  }
  prepare(b: Builder): void {
    const s = new Skips();
    const ids: string[] = [];
    for (const id of this.ids) {
      if (s.usable(b, id)) ids.push(id);
    }
    s.err('batch-remove-blocks');
    removeBlocks(b, withDescendants(b, ids));
  }
}

/**
 * "batch-toggle-enabled": sets enabled on the unprotected blocks and the
 * unprotected descendants of containers among them, to the negation of the
 * first such block's current value. previousStates is kept for the client's
 * undo and ignored here.
 */
export class BatchToggleEnabled implements Op {
  readonly blockIds: string[];
  readonly previousStates: Record<string, boolean>;
  constructor(init: { blockIds?: string[]; previousStates?: Record<string, boolean> } = {}) {
    this.blockIds = init.blockIds ?? [];
    this.previousStates = init.previousStates ?? {};
  }
  name(): string {
    return 'batch-toggle-enabled';
  }
  prepare(b: Builder): void {
    const s = new Skips();
    const ids: string[] = [];
    for (const id of this.blockIds) {
      if (s.usable(b, id)) ids.push(id);
    }
    s.err('batch-toggle-enabled');
    const t = treeOf(b);
    const set = withDescendants(b, ids, (id) => !t.protected(b, id));
    const target = !asBool(b.get(fieldKey(ids[0], FieldEnabled)), true);
    for (const id of set) {
      b.put(fieldKey(id, FieldEnabled), boolValue(target));
    }
  }
}

/** "batch-toggle-handles": flips horizontalHandles of each unprotected block independently. */
export class BatchToggleHandles implements Op {
  readonly blockIds: string[];
  readonly previousStates: Record<string, boolean>;
  constructor(init: { blockIds?: string[]; previousStates?: Record<string, boolean> } = {}) {
    this.blockIds = init.blockIds ?? [];
    this.previousStates = init.previousStates ?? {};
  }
  name(): string {
    return 'batch-toggle-handles';
  }
  prepare(b: Builder): void {
    const s = new Skips();
    const done = new Set<string>();
    for (const id of this.blockIds) {
      if (done.has(id) || !s.usable(b, id)) continue;
      done.add(id); // a repeated id flips once, not back
      const k = fieldKey(id, FieldHorizontalHandles);
      b.put(k, boolValue(!asBool(b.get(k), true)));
    }
    s.err('batch-toggle-handles');
  }
}

/**
 * "batch-toggle-locked" (admin only): sets locked on the blocks and all their
 * container descendants, protected or not, to the negation of the first
 * block's current value.
 */
export class BatchToggleLocked implements Op {
  readonly blockIds: string[];
  readonly previousStates: Record<string, boolean>;
  constructor(init: { blockIds?: string[]; previousStates?: Record<string, boolean> } = {}) {
    this.blockIds = init.blockIds ?? [];
    this.previousStates = init.previousStates ?? {};
  }
  name(): string {
    return 'batch-toggle-locked';
  }
  prepare(b: Builder): void {
    const ids = this.blockIds.filter((id) => blockExists(b, id));
    if (ids.length === 0) {
      throw errorf('NoEffect', 'batch-toggle-locked: no known block');
    }
    const target = !isLocked(b, ids[0]);
    for (const id of withDescendants(b, ids)) {
      b.put(fieldKey(id, FieldLocked), boolValue(target));
    }
  }
}

/**
 * "batch-update-parent": moves blocks in or out of containers. An entry is
 * skipped when its block is unknown or protected, or its target parent is
 * unknown, not a container, protected, or the block itself or one of its
 * descendants. If every entry is skipped it fails with Locked (some were
 * protected) or NoEffect.
 */
export class BatchUpdateParent implements Op {
  readonly updates: ParentUpdate[];
  constructor(init: { updates?: ParentUpdate[] } = {}) {
    this.updates = init.updates ?? [];
  }
  name(): string {
    return 'batch-update-parent';
  }
  prepare(b: Builder): void {
    const s = new Skips();
    for (const u of this.updates) {
      if (!s.usable(b, u.id)) continue;
      const parent = u.parentId ?? '';
      if (parent !== '') {
        try {
          checkParent(b, u.id, parent);
        } catch (err) {
          s.skip(err);
          continue;
        }
      }
      setParent(b, u.id, parent, 'parent');
      if (u.position !== undefined) {
        b.put(fieldKey(u.id, FieldPosition), positionValue(u.position));
      }
    }
    s.err('batch-update-parent');
  }
}

/**
 * Moves id under parent with extent, or detaches it when parent is empty. An
 * empty extent leaves the stored one as it is. A stale pointer that would
 * close a cycle through the new one (see staleCut) is cleared, so the move
 * shows as asked; checkParent has refused the move if that block is
 * protected.
 */
export function setParent(b: Builder, id: string, parent: string, extent: string): void {
  if (parent === '') {
    b.remove(fieldKey(id, FieldParentID));
    b.remove(fieldKey(id, FieldExtent));
    return;
  }
  for (const c of staleCut(b, treeOf(b), id, parent)) {
    b.remove(fieldKey(c, FieldParentID));
  }
  b.put(fieldKey(id, FieldParentID), stringValue(parent));
  if (extent !== '') {
    b.put(fieldKey(id, FieldExtent), stringValue(extent));
  }
}

/**
 * Tracks why a batch skipped entries, so that a batch that skipped
 * everything can say whether locks were the reason.
 */
export class Skips {
  used = 0;
  locked = 0;
  other = 0;

  /** Reports whether block id may be touched by a batch, counting it either way. */
  usable(b: Builder, id: string): boolean {
    if (!blockExists(b, id)) {
      this.other++;
      return false;
    }
    if (protected_(b, id)) {
      this.locked++;
      return false;
    }
    this.used++;
    return true;
  }

  /** Takes back a usable entry that a later check refused. Non-workflow errors are rethrown. */
  skip(err: unknown): void {
    if (!(err instanceof WorkflowError)) throw err;
    this.used--;
    if (isError(err, 'Locked')) this.locked++;
    else this.other++;
  }

  /** Throws Locked or NoEffect when nothing was usable. */
  err(op: string): void {
    if (this.used > 0) return;
    if (this.locked > 0) {
      throw errorf('Locked', `${op}: every block is locked or unknown`);
    }
    throw errorf('NoEffect', `${op}: no known block`);
  }
}
