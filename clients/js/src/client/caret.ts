// A text caret in presence: the app's shape (a field and two anchors) and
// the wire's (PROTOCOL.md §4.13 `txt`), checked both ways.

import { MaxCounter } from '../crdt/dot';
import type { Anchor } from '../crdt/text';
import { MaxIDBytes, type TextCaret, type TextPos } from '../protocol';
import { utf8Length } from '../protocol/msgpack';
import { FlowsyncError } from './errors';
import type { PresenceCaret, TextField } from './events';

function badId(id: unknown): boolean {
  return typeof id !== 'string' || id === '' || utf8Length(id) > MaxIDBytes;
}

function checkAnchor(what: string, a: unknown): Anchor {
  const d = (a as Anchor | undefined)?.after;
  const ok =
    d !== undefined &&
    d !== null &&
    typeof d.replica === 'string' &&
    Number.isSafeInteger(d.counter) &&
    d.counter >= 0 &&
    d.counter <= MaxCounter &&
    (d.replica === '') === (d.counter === 0) &&
    utf8Length(d.replica) <= MaxIDBytes;
  if (!ok) throw new FlowsyncError('invalid-argument', `flowsync: caret ${what} must be an anchor {after: {replica, counter}} (noDot for the start)`);
  return { after: { replica: d.replica, counter: d.counter } };
}

/** checkField returns a copy of a text field, or throws invalid-argument. */
export function checkField(f: unknown): TextField {
  const o = f as Partial<{ blockId: string; subBlockId: string; variableId: string }> | undefined;
  if (o && o.variableId !== undefined && o.blockId === undefined && o.subBlockId === undefined) {
    if (badId(o.variableId)) throw new FlowsyncError('invalid-argument', `flowsync: a variable id must be 1 to ${MaxIDBytes} bytes`);
    return { variableId: o.variableId };
  }
  if (o && o.variableId === undefined && !badId(o.blockId) && !badId(o.subBlockId)) return { blockId: o.blockId!, subBlockId: o.subBlockId! };
  throw new FlowsyncError('invalid-argument', `flowsync: a text field is {blockId, subBlockId} or {variableId}, ids of 1 to ${MaxIDBytes} bytes`);
}

/** checkCaret returns a copy of an app's caret, or throws invalid-argument. */
export function checkCaret(c: PresenceCaret): PresenceCaret {
  if (!c || typeof c !== 'object') throw new FlowsyncError('invalid-argument', 'flowsync: a caret is {field, anchor, head}');
  return { field: checkField(c.field), anchor: checkAnchor('anchor', c.anchor), head: checkAnchor('head', c.head) };
}

function toPosition(a: Anchor): TextPos {
  return a.after.counter === 0 ? {} : { replica: a.after.replica, counter: a.after.counter };
}

function fromPosition(p: TextPos): Anchor {
  return { after: { replica: p.replica ?? '', counter: p.counter ?? 0 } };
}

/** toWireCaret is the `txt` of a checked caret: a caret (anchor = head) has no head. */
export function toWireCaret(c: PresenceCaret): TextCaret {
  const head = c.head.after.replica === c.anchor.after.replica && c.head.after.counter === c.anchor.after.counter ? null : toPosition(c.head);
  if ('variableId' in c.field) return { id: c.field.variableId, anchor: toPosition(c.anchor), head };
  return { id: c.field.blockId, sub: c.field.subBlockId, anchor: toPosition(c.anchor), head };
}

/**
 * fromWireCaret is the app's shape of a decoded `txt`, undefined for none
 * or for a position no replica can hold (a replica without a counter or
 * the reverse, a counter past 2^53-1: the decoder does not check them).
 */
export function fromWireCaret(t: TextCaret | undefined): PresenceCaret | undefined {
  if (!t || !t.id) return undefined;
  const anchor = fromPosition(t.anchor);
  const head = t.head ? fromPosition(t.head) : anchor;
  for (const a of [anchor, head]) {
    if ((a.after.replica === '') !== (a.after.counter === 0) || !Number.isSafeInteger(a.after.counter)) return undefined;
  }
  const field: TextField = t.sub ? { blockId: t.id, subBlockId: t.sub } : { variableId: t.id };
  return { field, anchor, head };
}

/** sameField reports whether two text fields are the same field. */
export function sameField(a: TextField, b: TextField): boolean {
  if ('variableId' in a) return 'variableId' in b && a.variableId === b.variableId;
  return !('variableId' in b) && a.blockId === b.blockId && a.subBlockId === b.subBlockId;
}
