// The bounded, canonical decoder of text deltas and states: accepts and
// refuses exactly what Go's text.DecodeDelta does.

import { check, MsgpackError, type Limits } from '../../msgpackx/check';
import { decodeUtf8, Reader } from '../../msgpackx/reader';
import { MaxCounter, type Dot, type ReplicaID } from '../dot';
import { checkRun, continues, Plan, type Dead, type Delta, type Run } from './delta';
import {
  flagContent,
  flagNewReplica,
  FormatVersion,
  leftDot,
  leftForm,
  leftOwn,
  leftPrev,
  leftShift,
  overlapsDead,
  rightFar,
  rightForm,
  rightInherit,
  rightNext,
  rightShift,
  skeleton,
  unionDead,
} from './encode';
import { asMalformed, TextError } from './errors';
import { compareReplicas, maxItems as maxLocalItems } from './ids';


/** Decoding limits for what a client sends (Go: text.DeltaLimits). */
export const TextDeltaLimits: Readonly<Required<Limits>> = { maxBytes: 1048576, maxDepth: 8 }; // 1 MiB
/** Decoding limits for a stored or transferred whole text (Go: text.StateLimits). */
export const TextStateLimits: Readonly<Required<Limits>> = { maxBytes: 67108864, maxDepth: 8 }; // 64 MiB

/**
 * How many items (code points, deleted ones included) a delta decoded under
 * lim may hold: 4 per byte of the limit, since a deleted run of a billion
 * items costs a few bytes on the wire but memory for each item.
 */
export function maxDecodedItems(lim: Limits): number {
  const bytes = lim.maxBytes !== undefined && lim.maxBytes > 0 ? lim.maxBytes : 16 << 20;
  return Math.min(4 * bytes, maxLocalItems);
}

function notCanonical(detail: string): TextError {
  return new TextError('NotCanonical', `delta not in canonical form: ${detail}`, true);
}

export function malformed(detail: string, code: 'Malformed' | 'Counter' | 'TooManyItems' | 'InvalidUTF8' | 'Overlap' = 'Malformed'): TextError {
  return new TextError(code, `malformed delta: ${detail}`, true);
}

/**
 * Reads LEB128 varints, refusing a non-minimal or overlong form. Like Go's
 * reader the first error sticks (err) and reads return 0 after it, so the
 * decoder refuses an input for the same reason Go does. Values past 2^53
 * come back inexact (and are refused by every bound).
 */
export class Varints {
  off = 0;
  err: string | undefined;
  constructor(private readonly b: Uint8Array) {}

  next(): number {
    const b = this.b;
    if (this.err !== undefined) return 0;
    if (this.off < b.length && b[this.off] < 0x80) return b[this.off++];
    let x = 0;
    let mul = 1;
    for (let shift = 0; ; shift += 7) {
      if (this.off >= b.length) return this.fail('varint runs past the end');
      const c = b[this.off++];
      if (shift === 63 && c > 1) return this.fail('varint longer than needed or than 64 bits');
      x += (c & 0x7f) * mul;
      mul *= 128;
      if (c < 0x80) {
        if (c === 0 && shift > 0) return this.fail('varint longer than needed or than 64 bits');
        return x;
      }
    }
  }

  private fail(why: string): number {
    this.err = why;
    return 0;
  }

  done(): boolean {
    return this.off === this.b.length;
  }
}

export function unzigzag(u: number): number {
  // Exact below 2^53; beyond, any value is refused by the counter bounds.
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

interface Forms {
  lf: number;
  rf: number;
  back: number;
  ahead: number;
}

/**
 * Parses an encoded delta or state under lim. A hostile input is a
 * TextError with malformed set, never a large allocation; only the
 * canonical encoding is accepted, so a delta that decodes re-encodes to
 * exactly b. (Go: text.DecodeDelta.)
 */
export function decodeDelta(b: Uint8Array, lim: Limits = TextDeltaLimits): Delta {
  if (b.length === 0) throw malformed('empty input');
  if (b[0] !== FormatVersion) throw new TextError('FormatVersion', `unknown format version: ${b[0]} (this build reads ${FormatVersion})`, true);
  const body = b.subarray(1);
  try {
    check(body, lim);
    return decodeBody(new Reader(body, true), maxDecodedItems(lim));
  } catch (err) {
    if (err instanceof MsgpackError) throw asMalformed(err);
    if (err instanceof TextError) throw err.malformed ? err : asMalformed(err);
    throw err;
  }
}

function decodeBody(r: Reader, maxItems: number): Delta {
  if (r.arrayHeader() !== 4) throw malformed('top level does not have 4 elements');
  const nrep = r.arrayHeader();
  const replicas: ReplicaID[] = [];
  for (let i = 0; i < nrep; i++) {
    let s: string;
    try {
      s = decodeUtf8(r.stringBytes());
    } catch (err) {
      if (err instanceof MsgpackError && err.code === 'Type') throw malformed('replica id is not valid UTF-8', 'InvalidUTF8');
      throw err;
    }
    if (s === '' || (i > 0 && compareReplicas(s, replicas[i - 1]) <= 0)) throw notCanonical(`replica table not sorted, unique and non-empty at ${i}`);
    replicas.push(s);
  }
  const used = new Uint8Array(nrep);
  const replicaAt = (i: number): ReplicaID => {
    if (i >= nrep) throw malformed(`replica index ${i} out of range (${nrep} replicas)`);
    used[i] = 1;
    return replicas[i];
  };
  const rb = binPayload(r.raw());
  const textBytes = r.stringBytes();
  let text: string;
  try {
    text = decodeUtf8(textBytes);
  } catch {
    // Go finds the bad sequence inside a run, or past the last one.
    throw malformed('text column is not valid UTF-8', 'InvalidUTF8');
  }
  const runs: Run[] = [];
  const forms: Forms[] = [];
  const reps: number[] = [];
  const v = new Varints(rb);
  let prevRep = 0;
  let prevLast = 0;
  let items = 0;
  let textOff = 0;
  for (let i = 0; !v.done() && v.err === undefined; i++) {
    const h = v.next();
    const flags = h % 64;
    const n = Math.floor(h / 64);
    if (n >= maxItems - items) throw malformed(`delta holds too many items: more than ${maxItems}`, 'TooManyItems');
    items += n + 1;
    const len = n + 1;
    const f: Forms = { lf: (flags >> leftShift) & 3, rf: (flags >> rightShift) & 3, back: 0, ahead: 0 };
    let rep: number;
    let counter: number;
    let left: Dot = { replica: '', counter: 0 };
    if (f.lf === leftOwn) {
      if ((flags & flagNewReplica) !== 0) throw notCanonical(`run ${i} derives its replica but names one`);
      const back = v.next();
      if (v.err === undefined && back >= i) throw malformed(`run ${i} continues a run before the first`);
      if (v.err !== undefined) break;
      const j = i - 1 - back;
      f.back = i - j;
      rep = reps[j];
      const pj = runs[j];
      left = { replica: pj.id.replica, counter: pj.id.counter + pj.len - 1 };
      counter = left.counter + 1;
      if (counter > MaxCounter) throw malformed(`run ${i} continues past the last counter`, 'Counter');
    } else if ((flags & flagNewReplica) !== 0) {
      rep = v.next();
      if (i > 0 && rep === prevRep && v.err === undefined) throw notCanonical(`run ${i} names the previous run's replica`);
      const delta = unzigzag(v.next());
      if (delta < 0 || delta >= MaxCounter) throw malformed(`run ${i} starts at counter 1+${delta}`, 'Counter');
      counter = 1 + delta;
    } else if (i === 0) {
      throw notCanonical('first run without a replica');
    } else {
      rep = prevRep;
      const delta = unzigzag(v.next());
      const base = prevLast + 1;
      if ((delta < 0 && -delta >= base) || (delta >= 0 && delta > MaxCounter - base)) {
        throw malformed(`run ${i} starts at counter ${base}${delta}`, 'Counter');
      }
      counter = base + delta;
    }
    if (v.err !== undefined) break;
    const replica = replicaAt(rep);
    if (len - 1 > MaxCounter - counter) throw malformed(`run ${i} of ${len} items at counter ${counter}`, 'Counter');
    const run: Run = { id: { replica, counter }, len, text: '', left, right: { replica: '', counter: 0 } };
    if (f.lf === leftDot) run.left = readDot(v, replicaAt);
    if (f.rf === rightFar) {
      f.ahead = Math.min(v.next(), maxItems);
      if (f.ahead === 0) run.right = readDot(v, replicaAt);
    }
    if ((flags & flagContent) !== 0) {
      let end = textOff;
      for (let k = 0; k < len; k++) {
        if (end >= text.length) throw malformed(`text column ends inside run ${i}`);
        const c = text.charCodeAt(end);
        end += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
      }
      run.text = text.slice(textOff, end);
      textOff = end;
    }
    runs.push(run);
    forms.push(f);
    reps.push(rep);
    prevRep = rep;
    prevLast = counter + len - 1;
  }
  if (v.err !== undefined) throw malformed(`run column: ${v.err}`);
  if (textOff !== text.length) throw malformed('text column has bytes past the last run');
  const p = new Plan(runs);
  const ov = p.overlap();
  if (ov) throw malformed(`runs of one delta overlap: run ${ov[0]} and ${ov[1]}`, 'Overlap');
  for (let i = 0; i < runs.length; i++) {
    if (forms[i].lf === leftPrev) {
      if (i === 0) throw malformed('run 0 refers to a previous run');
      const q = runs[i - 1];
      runs[i].left = { replica: q.id.replica, counter: q.id.counter + q.len - 1 };
    }
    const [lf, back] = leftForm(runs, p, i);
    if (lf !== forms[i].lf || back !== forms[i].back) throw notCanonical(`run ${i}: left origin written in form ${forms[i].lf}/${forms[i].back}, not ${lf}/${back}`);
  }
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i];
    const f = forms[i];
    if (f.rf === rightNext) {
      if (i + 1 === runs.length) throw malformed('last run refers to a next run');
      run.right = runs[i + 1].id;
    } else if (f.rf === rightFar && f.ahead > 0) {
      if (f.ahead >= runs.length - i - 1) throw malformed(`run ${i} refers to a run past the last`);
      run.right = runs[i + 1 + f.ahead].id;
    } else if (f.rf === rightInherit) {
      const j = run.left.replica === '' ? -1 : p.find(run.left);
      if (j < 0 || j === i || (forms[j].rf === rightInherit && j > i)) throw malformed(`run ${i} inherits a right origin it cannot`);
      run.right = runs[j].right;
    }
  }
  for (let i = 0; i < runs.length; i++) {
    const [rf, ahead] = rightForm(runs, p, i);
    if (rf !== forms[i].rf || ahead !== forms[i].ahead) throw notCanonical(`run ${i}: right origin written in form ${forms[i].rf}/${forms[i].ahead}, not ${rf}/${ahead}`);
    if (i > 0 && continues(runs[i - 1], runs[i])) throw notCanonical(`run ${i} continues the run before it`);
    checkRun(runs[i]);
  }
  const explicit = readDeleted(r, replicaAt);
  if (!r.done()) throw malformed('trailing bytes');
  for (let i = 0; i < nrep; i++) if (!used[i]) throw notCanonical(`replica ${JSON.stringify(replicas[i])} is not used`);
  const skel = skeleton(runs);
  if (overlapsDead(explicit, skel)) throw notCanonical('deleted ranges repeat runs without content');
  return { runs, deleted: unionDead(explicit, skel) };
}

function readDot(v: Varints, replicaAt: (i: number) => ReplicaID): Dot {
  const ridx = v.next();
  const c = v.next();
  if (v.err !== undefined) throw malformed(`run column: ${v.err}`);
  const replica = replicaAt(ridx);
  if (c === 0 || c > MaxCounter) throw malformed(`origin counter ${c}`, 'Counter');
  return { replica, counter: c };
}

/** The deleted column: ranges sorted by replica index. */
export function readDeleted(r: Reader, replicaAt: (i: number) => ReplicaID): Dead[] {
  const ngroups = r.arrayHeader();
  const explicit: Dead[] = [];
  let prevRidx = -1;
  for (let g = 0; g < ngroups; g++) {
    if (r.arrayHeader() !== 2) throw malformed('deleted entry is not [replica, ranges]');
    const ridx = r.uint();
    const replica = replicaAt(ridx);
    if (ridx <= prevRidx) throw notCanonical(`deleted entries not sorted by replica at ${g}`);
    prevRidx = ridx;
    const n = r.arrayHeader();
    if (n === 0 || n % 2 !== 0) throw malformed(`deleted ranges of ${JSON.stringify(replica)}: ${n} numbers, want a positive even count`);
    let prev = 0;
    for (let j = 0; j < n / 2; j++) {
      const start = r.uint();
      const length = r.uint();
      let lo = start;
      if (j > 0) {
        if (prev > MaxCounter || start > MaxCounter) throw malformed('deleted range overflows');
        lo = prev + 2 + start;
      }
      const hi = lo + length;
      if (lo === 0 || hi < lo || hi > MaxCounter) throw malformed(`deleted range [${lo}, ${hi}] of ${JSON.stringify(replica)} is invalid`);
      explicit.push({ replica, lo, hi });
      prev = hi;
    }
  }
  return explicit;
}

/** The payload of one msgpack bin value, refusing a longer header than its length needs. */
export function binPayload(raw: Uint8Array): Uint8Array {
  if (raw.length === 0) throw malformed('run column missing');
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
      throw malformed(`run column is not a bin (0x${raw[0].toString(16).padStart(2, '0')})`);
  }
  const n = raw.length - hdr;
  if ((hdr === 3 && n <= 0xff) || (hdr === 5 && n <= 0xffff)) throw notCanonical(`bin of ${n} bytes with a ${hdr}-byte header`);
  return raw.subarray(hdr);
}
