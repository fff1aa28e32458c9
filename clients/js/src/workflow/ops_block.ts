// Port of crdt/workflow/ops_block.go: the single-block operations.
//
// Every single-block operation fails with Invalid for an empty id,
// UnknownBlock when the block is not present and Locked when it is protected
// (locked, or under a locked container).

import type { Builder, Op } from './builder';
import { KindBlock, KindBlockField, KindSubBlock, KindSubBlockType, KindSubflow, type Key } from './doc';
import {
  FieldAdvancedMode,
  FieldCanonicalPrefix,
  FieldEnabled,
  FieldErrorEnabled,
  FieldHorizontalHandles,
  FieldIsWide,
  FieldLocked,
  FieldName,
  FieldParentID,
  FieldPosition,
  FieldRetry,
  FieldTriggerMode,
  asBool,
  asPosition,
  asString,
  boolValue,
  positionValue,
  stringValue,
  type Position,
} from './fields';
import { BatchAddBlocks, checkParent, setParent } from './ops_blocks';
import {
  blockNames,
  checkID,
  checkModes,
  checkName,
  copyName,
  putAny,
  removeBlocks,
  withDescendants,
  type BlockInput,
} from './ops_common';
import { entity } from './doc_index';
import { entityKeysWhere } from './doc_index_reads';
import type { EdgeInput } from './ops_edge';
import { blockExists, blockKey, fieldKey } from './state';
import { effectiveParent, protected_ } from './tree';
import { errorf, hasOwn, q, sortedKeys } from './util';
import { copyValue } from './text_write';

/** Checks that a single-block operation may touch block id. */
export function editable(b: Builder, id: string): void {
  checkID('block', id);
  if (!blockExists(b, id)) {
    throw errorf('UnknownBlock', `block ${q(id)}`);
  }
  if (protected_(b, id)) {
    throw errorf('Locked', `block ${q(id)}`);
  }
}

/** "update-position": sets a block's position. */
export class UpdatePosition implements Op {
  readonly id: string;
  readonly position: Position;
  constructor(init: { id?: string; position?: Position } = {}) {
    this.id = init.id ?? '';
    this.position = init.position ?? { x: 0, y: 0 };
  }
  name(): string {
    return 'update-position';
  }
  prepare(b: Builder): void {
    editable(b, this.id);
    b.put(fieldKey(this.id, FieldPosition), positionValue(this.position));
  }
}

/**
 * "update-name": renames a block. It fails with NameConflict when the
 * normalized name is empty, reserved or another present block's. The new
 * name is newName (a field cannot share the name() method's name).
 */
export class UpdateName implements Op {
  readonly id: string;
  readonly newName: string;
  constructor(init: { id?: string; newName?: string } = {}) {
    this.id = init.id ?? '';
    this.newName = init.newName ?? '';
  }
  name(): string {
    return 'update-name';
  }
  prepare(b: Builder): void {
    editable(b, this.id);
    checkName(this.newName, blockNames(b), this.id);
    b.put(fieldKey(this.id, FieldName), stringValue(this.newName));
  }
}

/** "toggle-enabled": flips the stored enabled flag (default true). */
export class ToggleEnabled implements Op {
  readonly id: string;
  constructor(init: { id?: string } = {}) {
    this.id = init.id ?? '';
  }
  name(): string {
    return 'toggle-enabled';
  }
  prepare(b: Builder): void {
    flipFlag(b, this.id, FieldEnabled, true);
  }
}

export function flipFlag(b: Builder, id: string, field: string, def: boolean): void {
  editable(b, id);
  const k = fieldKey(id, field);
  b.put(k, boolValue(!asBool(b.get(k), def)));
}

export function setFlag(b: Builder, id: string, field: string, v: boolean): void {
  editable(b, id);
  b.put(fieldKey(id, field), boolValue(v));
}

/**
 * "update-parent": moves a block into a container, or out of it when
 * parentId is empty (which also drops the extent). A non-empty extent is
 * written; an empty one leaves the stored extent. It fails with UnknownBlock
 * or NotContainer for a bad parent, Invalid when the parent is the block or
 * one of its descendants, and Locked when the parent is protected.
 */
export class UpdateParent implements Op {
  readonly id: string;
  readonly parentId: string;
  readonly extent: string;
  constructor(init: { id?: string; parentId?: string; extent?: string } = {}) {
    this.id = init.id ?? '';
    this.parentId = init.parentId ?? '';
    this.extent = init.extent ?? '';
  }
  name(): string {
    return 'update-parent';
  }
  prepare(b: Builder): void {
    editable(b, this.id);
    if (this.parentId !== '') {
      checkParent(b, this.id, this.parentId);
    }
    setParent(b, this.id, this.parentId, this.extent);
  }
}

/** "update-advanced-mode": sets advancedMode. */
export class UpdateAdvancedMode implements Op {
  readonly id: string;
  readonly advancedMode: boolean;
  constructor(init: { id?: string; advancedMode?: boolean } = {}) {
    this.id = init.id ?? '';
    this.advancedMode = init.advancedMode ?? false;
  }
  name(): string {
    return 'update-advanced-mode';
  }
  prepare(b: Builder): void {
    setFlag(b, this.id, FieldAdvancedMode, this.advancedMode);
  }
}

/** "update-error-enabled": sets errorEnabled. */
export class UpdateErrorEnabled implements Op {
  readonly id: string;
  readonly errorEnabled: boolean;
  constructor(init: { id?: string; errorEnabled?: boolean } = {}) {
    this.id = init.id ?? '';
    this.errorEnabled = init.errorEnabled ?? false;
  }
  name(): string {
    return 'update-error-enabled';
  }
  prepare(b: Builder): void {
    setFlag(b, this.id, FieldErrorEnabled, this.errorEnabled);
  }
}

/**
 * "update-retry": stores the retry object verbatim; bounds are applied by
 * readers, as in the reference. An absent (undefined or null) retry clears it.
 */
export class UpdateRetry implements Op {
  readonly id: string;
  readonly retry: Record<string, unknown> | undefined;
  constructor(init: { id?: string; retry?: Record<string, unknown> | null } = {}) {
    this.id = init.id ?? '';
    this.retry = init.retry ?? undefined;
  }
  name(): string {
    return 'update-retry';
  }
  prepare(b: Builder): void {
    editable(b, this.id);
    putAny(b, fieldKey(this.id, FieldRetry), this.retry ?? null);
  }
}

/** "update-canonical-mode": sets one canonical mode; mode must be "basic" or "advanced" (Invalid). */
export class UpdateCanonicalMode implements Op {
  readonly id: string;
  readonly canonicalId: string;
  readonly mode: string;
  constructor(init: { id?: string; canonicalId?: string; mode?: string } = {}) {
    this.id = init.id ?? '';
    this.canonicalId = init.canonicalId ?? '';
    this.mode = init.mode ?? '';
  }
  name(): string {
    return 'update-canonical-mode';
  }
  prepare(b: Builder): void {
    editable(b, this.id);
    checkModes({ [this.canonicalId]: this.mode });
    b.put(fieldKey(this.id, FieldCanonicalPrefix + this.canonicalId), stringValue(this.mode));
  }
}

/** "replace-canonical-modes": replaces the block's canonical modes with modes. */
export class ReplaceCanonicalModes implements Op {
  readonly id: string;
  readonly modes: Record<string, string>;
  constructor(init: { id?: string; modes?: Record<string, string> } = {}) {
    this.id = init.id ?? '';
    this.modes = init.modes ?? {};
  }
  name(): string {
    return 'replace-canonical-modes';
  }
  prepare(b: Builder): void {
    editable(b, this.id);
    checkModes(this.modes);
    const stale = entityKeysWhere(b, entity(KindBlock, this.id), (k) => {
      if (k.kind !== KindBlockField || k.id !== this.id || !k.sub.startsWith(FieldCanonicalPrefix)) return false;
      const keep = hasOwn(this.modes, k.sub.slice(FieldCanonicalPrefix.length));
      return !keep && b.has(k);
    });
    for (const k of stale) b.remove(k);
    for (const cid of sortedKeys(this.modes)) {
      b.put(fieldKey(this.id, FieldCanonicalPrefix + cid), stringValue(this.modes[cid]));
    }
  }
}

/**
 * "toggle-handles": sets horizontalHandles. Despite its name the reference
 * sets the given value rather than flipping.
 */
export class ToggleHandles implements Op {
  readonly id: string;
  readonly horizontalHandles: boolean;
  constructor(init: { id?: string; horizontalHandles?: boolean } = {}) {
    this.id = init.id ?? '';
    this.horizontalHandles = init.horizontalHandles ?? false;
  }
  name(): string {
    return 'toggle-handles';
  }
  prepare(b: Builder): void {
    setFlag(b, this.id, FieldHorizontalHandles, this.horizontalHandles);
  }
}

/** "update-wide" (legacy): sets isWide. */
export class UpdateWide implements Op {
  readonly id: string;
  readonly isWide: boolean;
  constructor(init: { id?: string; isWide?: boolean } = {}) {
    this.id = init.id ?? '';
    this.isWide = init.isWide ?? false;
  }
  name(): string {
    return 'update-wide';
  }
  prepare(b: Builder): void {
    setFlag(b, this.id, FieldIsWide, this.isWide);
  }
}

/** "update-trigger-mode" (legacy): sets triggerMode. */
export class UpdateTriggerMode implements Op {
  readonly id: string;
  readonly triggerMode: boolean;
  constructor(init: { id?: string; triggerMode?: boolean } = {}) {
    this.id = init.id ?? '';
    this.triggerMode = init.triggerMode ?? false;
  }
  name(): string {
    return 'update-trigger-mode';
  }
  prepare(b: Builder): void {
    setFlag(b, this.id, FieldTriggerMode, this.triggerMode);
  }
}

/**
 * "add" on target block (legacy): adds one block, and optionally one edge to
 * it, with the rules and errors of BatchAddBlocks.
 */
export class AddBlock implements Op {
  readonly block: BlockInput;
  readonly autoConnectEdge: EdgeInput | undefined;
  constructor(init: { block: BlockInput; autoConnectEdge?: EdgeInput }) {
    this.block = init.block;
    this.autoConnectEdge = init.autoConnectEdge;
  }
  name(): string {
    return 'add';
  }
  prepare(b: Builder): void {
    const batch = new BatchAddBlocks({
      blocks: [this.block],
      edges: this.autoConnectEdge !== undefined ? [this.autoConnectEdge] : [],
    });
    batch.prepare(b);
  }
}

/**
 * "remove" on target block (legacy): removes one block, cascading like
 * BatchRemoveBlocks; unlike the batch it fails with UnknownBlock or Locked
 * instead of skipping.
 */
export class RemoveBlock implements Op {
  readonly id: string;
  constructor(init: { id?: string } = {}) {
    this.id = init.id ?? '';
  }
  name(): string {
    return 'remove';
  }
  prepare(b: Builder): void {
    editable(b, this.id);
    removeBlocks(b, withDescendants(b, [this.id]));
  }
}

/** How far a copy lands from its source by default, so it does not hide under it. */
export const duplicateOffset = 50;

/**
 * "duplicate" on target block (legacy): copies a block's fields, sub-blocks
 * and (for a container) subflow config, not its children, to a new id in the
 * same parent. The name defaults to a unique "<name> (copy)"; position
 * defaults to the source's, offset by duplicateOffset. The copy is never
 * locked. It fails with UnknownBlock (source), Exists (id), NameConflict
 * (given name) or Locked (the parent is protected).
 */
export class DuplicateBlock implements Op {
  readonly sourceId: string;
  readonly id: string;
  readonly newName: string;
  readonly position: Position | undefined;
  constructor(init: { sourceId?: string; id?: string; newName?: string; position?: Position } = {}) {
    this.sourceId = init.sourceId ?? '';
    this.id = init.id ?? '';
    this.newName = init.newName ?? '';
    this.position = init.position;
  }
  name(): string {
    return 'duplicate';
  }
  prepare(b: Builder): void {
    checkNewCopy(b, this.sourceId, this.id);
    const p = effectiveParent(b, this.sourceId);
    if (p !== '' && protected_(b, p)) {
      throw errorf('Locked', `parent ${q(p)}`);
    }
    const names = blockNames(b);
    let name = this.newName;
    if (name === '') {
      name = copyName(asString(b.get(fieldKey(this.sourceId, FieldName))), names);
    } else {
      checkName(name, names, this.id);
    }
    let pos = asPosition(b.get(fieldKey(this.sourceId, FieldPosition)));
    pos = { x: pos.x + duplicateOffset, y: pos.y + duplicateOffset };
    if (this.position !== undefined) pos = this.position;
    copyBlock(b, this.sourceId, this.id, name, pos);
    setCopyParent(b, this.id, p);
  }
}

/**
 * Gives a copy the source's effective parent, which differs from the stored
 * one the copy inherited when the source is an orphan or a cycle's cut: the
 * copy lands where the source shows.
 */
export function setCopyParent(b: Builder, id: string, parent: string): void {
  if (asString(b.get(fieldKey(id, FieldParentID))) === parent) return; // nothing to correct, no write
  if (parent === '') {
    b.remove(fieldKey(id, FieldParentID));
    return;
  }
  b.put(fieldKey(id, FieldParentID), stringValue(parent));
}

/** Checks the source and the new id of a duplicate. */
export function checkNewCopy(b: Builder, src: string, id: string): void {
  checkID('source block', src);
  checkID('block', id);
  if (!blockExists(b, src)) {
    throw errorf('UnknownBlock', `source block ${q(src)}`);
  }
  if (blockExists(b, id)) {
    throw errorf('Exists', `block ${q(id)}`);
  }
}

/**
 * Writes block dst as a copy of src's fields, sub-blocks and subflow config,
 * with the given name and position, unlocked.
 */
export function copyBlock(b: Builder, src: string, dst: string, name: string, pos: Position): void {
  const keys = entityKeysWhere(b, entity(KindBlock, src), (k) => {
    switch (k.kind) {
      case KindBlockField:
      case KindSubBlock:
      case KindSubBlockType:
      case KindSubflow:
        return k.id === src && b.has(k);
    }
    return false;
  });
  b.put(blockKey(dst), null);
  for (const k of keys) {
    const copy: Key = { kind: k.kind, id: dst, sub: k.sub };
    copyValue(b, k, copy);
  }
  b.put(fieldKey(dst, FieldName), stringValue(name));
  b.put(fieldKey(dst, FieldPosition), positionValue(pos));
  b.put(fieldKey(dst, FieldLocked), boolValue(false));
}
