// Port of the builder half of crdt/workflow/ops_text.go: how an operation
// reads and writes a text field. A whole-string write to a text becomes the
// smallest splice of the text it holds, so that concurrent typing elsewhere
// in the field survives it; copies (duplicate) make new texts.

import type { Dot } from '../crdt/dot';
import { codePoints, type Delta } from '../crdt/text/delta';
import { cloneText } from '../crdt/text/embed';
import { TextError } from '../crdt/text/errors';
import { Text } from '../crdt/text/text';
import { diffText } from '../crdt/text/utf16';
import { decodeUtf8 } from '../msgpackx/reader';
import type { Builder } from './builder';
import { KindSubBlock, KindVariableField, type Key, type Value } from './doc';
import { asString, stringValue, VarFieldType, VarFieldValue } from './fields';
import { current, ownerKey, predates } from './incarnation';
import { subBlockTypeKey, variableFieldKey } from './state';
import { isTextMarker, isTextSubBlockType, isTextVariableType, markerValue, TextRec } from './texts';
import { errorf, q } from './util';

function where(k: Key): string {
  return `${k.kind === KindSubBlock ? 'sub-block' : 'variable'} ${q(k.id)} ${k.sub}`;
}

/** v as a string when v is a msgpack string, else undefined. (Go: Value.stringOK.) */
function stringOf(v: Value): string | undefined {
  if (v === null || v.length === 0) return undefined;
  const c = v[0];
  let off: number;
  let n: number;
  if (c >= 0xa0 && c <= 0xbf) {
    off = 1;
    n = c & 0x1f;
  } else if (c === 0xd9 && v.length >= 2) {
    off = 2;
    n = v[1];
  } else if (c === 0xda && v.length >= 3) {
    off = 3;
    n = (v[1] << 8) | v[2];
  } else if (c === 0xdb && v.length >= 5) {
    off = 5;
    n = ((v[1] << 24) | (v[2] << 16) | (v[3] << 8) | v[4]) >>> 0;
  } else return undefined;
  if (off + n !== v.length) return undefined;
  try {
    return decodeUtf8(v.subarray(off));
  } catch {
    return undefined;
  }
}

/** Reports whether k may hold a text: a sub-block value of a text type, a variable value of a string type, or a key that holds one. */
export function isTextKey(b: Builder, k: Key): boolean {
  if (k.kind === KindSubBlock) {
    if (isTextSubBlockType(asString(b.get(subBlockTypeKey(k.id, k.sub))))) return true;
  } else if (k.kind === KindVariableField && k.sub === VarFieldValue) {
    if (isTextVariableType(asString(b.get(variableFieldKey(k.id, VarFieldType))))) return true;
  } else return false;
  return isTextMarker(b.get(k));
}

/** The dot of the marker k holds as the operation sees it, if k is a text whose record is alive. */
export function textMarker(b: Builder, k: Key): Dot | undefined {
  const w = current(b, k);
  return w !== undefined && isTextMarker(w.value.value) ? w.dot : undefined;
}

/** k's winning value as the operation sees it, a text as its string. */
export function readValue(b: Builder, k: Key): Value {
  const m = textMarker(b, k);
  return m !== undefined ? stringValue(textOf(b, m).toString()) : b.get(k);
}

/** k's record, making k a text holding its current string first when it is a text key that is not one yet. */
export function liveText(b: Builder, k: Key): { m: Dot; t: Text } {
  const m = textMarker(b, k);
  if (m !== undefined) return { m, t: textOf(b, m) };
  if (!isTextKey(b, k)) throw errorf('Invalid', `${where(k)} is not a text field`);
  const cur = b.get(k);
  let s = '';
  if (cur !== null && cur.length > 0 && !(cur.length === 1 && cur[0] === 0xc0)) {
    const got = stringOf(cur);
    if (got === undefined) throw errorf('Invalid', `${where(k)} holds a value that is not a string`);
    s = got;
  }
  const nm = newText(b, k, s);
  return { m: nm, t: textOf(b, nm) };
}

/** Writes the marker under k, making k a new text, and s as its first items; returns the record's id. */
export function newText(b: Builder, k: Key, s: string): Dot {
  b.put(k, markerValue);
  const m: Dot = { replica: b.ts.replica, counter: b.next - 1 }; // the dot put spent
  if (s !== '') spliceText(b, k, m, new Text(), 0, 0, s);
  return m;
}

/** Makes k's value the string s as a text: the smallest splice of the text k holds, or a new text. */
export function writeText(b: Builder, k: Key, s: string): void {
  if (codePoints(s) < 0) throw errorf('Invalid', `${where(k)}: text is not valid UTF-8`);
  const m = textMarker(b, k);
  if (m === undefined) {
    newText(b, k, s);
    return;
  }
  const t = textOf(b, m);
  const { pos, del, ins } = diffText(t.toString(), s);
  if (del === 0 && ins === '') return;
  spliceText(b, k, m, t, pos, del, ins);
}

/**
 * Deletes del code points at pos of record m, whose text as the operation
 * sees it is t, and inserts ins there, spending a dot per inserted code
 * point (and one for a delete that inserts nothing, so that the edit has a
 * dot as every write does).
 */
export function spliceText(b: Builder, k: Key, m: Dot, t: Text, pos: number, del: number, ins: string): void {
  checkTextStamp(b, k);
  const d: Delta = { runs: [], deleted: [] };
  try {
    if (del > 0) d.deleted = t.planDelete(pos, del).deleted;
    if (ins !== '') {
      const n = codePoints(ins);
      const id: Dot = { replica: b.ts.replica, counter: b.next };
      d.runs = t.planInsert(id, pos, ins).runs;
      b.next += n;
      b.spent = true;
      b.delta.context().addRange(id.replica, { lo: id.counter, hi: id.counter + n - 1 });
    } else if (!b.spent) {
      b.delta.context().add(b.mint());
    }
  } catch (err) {
    if (err instanceof TextError) throw errorf('Invalid', `text edit: ${err.message}`);
    throw err;
  }
  const texts = b.delta.texts();
  let r = texts.get(m);
  if (r === undefined) {
    r = new TextRec();
    texts.set(m, r);
  }
  r.add(d);
  b.work.get(`${m.replica}:${m.counter}`)?.merge(d); // planned on it itself
}

/**
 * Record m's text as the operation sees it: the document's, with what the
 * operation already wrote to it. The document's own text is returned as is
 * until the operation edits it a second time, then a copy.
 */
export function textOf(b: Builder, m: Dot): Text {
  const key = `${m.replica}:${m.counter}`;
  const w = b.work.get(key);
  if (w !== undefined) return w;
  const base = b.doc.textRecord(m)?.t;
  const dr = b.delta.texts().get(m);
  if (dr === undefined) return base ?? new Text();
  const c = base !== undefined ? cloneText(base) : new Text();
  c.merge(dr.since()); // the operation's edits, planned on this text
  b.work.set(key, c);
  return c;
}

/** Writes v under k: a string under a text key as a text, anything else as a value (which ends a text k held). */
export function putValue(b: Builder, k: Key, v: Value): void {
  if (isTextMarker(v)) throw errorf('Invalid', `${where(k)}: the value is the text marker`);
  const s = stringOf(v);
  if (s !== undefined && isTextKey(b, k)) {
    writeText(b, k, s);
    return;
  }
  b.put(k, v);
}

/** Writes src's value under dst: a text as a new text holding its string. */
export function copyValue(b: Builder, src: Key, dst: Key): void {
  const m = textMarker(b, src);
  if (m !== undefined) {
    newText(b, dst, textOf(b, m).toString());
    return;
  }
  b.put(dst, b.get(src));
}

/**
 * Refuses a text edit of k stamped before the add of k's block or
 * variable, as checkStamps does for values: a text edit writes no value to
 * carry the stamp.
 */
function checkTextStamp(b: Builder, k: Key): void {
  const o = ownerKey(k);
  if (o === undefined) return;
  const w = b.rawWinner(o);
  if (w === undefined) return;
  const e = { dot: { replica: b.ts.replica }, value: { wall: b.ts.wall, logical: b.ts.logical } };
  if (predates(e, { wall: w.value.wall, logical: w.value.logical, replica: w.dot.replica })) {
    throw errorf('Invalid', `${where(k)}: text edited at ${b.ts.wall}.${b.ts.logical}, before its add: the replica's clock must move past every timestamp it merges`);
  }
}
