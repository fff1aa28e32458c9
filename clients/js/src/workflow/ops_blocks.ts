// Port of crdt/workflow/ops_blocks.go: the batch block operations and the
// document walks every operation shares. The order of writes decides the dot
// counters of a delta, so every loop here visits what Go visits in Go's order
// (sorted keys where Go sorts, input order where Go keeps it).

import type { Builder, Op } from './builder';
import {
  KindBlock,
  KindBlockField,
  KindEdge,
  KindSubBlock,
  KindSubBlockType,
  KindSubflow,
  type Key,
  type Kind,
} from './doc';
import type { Dotted } from '../crdt/dotmap';
import { utf8Length } from '../msgpackx/append';
import type { Cell } from './doc';
import { isError, WorkflowError } from './errors';
import {
  FieldAdvancedMode,
  FieldCanonicalPrefix,
  FieldDataPrefix,
  FieldEnabled,
  FieldErrorEnabled,
  FieldExtent,
  FieldHeight,
  FieldHorizontalHandles,
  FieldIsWide,
  FieldLocked,
  FieldName,
  FieldOutputs,
  FieldParentID,
  FieldPosition,
  FieldRetry,
  FieldTriggerMode,
  FieldType,
  anyValue,
  asBool,
  asEdge,
  asString,
  boolValue,
  floatValue,
  positionValue,
  stringValue,
  type Position,
} from './fields';
import type { EdgeInput } from './ops_edge';
import { newEdgeChecker } from './ops_edge';
import { writeNewSubflow } from './ops_subflow';
import {
  blockExists,
  blockKey,
  blockType,
  fieldKey,
  isContainer,
  isLocked,
  isReservedName,
  maxParentDepth,
  normalizeName,
  parentOf,
  protected_,
  subBlockKey,
  subBlockTypeKey,
} from './state';
import { compareStrings, errorf, hasOwn, isObject, own, q, show, sortedKeys } from './util';

/** Bounds block, edge and variable ids, so one id cannot bloat every key it appears in. */
export const maxIDLen = 256;

/**
 * A block record as the reference sends it (batch-add-blocks, add,
 * replace-state). Optional fields left undefined mean "use the default" (see
 * BatchAddBlocks); for the JSON-shaped `outputs` and `retry`, null is the same
 * as undefined.
 */
export interface BlockInput {
  id: string;
  type: string;
  name: string;
  position?: Position;
  subBlocks?: Record<string, SubBlockInput>;
  outputs?: unknown;
  enabled?: boolean;
  horizontalHandles?: boolean;
  isWide?: boolean;
  advancedMode?: boolean;
  triggerMode?: boolean;
  errorEnabled?: boolean;
  locked?: boolean;
  height?: number;
  /**
   * The free-form data map. Its parentId, extent and canonicalModes entries
   * are stored as fields of their own; other keys as "data."+key.
   */
  data?: Record<string, unknown>;
  retry?: unknown;
}

/** One sub-block of a BlockInput. */
export interface SubBlockInput {
  id: string;
  type?: string;
  value?: unknown;
}

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

/** A subflow config per container id: Go's map[string]map[string]any. */
export type SubflowConfigs = Record<string, Record<string, unknown>>;

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
export function checkNewBlock(b: Builder, inp: BlockInput, batch: Map<string, BlockInput>, names: Map<string, string>): void {
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
    // Walk the batch's own parent links: a batch must not nest a block in itself.
    for (let p = parent, n = 0; p !== '' && n < maxParentDepth; p = dataString(batch.get(p)?.data, 'parentId'), n++) {
      if (p === id) {
        throw errorf('Invalid', `block ${q(id)} is its own ancestor`);
      }
      if (!batch.has(p)) break;
    }
    return;
  }
  checkParent(b, id, parent);
}

/** Checks that a present block may become a child of parent. */
export function checkParent(b: Builder, id: string, parent: string): void {
  if (!blockExists(b, parent)) {
    throw errorf('UnknownBlock', `parent ${q(parent)} of block ${q(id)}`);
  }
  if (!isContainer(blockType(b, parent))) {
    throw errorf('NotContainer', `parent ${q(parent)} of block ${q(id)}`);
  }
  for (let p = parent, n = 0; p !== '' && n < maxParentDepth; p = parentOf(b, p), n++) {
    if (p === id) {
      throw errorf('Invalid', `block ${q(id)} cannot move into itself or a descendant`);
    }
  }
  if (protected_(b, parent)) {
    throw errorf('Locked', `parent ${q(parent)}`);
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
    const set = withDescendants(b, ids, (id) => !protected_(b, id));
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
 * empty extent leaves the stored one as it is.
 */
export function setParent(b: Builder, id: string, parent: string, extent: string): void {
  if (parent === '') {
    b.remove(fieldKey(id, FieldParentID));
    b.remove(fieldKey(id, FieldExtent));
    return;
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

// ---- document walks shared by the operations ----

/** Refuses empty and oversized ids (oversized in UTF-8 bytes, as Go's len). */
export function checkID(what: string, id: string): void {
  if (id === '') {
    throw errorf('Invalid', `${what}: empty id`);
  }
  // UTF-16 length L means at most 3L UTF-8 bytes: short ids skip the count.
  if (id.length > maxIDLen / 3 && utf8Length(id) > maxIDLen) {
    throw errorf('Invalid', `${what}: id longer than ${maxIDLen} bytes`);
  }
}

/** Calls fn for every key and its values of the document and of this operation's writes. */
function rangeBoth(b: Builder, fn: (k: Key, es: readonly Dotted<Cell>[]) => void): void {
  b.doc.store().range((k, es) => {
    fn(k, es);
    return true;
  });
  b.delta.store().range((k, es) => {
    fn(k, es);
    return true;
  });
}

/**
 * Returns the sorted ids of the present elements of a membership kind
 * (KindBlock, KindEdge, KindVariable) as the operation sees them.
 */
export function liveIDs(b: Builder, kind: Kind): string[] {
  const seen = new Set<string>();
  rangeBoth(b, (k) => {
    if (k.kind === kind && k.sub === '' && !seen.has(k.id) && b.has(k)) seen.add(k.id);
  });
  return [...seen].sort(compareStrings);
}

/**
 * Returns, sorted, every key of the document or of this operation's writes
 * that match accepts. It walks the whole document: fine for removals and
 * copies, which are rare next to field edits.
 */
export function keysWhere(b: Builder, match: (k: Key, es: readonly Dotted<Cell>[]) => boolean): Key[] {
  const seen = new Map<string, Key>();
  rangeBoth(b, (k, es) => {
    const id = keyId(k);
    if (!seen.has(id) && match(k, es)) seen.set(id, { kind: k.kind, id: k.id, sub: k.sub });
  });
  return [...seen.values()].sort(compareKeys);
}

/** An unambiguous map key for a Key (local: the order of keys is compareKeys). */
function keyId(k: Key): string {
  return JSON.stringify([k.kind, k.id, k.sub]);
}

/** Orders keys as Go's compareKeys: kind, then id, then sub, strings by bytes. */
export function compareKeys(a: Key, c: Key): number {
  if (a.kind !== c.kind) return a.kind - c.kind;
  if (a.id !== c.id) return compareStrings(a.id, c.id);
  return compareStrings(a.sub, c.sub);
}

/**
 * Removes every key of the given blocks: membership, fields, sub-blocks,
 * subflow config, and every edge with an end among them. It is the one
 * removal path, so every way of removing a block removes the same things and
 * every replica drops them identically.
 */
export function removeBlocks(b: Builder, ids: string[]): void {
  const set = new Set(ids);
  const keys = keysWhere(b, (k, es) => {
    switch (k.kind) {
      case KindBlock:
      case KindBlockField:
      case KindSubBlock:
      case KindSubBlockType:
      case KindSubflow:
        return set.has(k.id);
      case KindEdge:
        // Every concurrent value counts: an edge is dropped if any version of
        // it touches a removed block.
        for (const e of es) {
          const ed = asEdge(e.value.value);
          if (set.has(ed.source) || set.has(ed.target)) return true;
        }
    }
    return false;
  });
  for (const k of keys) b.remove(k);
}

/** Maps each present block to its present children, sorted. */
export function childIndex(b: Builder): Map<string, string[]> {
  const kids = new Map<string, string[]>();
  for (const id of liveIDs(b, KindBlock)) {
    const p = parentOf(b, id);
    if (p !== '') {
      const l = kids.get(p);
      if (l === undefined) kids.set(p, [id]);
      else l.push(id);
    }
  }
  return kids;
}

/**
 * Returns ids (deduplicated, in order) followed by every descendant of them,
 * breadth first. keep, if given, filters both the ids' descendants and what
 * is walked below them. The walk is safe against parent cycles, which
 * concurrent moves can create.
 */
export function withDescendants(b: Builder, ids: string[], keep?: (id: string) => boolean): string[] {
  const kids = childIndex(b);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of ids) {
    if (!seen.has(id)) {
      seen.add(id);
      out.push(id);
    }
  }
  for (let i = 0; i < out.length; i++) {
    for (const c of kids.get(out[i]) ?? []) {
      if (!seen.has(c) && (keep === undefined || keep(c))) {
        seen.add(c);
        out.push(c);
      }
    }
  }
  return out;
}

/** Maps the normalized name of every present block to its id. */
export function blockNames(b: Builder): Map<string, string> {
  const names = new Map<string, string>();
  for (const id of liveIDs(b, KindBlock)) {
    const n = normalizeName(asString(b.get(fieldKey(id, FieldName))));
    if (n !== '') names.set(n, id);
  }
  return names;
}

/**
 * Applies the name rules to a name for block self and returns its normalized
 * form: not empty, not reserved, not another block's.
 */
export function checkName(name: string, names: Map<string, string>, self: string): string {
  const n = normalizeName(name);
  if (n === '') {
    throw errorf('NameConflict', `name ${q(name)} is empty once normalized`);
  }
  if (isReservedName(n)) {
    throw errorf('NameConflict', `name ${q(name)} is reserved`);
  }
  const other = names.get(n);
  if (other !== undefined && other !== self) {
    throw errorf('NameConflict', `name ${q(name)} is used by block ${q(other)}`);
  }
  return n;
}

/**
 * Returns a name for a copy of a block named base that passes the name
 * rules: "base (copy)", then "base (copy 2)", "base (copy 3)", ...
 */
export function copyName(base: string, names: Map<string, string>): string {
  if (normalizeName(base) === '' || isReservedName(normalizeName(base))) {
    base = 'Block';
  }
  for (let i = 1; ; i++) {
    const name = i > 1 ? `${base} (copy ${i})` : `${base} (copy)`;
    if (!names.has(normalizeName(name))) return name;
  }
}

/** Writes a new block: membership and every field given or defaulted. */
export function writeBlock(b: Builder, inp: BlockInput): void {
  const id = inp.id;
  b.put(blockKey(id), null);
  b.put(fieldKey(id, FieldType), stringValue(inp.type));
  if (inp.name) {
    b.put(fieldKey(id, FieldName), stringValue(inp.name));
  }
  if (inp.position !== undefined) {
    b.put(fieldKey(id, FieldPosition), positionValue(inp.position));
  }
  const flags: [string, boolean | undefined, boolean][] = [
    [FieldEnabled, inp.enabled, true],
    [FieldHorizontalHandles, inp.horizontalHandles, true],
    [FieldIsWide, inp.isWide, false],
    [FieldAdvancedMode, inp.advancedMode, false],
    [FieldTriggerMode, inp.triggerMode, false],
    [FieldErrorEnabled, inp.errorEnabled, false],
    [FieldLocked, inp.locked, false],
  ];
  for (const [field, given, def] of flags) {
    const v = given ?? def;
    b.putUnlessDefault(fieldKey(id, field), boolValue(v), v === def);
  }
  const height = inp.height ?? 0;
  b.putUnlessDefault(fieldKey(id, FieldHeight), floatValue(height), height === 0);
  for (const [field, v] of [
    [FieldOutputs, inp.outputs],
    [FieldRetry, inp.retry],
  ] as [string, unknown][]) {
    if ((v === null || v === undefined) && !b.has(fieldKey(id, field))) continue;
    putAny(b, fieldKey(id, field), v);
  }
  writeData(b, id, inp.data);
  writeSubBlocks(b, id, inp.subBlocks);
}

/** Writes a block's data map: parentId, extent and canonicalModes to their own fields, the rest key by key. */
export function writeData(b: Builder, id: string, data: Record<string, unknown> | undefined): void {
  for (const k of sortedKeys(data)) {
    const v = (data as Record<string, unknown>)[k];
    switch (k) {
      case 'parentId':
      case 'extent': {
        const field = k === 'parentId' ? FieldParentID : FieldExtent;
        if (v !== null && v !== undefined && typeof v !== 'string') {
          throw errorf('Invalid', `block ${q(id)}: data.${k} is not a string`);
        }
        if (typeof v === 'string' && v !== '') {
          b.put(fieldKey(id, field), stringValue(v));
        }
        break;
      }
      case 'canonicalModes': {
        let modes: Record<string, string> | undefined;
        try {
          modes = canonicalModes(v);
        } catch (err) {
          throw errorf('Invalid', `block ${q(id)}: ${(err as Error).message}`);
        }
        for (const cid of sortedKeys(modes)) {
          b.put(fieldKey(id, FieldCanonicalPrefix + cid), stringValue((modes as Record<string, string>)[cid]));
        }
        break;
      }
      default:
        if (v === null || v === undefined) continue;
        putAny(b, fieldKey(id, FieldDataPrefix + k), v);
    }
  }
}

/** Writes sub-block values and types, in sorted sub-block order. */
export function writeSubBlocks(b: Builder, id: string, subs: Record<string, SubBlockInput> | undefined): void {
  for (const sid of sortedKeys(subs)) {
    const sb = (subs as Record<string, SubBlockInput>)[sid];
    if (sid === '') {
      throw errorf('Invalid', `block ${q(id)}: sub-block with empty id`);
    }
    if (sb.type) {
      b.put(subBlockTypeKey(id, sid), stringValue(sb.type));
    }
    putAny(b, subBlockKey(id, sid), sb.value);
  }
}

/**
 * Writes a JSON-shaped value in canonical msgpack; null or undefined is
 * written as an absent value. A value that does not encode is Invalid.
 */
export function putAny(b: Builder, k: Key, v: unknown): void {
  let val;
  try {
    val = anyValue(v);
  } catch (err) {
    throw errorf('Invalid', `${kindName(k.kind)} ${q(k.id)} ${k.sub}: ${err instanceof Error ? err.message : show(err)}`);
  }
  b.put(k, val);
}

export function kindName(k: Kind): string {
  switch (k) {
    case KindBlock:
    case KindBlockField:
      return 'block';
    case KindSubBlock:
    case KindSubBlockType:
      return 'sub-block of';
    case KindEdge:
      return 'edge';
    case KindSubflow:
      return 'subflow';
  }
  return 'variable';
}

/** Reads a canonicalModes map: canonical id → basic|advanced. Non-string modes read as "" and fail. */
export function canonicalModes(v: unknown): Record<string, string> | undefined {
  if (v === null || v === undefined) return undefined;
  if (!isObject(v)) {
    throw errorf('Invalid', 'canonicalModes is not a map');
  }
  const out: Record<string, string> = {};
  for (const k of Object.keys(v)) {
    const x = v[k];
    out[k] = typeof x === 'string' ? x : '';
  }
  checkModes(out);
  return out;
}

export function checkModes(m: Record<string, string>): void {
  for (const k of Object.keys(m)) {
    const mode = m[k];
    if (k === '') {
      throw errorf('Invalid', 'canonical mode with empty id');
    }
    if (mode !== 'basic' && mode !== 'advanced') {
      throw errorf('Invalid', `canonical mode ${q(k)} is ${q(mode)}, want basic or advanced`);
    }
  }
}

/** Reads a string entry of a data map ("" when absent or not a string). */
export function dataString(data: Record<string, unknown> | undefined, k: string): string {
  const s = own(data, k);
  return typeof s === 'string' ? s : '';
}
