// Port of crdt/workflow/texts_encode.go: the texts element, the 4th
// top-level element of a document or delta that holds text records:
// [[replica: str, counter: uint, text: bin], ...], sorted by (replica,
// counter), each text the canonical crdt/text encoding of the record.

import type { Context } from '../crdt/context';
import { compareDots, MaxCounter, type Dot } from '../crdt/dot';
import type { DotMap } from '../crdt/dotmap';
import { decodeDelta, TextDeltaLimits } from '../crdt/text/decode';
import { covers, lastDot } from '../crdt/text/delta';
import { TextError } from '../crdt/text/errors';
import type { Writer } from '../msgpackx/append';
import type { Limits } from '../msgpackx/check';
import { decodeUtf8, type Reader } from '../msgpackx/reader';
import { DecodeError } from './errors';
import type { Cell, Key } from './key';
import { TextRec, textRemoved, Texts } from './texts';

/** The records the encoding writes (those holding anything), sorted, with their encodings. */
export function encodedTexts(texts: Texts): { id: Dot; bytes: Uint8Array }[] {
  const out: { id: Dot; bytes: Uint8Array }[] = [];
  for (const id of texts.ids()) {
    const r = texts.get(id)!;
    if (!r.isEmpty()) out.push({ id, bytes: r.encode() });
  }
  return out;
}

/** Appends the texts element. */
export function appendTexts(w: Writer, recs: { id: Dot; bytes: Uint8Array }[]): void {
  w.arrayHeader(recs.length);
  for (const { id, bytes } of recs) {
    w.arrayHeader(3);
    w.string(id.replica);
    w.uint(id.counter);
    w.bin(bytes);
  }
}

function badText(detail: string, cause?: unknown): DecodeError {
  return new DecodeError('Malformed', `malformed text record: ${detail}`, { cause });
}

function notCanonical(detail: string): DecodeError {
  return new DecodeError('Malformed', detail, { reason: 'NotCanonical' });
}

/**
 * Reads the texts element of a document whose context and store are
 * decoded. values is how many values the caps still allow: a record and
 * each of its runs count as one.
 */
export function decodeTexts(r: Reader, ctx: Context, store: DotMap<Key, Cell>, lim: Limits, values: number): Texts {
  const n = r.arrayHeader();
  if (n === 0) throw notCanonical('empty texts element (omitted when empty)');
  if (n > values) throw new DecodeError('Malformed', `delta has too many values: more than ${values}`, { reason: 'TooManyValues' });
  const tlim = { ...TextDeltaLimits, maxBytes: lim.maxBytes ?? TextDeltaLimits.maxBytes };
  const texts = new Texts();
  let prev: Dot | undefined;
  for (let i = 0; i < n; i++) {
    if (r.arrayHeader() !== 3) throw badText(`record ${i} is not [replica, counter, text]`);
    const rb = r.stringBytes();
    const c = r.uint();
    const raw = r.raw();
    let replica: string;
    try {
      replica = rb.length > 0 ? decodeUtf8(rb) : '';
    } catch {
      replica = '';
    }
    if (replica === '') throw badText(`record ${i}: replica is empty or not UTF-8`);
    const m: Dot = { replica, counter: c };
    if (c === 0 || c > MaxCounter) throw badText(`record ${replica}:${c}: counter out of range`);
    if (prev !== undefined && compareDots(prev, m) >= 0) {
      throw notCanonical(`text record ${replica}:${c} does not follow ${prev.replica}:${prev.counter}`);
    }
    prev = m;
    const payload = binBytes(raw, `${replica}:${c}`);
    let td;
    try {
      td = decodeDelta(payload, tlim);
    } catch (err) {
      if (err instanceof TextError && err.code === 'NotCanonical') throw notCanonical(`text record ${replica}:${c}: ${err.message}`);
      throw badText(`record ${replica}:${c}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    values -= 1 + td.runs.length;
    if (values < 0) throw new DecodeError('Malformed', `delta has too many values`, { reason: 'TooManyValues' });
    if (textRemoved(ctx, store, m)) throw notCanonical(`text record ${replica}:${c} whose marker the context removes`);
    for (const x of td.runs) {
      if (!covers(ctx, x.id.replica, x.id.counter, lastDot(x).counter)) throw badText(`record ${replica}:${c}: run ${x.id.replica}:${x.id.counter} is not in the context`);
      if (store.has(x.id)) throw badText(`record ${replica}:${c}: run ${x.id.replica}:${x.id.counter} reuses a value's dot`);
    }
    const rec = new TextRec();
    rec.add(td);
    if (rec.isEmpty()) throw notCanonical(`empty text record ${replica}:${c}`);
    if (!sameBytes(rec.encode(), payload)) throw notCanonical(`text record ${replica}:${c} is not in the order its runs place in`);
    texts.set(m, rec);
  }
  return texts;
}

/** The payload of one msgpack bin value in its shortest header. */
function binBytes(raw: Uint8Array, what: string): Uint8Array {
  let hdr: number;
  switch (raw[0]) {
    case 0xc4:
      hdr = 2;
      break;
    case 0xc5:
      hdr = 3;
      break;
    case 0xc6:
      hdr = 5;
      break;
    default:
      throw badText(`record ${what}: text is not a bin`);
  }
  if (raw.length < hdr) throw badText(`record ${what}: text is a truncated bin`);
  const n = raw.length - hdr;
  if ((hdr === 3 && n <= 0xff) || (hdr === 5 && n <= 0xffff)) throw notCanonical(`bin of ${n} bytes with a ${hdr}-byte header`);
  return raw.subarray(hdr);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
