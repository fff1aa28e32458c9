// The document walks and writes that the operations of several ops_*.ts
// modules share (Go: the builder methods and helpers of ops_blocks.go). They
// live below every operation module so that those import each other in one
// direction only: an operation module may use another's operations, never
// the other way round. The order of writes decides the dot counters of a
// delta, so every loop here visits what Go visits in Go's order.

import type { Dotted } from '../crdt/dotmap';
import { utf8Length } from '../msgpackx/append';
import type { Builder } from './builder';
import {
  KindBlock,
  KindBlockField,
  KindEdge,
  KindSubBlock,
  KindSubBlockType,
  KindSubflow,
  type Cell,
  type Key,
  type Kind,
} from './key';
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
  asEdge,
  asString,
  boolValue,
  floatValue,
  positionValue,
  stringValue,
  type Position,
} from './fields';
import { blockKey, edgeKey, fieldKey, isReservedName, normalizeName, subBlockKey, subBlockTypeKey } from './state';
import { entity } from './doc_index';
import { ChildFinder, NameSet, compareKeys } from './doc_index_reads';
import { keyString } from './key';
import { shownNames } from './names';
import { compareStrings, errorf, isObject, own, q, show, sortedKeys } from './util';
import { newText, putValue } from './text_write';
import { isTextSubBlockType } from './texts';

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

/** A subflow config per container id: Go's map[string]map[string]any. */
export type SubflowConfigs = Record<string, Record<string, unknown>>;

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

export { compareKeys };

/**
 * Removes every key of the given blocks: membership, fields, sub-blocks,
 * subflow config, and every edge with an end among them. It is the one
 * removal path, so every way of removing a block removes the same things and
 * every replica drops them identically.
 */
export function removeBlocks(b: Builder, ids: string[]): void {
  const set = new Set(ids);
  const match = (k: Key): boolean => {
    switch (k.kind) {
      case KindBlock:
      case KindBlockField:
      case KindSubBlock:
      case KindSubBlockType:
      case KindSubflow:
        return set.has(k.id);
      case KindEdge: {
        // The edge is its winning value: a losing concurrent add of the same
        // id is not part of the document, so its ends do not count (it stays
        // stored, hidden, until the id is removed). The winner goes with its
        // ends even when an end's re-add hides it.
        const w = b.rawWinner(k);
        if (w !== undefined) {
          const ed = asEdge(w.value.value);
          return set.has(ed.source) || set.has(ed.target);
        }
      }
    }
    return false;
  };
  // Candidates: the keys of the blocks and the edges at them, through the
  // index, and this operation's own writes.
  const seen = new Map<string, Key>();
  const consider = (k: Key): void => {
    const ks = keyString(k);
    if (!seen.has(ks) && match(k)) seen.set(ks, k);
  };
  const x = b.doc.index();
  for (const id of ids) {
    for (const k of x.keys.get(entity(KindBlock, id)) ?? []) consider(k);
    for (const e of x.edgesAt.get(id) ?? []) consider(edgeKey(e));
  }
  b.delta.store().range((k) => {
    consider(k);
    return true;
  });
  for (const k of [...seen.values()].sort(compareKeys)) b.remove(k);
}

/**
 * Returns ids (deduplicated, in order) followed by every effective
 * descendant of them, breadth first: exactly what the view shows inside
 * them. keep, if given, filters both the ids' descendants and what is walked
 * below them.
 */
export function withDescendants(b: Builder, ids: string[], keep?: (id: string) => boolean): string[] {
  const kids = new ChildFinder(b);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of ids) {
    if (!seen.has(id)) {
      seen.add(id);
      out.push(id);
    }
  }
  for (let i = 0; i < out.length; i++) {
    for (const c of kids.children(out[i])) {
      if (!seen.has(c) && (keep === undefined || keep(c))) {
        seen.add(c);
        out.push(c);
      }
    }
  }
  return out;
}

/**
 * The normalized name every present block shows (in the view, after the
 * concurrent-names rule) mapped to its id. Every live block shows (tree.ts),
 * so no hidden block holds a name. While no two blocks share a name and the
 * operation has written nothing, every block shows its stored name and the
 * index answers each lookup; otherwise the map is computed over every block.
 */
export function blockNames(b: Builder): NameSet {
  if (b.delta.isEmpty() && b.doc.index().shared === 0) return new NameSet(b);
  const names = new Map<string, string>();
  for (const e of shownNames(b, liveIDs(b, KindBlock))) {
    const n = normalizeName(e.name);
    if (n !== '') names.set(n, e.id);
  }
  return new NameSet(b, names);
}

/**
 * Applies the name rules to a name for block self and returns its normalized
 * form: not empty, not reserved, not another block's.
 */
export function checkName(name: string, names: NameSet, self: string): string {
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
export function copyName(base: string, names: NameSet): string {
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
    if ((sb.value === null || sb.value === undefined) && isTextSubBlockType(sb.type ?? '')) {
      // An empty text rather than no value: two users who start typing
      // into the new field type into one text.
      newText(b, subBlockKey(id, sid), '');
      continue;
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
  putValue(b, k, val);
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
