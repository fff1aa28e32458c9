// The canonical encoding of text deltas and states (docs/PROTOCOL.md,
// "Text deltas"): the port of Go's crdt/text encode.go, byte for byte.

import { Writer } from '../../msgpackx/append';
import type { ReplicaID } from '../dot';
import { compareDead, isNoDot, lastDot, normalizeDead, Plan, sameDotOrNone, type Dead, type Delta, type Run } from './delta';
import { compareReplicas } from './ids';

/** The first byte of an encoded text delta or state. */
export const FormatVersion = 1;

// Run flags: the low 6 bits of a run's first varint.
export const flagContent = 1;
export const flagNewReplica = 2;
export const leftShift = 2;
export const rightShift = 4;
export const flagBits = 6;

// Left origin forms, the first that applies is written.
export const leftStart = 0;
export const leftPrev = 1;
export const leftOwn = 2;
export const leftDot = 3;

// Right origin forms, the first that applies is written.
export const rightEnd = 0;
export const rightNext = 1;
export const rightInherit = 2;
export const rightFar = 3;

/** The form of run i's left origin and, for leftOwn, how many runs back the run ending at it is. */
export function leftForm(runs: readonly Run[], p: Plan, i: number): [number, number] {
  const r = runs[i];
  if (isNoDot(r.left)) return [leftStart, 0];
  if (i > 0 && sameDotOrNone(r.left, lastDot(runs[i - 1]))) return [leftPrev, 0];
  if (r.left.replica === r.id.replica && r.left.counter + 1 === r.id.counter) {
    const j = p.find(r.left);
    if (j >= 0 && j < i && sameDotOrNone(lastDot(runs[j]), r.left)) return [leftOwn, i - j];
  }
  return [leftDot, 0];
}

/** The form of run i's right origin and, for rightFar, its v. */
export function rightForm(runs: readonly Run[], p: Plan, i: number): [number, number] {
  const r = runs[i];
  if (isNoDot(r.right)) return [rightEnd, 0];
  if (i + 1 < runs.length && sameDotOrNone(r.right, runs[i + 1].id)) return [rightNext, 0];
  if (!isNoDot(r.left)) {
    const j = p.find(r.left);
    if (j >= 0 && j !== i && sameDotOrNone(runs[j].right, r.right)) return [rightInherit, 0];
  }
  const j = p.find(r.right);
  if (j > i + 1 && sameDotOrNone(runs[j].id, r.right)) return [rightFar, j - i - 1];
  return [rightFar, 0];
}

/** A growable buffer of LEB128 varints. */
export class VarintWriter {
  buf = new Uint8Array(64);
  n = 0;

  push(v: number): void {
    if (this.n + 10 > this.buf.length) {
      const g = new Uint8Array(this.buf.length * 2);
      g.set(this.buf);
      this.buf = g;
    }
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
}

/** zigzag maps a signed integer to an unsigned one so that small magnitudes stay small. */
export function zigzag(v: number): number {
  return v >= 0 ? 2 * v : -2 * v - 1;
}

/**
 * The canonical encoding of d, which must be in the form deltaSince,
 * insert and delete return: runs valid, none continuing the one before it,
 * and deleted holding every dot of the runs without content.
 * (Go: text.Encode.)
 */
export function encodeDelta(d: Delta): Uint8Array {
  const index = new Map<ReplicaID, number>();
  const replicas: ReplicaID[] = [];
  const add = (r: ReplicaID) => {
    if (r !== '' && !index.has(r)) {
      index.set(r, 0);
      replicas.push(r);
    }
  };
  for (const r of d.runs) {
    add(r.id.replica);
    add(r.left.replica);
    add(r.right.replica);
  }
  for (const x of d.deleted) add(x.replica);
  replicas.sort(compareReplicas);
  replicas.forEach((r, i) => index.set(r, i));
  const plan = new Plan(d.runs);

  const rb = new VarintWriter();
  let prevRep = -1;
  let prevLast = 0;
  const texts: string[] = [];
  for (let i = 0; i < d.runs.length; i++) {
    const r = d.runs[i];
    const rep = index.get(r.id.replica)!;
    const [lf, back] = leftForm(d.runs, plan, i);
    const [rf, ahead] = rightForm(d.runs, plan, i);
    let flags = (lf << leftShift) | (rf << rightShift);
    if (r.text !== '') {
      flags |= flagContent;
      texts.push(r.text);
    }
    if (rep !== prevRep && lf !== leftOwn) flags |= flagNewReplica;
    rb.push((r.len - 1) * 64 + flags);
    if (lf === leftOwn) {
      rb.push(back - 1);
    } else if (rep !== prevRep) {
      rb.push(rep);
      rb.push(zigzag(r.id.counter - 1));
    } else {
      rb.push(zigzag(r.id.counter - prevLast - 1));
    }
    if (lf === leftDot) {
      rb.push(index.get(r.left.replica)!);
      rb.push(r.left.counter);
    }
    if (rf === rightFar) {
      rb.push(ahead);
      if (ahead === 0) {
        rb.push(index.get(r.right.replica)!);
        rb.push(r.right.counter);
      }
    }
    prevRep = rep;
    prevLast = r.id.counter + r.len - 1;
  }
  const runBytes = rb.bytes();
  const w = new Writer(32 + runBytes.length + 2 * d.runs.length);
  w.byte(FormatVersion);
  w.arrayHeader(4);
  w.arrayHeader(replicas.length);
  for (const r of replicas) w.string(r);
  w.bin(runBytes);
  w.string(texts.join(''));
  const explicit = subtractDead(normalizeDead(d.deleted), skeleton(d.runs));
  let groups = 0;
  for (let i = 0; i < explicit.length; i++) if (i === 0 || explicit[i].replica !== explicit[i - 1].replica) groups++;
  w.arrayHeader(groups);
  for (let i = 0; i < explicit.length; ) {
    let j = i + 1;
    while (j < explicit.length && explicit[j].replica === explicit[i].replica) j++;
    w.arrayHeader(2);
    w.uint(index.get(explicit[i].replica)!);
    w.arrayHeader(2 * (j - i));
    for (let k = i; k < j; k++) {
      const x = explicit[k];
      w.uint(k === i ? x.lo : x.lo - explicit[k - 1].hi - 2);
      w.uint(x.hi - x.lo);
    }
    i = j;
  }
  return w.bytes();
}

/** The dots of the runs without content, normalized. */
export function skeleton(runs: readonly Run[]): Dead[] {
  const s: Dead[] = [];
  for (const r of runs) if (r.text === '') s.push({ replica: r.id.replica, lo: r.id.counter, hi: r.id.counter + r.len - 1 });
  return normalizeDead(s);
}

/** a \ b for normalized range lists. */
export function subtractDead(a: readonly Dead[], b: readonly Dead[]): Dead[] {
  const out: Dead[] = [];
  let j = 0;
  for (const x of a) {
    let lo = x.lo;
    while (j < b.length && (compareReplicas(b[j].replica, x.replica) < 0 || (b[j].replica === x.replica && b[j].hi < lo))) j++;
    let open = true;
    for (let k = j; open && k < b.length && b[k].replica === x.replica && b[k].lo <= x.hi; k++) {
      if (b[k].lo > lo) out.push({ replica: x.replica, lo, hi: b[k].lo - 1 });
      if (b[k].hi >= x.hi) open = false;
      else lo = b[k].hi + 1;
    }
    if (open) out.push({ replica: x.replica, lo, hi: x.hi });
  }
  return out;
}

/** Merges two normalized, disjoint range lists. */
export function unionDead(a: readonly Dead[], b: readonly Dead[]): Dead[] {
  if (a.length === 0) return [...b];
  const out: Dead[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let x: Dead;
    if (j === b.length || (i < a.length && compareDead(a[i], b[j]) < 0)) x = a[i++];
    else x = b[j++];
    const p = out[out.length - 1];
    if (p !== undefined && p.replica === x.replica && p.hi + 1 >= x.lo) {
      p.hi = Math.max(p.hi, x.hi);
      continue;
    }
    out.push({ replica: x.replica, lo: x.lo, hi: x.hi });
  }
  return out;
}

/** Reports whether two normalized range lists share a dot. */
export function overlapsDead(a: readonly Dead[], b: readonly Dead[]): boolean {
  let j = 0;
  for (const x of a) {
    while (j < b.length && (compareReplicas(b[j].replica, x.replica) < 0 || (b[j].replica === x.replica && b[j].hi < x.lo))) j++;
    if (j < b.length && b[j].replica === x.replica && b[j].lo <= x.hi) return true;
  }
  return false;
}
