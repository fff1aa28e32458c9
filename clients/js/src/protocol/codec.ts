// The table-driven frame codec: it encodes, decodes and validates a frame
// body (or a map nested in one) as its RecordSchema in schema.ts says, the
// way sync/protocol's encode.go, decode.go and validate.go interpret the
// same tables, so that both sides write the same bytes, accept the same
// input and name the same key in an error.
//
// Keys are named in errors relative to the nearest enclosing key ("user.id"
// under a Welcome's "user"); the elements of arrays and maps, and a map that
// may be nil (a cursor), are named by their own keys ("sid" in a roster
// entry, "x" in a point).

import { compareStrings } from '../crdt/dot';
import { FrameDecodeError } from './errors';
import type { FieldSchema, RecordSchema, ValueSchema } from './kinds';
import { isWellFormed, toPlain, utf8Length, type MsgValue, type Writer } from './msgpack';
import { MaxIDBytes, MaxStructKeys } from './schema';

type Obj = Record<string, unknown>;

// ---- validation ----------------------------------------------------------

function invalid(name: string, why: string): FrameDecodeError {
  return new FrameDecodeError('InvalidValue', `"${name}" ${why}`);
}

/** idFault checks an id: not empty when required, at most MaxIDBytes of UTF-8. */
function idFault(s: string | undefined, required: boolean): string {
  if (s === undefined || s === '') return required ? 'is empty' : '';
  if (utf8Length(s) > MaxIDBytes) return `is longer than ${MaxIDBytes} bytes`;
  if (!isWellFormed(s)) return 'is not valid UTF-8';
  return '';
}

/** textFault checks free text: at most max bytes of UTF-8. */
function textFault(s: string | undefined, max: number): string {
  if (s === undefined) return '';
  if (utf8Length(s) > max) return `is longer than ${max} bytes`;
  if (!isWellFormed(s)) return 'is not valid UTF-8';
  return '';
}

/** orList joins values as "a, b or c". */
function orList(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}

function strFault(f: ValueSchema, s: string | undefined): string {
  switch (f.rule) {
    case 'id':
      return idFault(s, f.required);
    case 'text':
      return textFault(s, f.max!);
    case 'enum':
      return f.values!.includes(s as string) ? '' : `is not ${orList(f.values!)}`;
  }
  return '';
}

/**
 * validateRecord checks the object o against the bounds of record r, the
 * rules encodeFrame and decodeFrame share. prefix names r's keys in errors.
 * It throws a FrameDecodeError of kind InvalidValue.
 */
export function validateRecord(r: RecordSchema, o: Obj, prefix: string): void {
  for (const f of r.fields) checkField(f, o[f.prop], prefix);
}

function checkField(f: FieldSchema, v: unknown, prefix: string): void {
  const name = prefix + f.key;
  switch (f.kind) {
    case 'str': {
      const why = strFault(f, v as string | undefined);
      if (why) throw invalid(name, why);
      return;
    }
    case 'uint':
      if (f.rule === 'nonZero' && !v) throw invalid(name, 'is zero');
      return;
    case 'code':
      if (!v) throw invalid(name, 'is zero');
      // The Go type of a code holds 16 bits; a number here may not.
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff) throw invalid(name, 'is not a code from 1 to 65535');
      return;
    case 'bin':
      if (f.rule === 'nonEmpty' && (!v || (v as Uint8Array).length === 0)) throw invalid(name, 'is empty');
      return;
    case 'record': {
      const rec = f.record!;
      if (!f.required && (v == null || isZero(rec, v as Obj))) return; // absent
      checkRule(rec, v as Obj, name);
      validateRecord(rec, v as Obj, f.key + '.');
      return;
    }
    case 'recordOrNil':
      if (v != null) checkElem(f.record!, v as Obj, name);
      return;
    case 'list': {
      if (!f.required && v == null) return; // absent
      const list = v as unknown[];
      if (f.rule === 'nonEmpty' && list.length === 0) throw invalid(name, 'is empty');
      for (const e of list) {
        if (f.elem!.kind === 'record') {
          checkElem(f.elem!.record!, e as Obj, name);
        } else {
          const why = strFault(f.elem!, e as string);
          if (why) throw invalid(name, why);
        }
      }
      return;
    }
    case 'dict':
      for (const [k, e] of Object.entries(v as Obj)) {
        const why = idFault(k, true);
        if (why) throw invalid(name, why);
        checkElem(f.record!, e as Obj, name);
      }
      return;
    case 'payload':
      if (f.required && v == null) throw invalid(name, 'is nil');
      if (v != null && (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array)) throw invalid(name, 'is not a map');
      return;
  }
}

/** checkElem checks a record that may be nil or is an element of an array or map held under name. */
function checkElem(r: RecordSchema, o: Obj, name: string): void {
  checkRule(r, o, name);
  validateRecord(r, o, '');
}

/** checkRule applies the record's own rule, named after the key that holds it. */
function checkRule(r: RecordSchema, o: Obj, name: string): void {
  switch (r.rule) {
    case 'finite':
      if (!Number.isFinite(o.x) || !Number.isFinite(o.y)) throw invalid(name, 'is not finite');
      return;
    case 'selection': {
      const id = o.id as string | undefined;
      if (o.type === undefined || o.type === '' || o.type === 'none') {
        if (id !== undefined && id !== '') throw invalid(name, 'has an id but selects nothing');
      } else if (o.type === 'block' || o.type === 'edge') {
        const why = idFault(id, true);
        if (why) throw invalid(`${name}.id`, why);
      }
      return;
    }
  }
}

// ---- encoding ------------------------------------------------------------

/**
 * present reports whether a field holds a value other than its zero value.
 * An optional field is written only then: an absent key and a zero value
 * mean the same, and omitting it keeps encodings canonical.
 */
function present(f: ValueSchema, v: unknown): boolean {
  if (v === undefined || v === null) return false;
  switch (f.kind) {
    case 'str':
      return v !== '';
    case 'uint':
    case 'int':
    case 'float':
    case 'code':
      return v !== 0;
    case 'bool':
      return v === true;
    case 'bin':
    case 'list':
      return (v as ArrayLike<unknown>).length > 0;
    case 'record':
      return !isZero(f.record!, v as Obj);
    case 'dict':
      return Object.keys(v as Obj).length > 0;
  }
  return true; // recordOrNil, payload
}

function isZero(r: RecordSchema, o: Obj): boolean {
  return r.fields.every((f) => !present(f, o[f.prop]));
}

/** written reports whether a field's key is written: required keys, a record or nil (nil says "none"), and present values. */
function written(f: FieldSchema, v: unknown): boolean {
  return f.required || f.kind === 'recordOrNil' || present(f, v);
}

/** writeRecord writes the object o as the map record r describes, keys in schema order. It does not validate. */
export function writeRecord(w: Writer, r: RecordSchema, o: Obj): void {
  let n = 0;
  for (const f of r.fields) if (written(f, o[f.prop])) n++;
  w.mapHeader(n);
  for (const f of r.fields) {
    const v = o[f.prop];
    if (written(f, v)) writeValue(w.str(f.key), f, v);
  }
}

function writeValue(w: Writer, f: ValueSchema, v: unknown): void {
  switch (f.kind) {
    case 'str':
      w.str(v as string);
      return;
    case 'uint':
    case 'code':
      w.uint(v as number);
      return;
    case 'int':
      w.int(v as number);
      return;
    case 'float':
      w.float64(v as number);
      return;
    case 'bool':
      w.bool(v as boolean);
      return;
    case 'bin':
      w.bin(v as Uint8Array);
      return;
    case 'record':
      writeRecord(w, f.record!, (v ?? {}) as Obj);
      return;
    case 'recordOrNil':
      if (v == null) w.nil();
      else writeRecord(w, f.record!, v as Obj);
      return;
    case 'list': {
      const list = v as unknown[];
      w.arrayHeader(list.length);
      for (const e of list) writeValue(w, f.elem!, e);
      return;
    }
    case 'dict': {
      const m = v as Obj;
      // Keys in the order of their UTF-8 bytes, as Go sorts them, so that
      // equal frames encode to equal bytes.
      const keys = Object.keys(m).sort(compareStrings);
      w.mapHeader(keys.length);
      for (const k of keys) writeRecord(w.str(k), f.record!, m[k] as Obj);
      return;
    }
    case 'payload':
      w.canonical(v);
      return;
  }
}

// ---- decoding ------------------------------------------------------------

function wrong(name: string, want: string): FrameDecodeError {
  return new FrameDecodeError('WrongType', `key "${name}": want ${want}`);
}

/**
 * readRecord reads a parsed map into out as record r describes it. Known
 * keys are taken in wire order, so that a value of the wrong type is
 * reported before a missing key, as in Go; unknown keys are ignored, an
 * optional key holding nil reads as absent, and an optional string, bin or
 * number is set only when not empty or zero (so that decode(encode(x)) has
 * the shape of x). what names the map in a "want a map" error.
 */
export function readRecord(r: RecordSchema, v: MsgValue, prefix: string, what: string, out: Obj = {}): Obj {
  if (v.t !== 'map') throw new FrameDecodeError('WrongType', `${what}: want a map`);
  if (v.v.length > MaxStructKeys) {
    throw new FrameDecodeError('TooLarge', `${what}: map of ${v.v.length} keys (at most ${MaxStructKeys})`);
  }
  const seen = new Set<string>();
  for (const [k, e] of v.v) {
    const f = r.fields.find((f) => f.key === k);
    if (f === undefined) continue; // unknown keys: forward compatibility
    seen.add(k);
    if (!f.required && f.kind !== 'recordOrNil' && e.t === 'nil') continue;
    readField(f, e, out, prefix);
  }
  for (const f of r.fields) {
    if (f.required && !seen.has(f.key)) throw new FrameDecodeError('MissingKey', JSON.stringify(prefix + f.key));
  }
  for (const f of r.fields) {
    if (out[f.prop] !== undefined) continue;
    if (f.kind === 'recordOrNil') out[f.prop] = null;
    // A record of optional keys only is always there, empty for none.
    else if (f.kind === 'record' && f.record!.fields.every((g) => !g.required)) out[f.prop] = {};
  }
  return out;
}

function readField(f: FieldSchema, e: MsgValue, out: Obj, prefix: string): void {
  const v = readValue(f, e, prefix + f.key, f.key);
  if (f.required || f.kind === 'recordOrNil' || present(f, v)) out[f.prop] = v;
}

function readValue(f: ValueSchema, e: MsgValue, name: string, key: string): unknown {
  switch (f.kind) {
    case 'str':
      if (e.t !== 'str') throw wrong(name, 'a string');
      return e.v;
    case 'uint':
      if (e.t !== 'int' || e.v < 0) throw wrong(name, 'an unsigned integer');
      return Number(e.v);
    case 'code':
      if (e.t !== 'int' || e.v < 0 || e.v > 0xffff) throw wrong(name, 'a 16-bit code');
      return Number(e.v);
    case 'int':
      // A uint64 above 2^63-1 does not fit.
      if (e.t !== 'int' || (typeof e.v === 'bigint' && e.v > 0x7fffffffffffffffn)) throw wrong(name, 'an int64');
      return Number(e.v);
    case 'float':
      if (e.t !== 'float' && e.t !== 'int') throw wrong(name, 'a number');
      return Number(e.v);
    case 'bool':
      if (e.t !== 'bool') throw wrong(name, 'a bool');
      return e.v;
    case 'bin':
      if (e.t !== 'bin') throw wrong(name, 'bin');
      return e.v;
    case 'record':
      return readRecord(f.record!, e, key + '.', `key "${name}"`);
    case 'recordOrNil':
      return e.t === 'nil' ? null : readRecord(f.record!, e, '', `key "${name}"`);
    case 'list': {
      if (e.t !== 'arr') throw wrong(name, 'an array');
      const elem = f.elem!;
      return e.v.map((x) => (elem.kind === 'record' ? readRecord(elem.record!, x, '', `key "${name}"`) : readValue(elem, x, name, key)));
    }
    case 'dict': {
      if (e.t !== 'map') throw wrong(name, 'a map');
      const out: Obj = {};
      for (const [k, x] of e.v) {
        // A key is data: "__proto__" must not change the object's prototype.
        Object.defineProperty(out, k, { value: readRecord(f.record!, x, '', `key "${name}"`), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case 'payload':
      if (e.t !== 'map') throw wrong(name, 'a map');
      return toPlain(e);
  }
}
