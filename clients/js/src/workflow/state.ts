// Port of crdt/workflow/state.go: key constructors, block-type rules, the
// lock field and the name rules shared by the operations and the view.

import {
  KindBlock,
  KindBlockField,
  KindEdge,
  KindSubBlock,
  KindSubBlockType,
  KindSubflow,
  KindVariable,
  KindVariableField,
  type Cell,
  type Key,
  type Value,
} from './key';
import type { Dotted } from '../crdt/dotmap';
import { FieldLocked, FieldType, asBool, asString } from './fields';

/**
 * What operations and the view read the document through: a Doc, or a
 * Builder that overlays an operation's own writes on its document.
 */
export interface Reader {
  get(k: Key): Value;
  has(k: Key): boolean;
  winner(k: Key): Dotted<Cell> | undefined;
}

export function blockKey(id: string): Key {
  return { kind: KindBlock, id, sub: '' };
}
export function fieldKey(id: string, field: string): Key {
  return { kind: KindBlockField, id, sub: field };
}
export function subBlockKey(id: string, sub: string): Key {
  return { kind: KindSubBlock, id, sub };
}
export function subBlockTypeKey(id: string, sub: string): Key {
  return { kind: KindSubBlockType, id, sub };
}
export function edgeKey(id: string): Key {
  return { kind: KindEdge, id, sub: '' };
}
export function subflowKey(id: string, configKey: string): Key {
  return { kind: KindSubflow, id, sub: configKey };
}
export function variableKey(id: string): Key {
  return { kind: KindVariable, id, sub: '' };
}
export function variableFieldKey(id: string, field: string): Key {
  return { kind: KindVariableField, id, sub: field };
}

// Block types with rules of their own.
export const TypeLoop = 'loop';
export const TypeParallel = 'parallel';
export const TypeNote = 'note';
export const TypeStarter = 'starter';

/** Reports whether blocks of type t hold child blocks. */
export function isContainer(t: string): boolean {
  return t === TypeLoop || t === TypeParallel;
}

export function blockExists(r: Reader, id: string): boolean {
  return r.has(blockKey(id));
}
export function blockType(r: Reader, id: string): string {
  return asString(r.get(fieldKey(id, FieldType)));
}
export function isLocked(r: Reader, id: string): boolean {
  return asBool(r.get(fieldKey(id, FieldLocked)), false);
}

/** Characters NormalizeName drops, after lower-casing (Go's list, including U+00A0). */
const droppedRunes = new Set(['.', ' ', '\t', '\n', '\r', '\f', '\v', '\u00a0']);

/**
 * The form block names are compared in: lower-cased, with whitespace and dots
 * removed. Go lower-cases with strings.ToLower (per rune, Unicode simple
 * case mapping); String.prototype.toLowerCase agrees for every rune whose
 * lower case is one rune, which is every case Go maps.
 */
export function normalizeName(name: string): string {
  let clean = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80 || c === 0x2e || c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x41 && c <= 0x5a)) {
      clean = false;
      break;
    }
  }
  if (clean) return name; // the common case allocates nothing
  let out = '';
  for (const ch of name) {
    const lower = lowerRune(ch);
    if (droppedRunes.has(lower)) continue;
    out += lower;
  }
  return out;
}

/**
 * Lower-cases one code point as Go's unicode.ToLower does (the simple case
 * mapping). JavaScript's toLowerCase applies the full mapping, which differs
 * only where it yields more than one code point.
 */
function lowerRune(ch: string): string {
  const l = ch.toLowerCase();
  if ([...l].length === 1) return l;
  // U+0130 (İ) is the only rune whose JS lower case is two code points;
  // Go's unicode.ToLower maps it to 'i'.
  if (ch === '\u0130') return 'i';
  return ch;
}

/** May not be used as block names (normalized). */
export const reservedNames: ReadonlySet<string> = new Set(['loop', 'parallel', 'variable']);

/** Reports whether a normalized name is reserved. */
export function isReservedName(normalized: string): boolean {
  return reservedNames.has(normalized);
}

/** Maps the legacy side-anchored handle ids to their modern form; others are kept. */
export function canonicalHandle(h: string): string {
  switch (h) {
    case 'source-top':
    case 'source-right':
    case 'source-bottom':
    case 'source-left':
      return 'source';
    case 'target-top':
    case 'target-right':
    case 'target-bottom':
    case 'target-left':
      return 'target';
  }
  return h;
}
