// Loading a stored or server-sent state straight into the tree.

import { check, MsgpackError } from '../../msgpackx/check';
import { decodeUtf8, Reader } from '../../msgpackx/reader';
import { MaxCounter } from '../dot';
import { binPayload, malformed, maxDecodedItems, readDeleted, TextStateLimits, unzigzag, Varints } from './decode';
import { flagContent, flagNewReplica, FormatVersion, leftDot, leftOwn, leftPrev, leftShift, rightFar, rightInherit, rightNext, rightShift } from './encode';
import { asMalformed, TextError } from './errors';
import { compareReplicas, none } from './ids';
import { Text } from './text';
import { Span } from './tree';

// Origins resolved once every run is read.
const laterNone = 0;
const laterDot = 1; // an explicit dot: rep, at = counter
const laterRun = 2; // the first item of run at
const laterInherit = 3; // the right origin of the run holding the left one

/**
 * A new replica holding the state b (an encoded deltaSince()). It is the
 * loader for states a trusted peer wrote (what the server sends on join,
 * what this client stored): it reads the runs straight into spans, in the
 * order the state lists them (the order every replica that merged the
 * state computes), instead of integrating run after run, and does not
 * re-derive the canonical form. It checks what the tree relies on: the
 * bounds decodeDelta has, the run and text columns agreeing, no dot twice,
 * every origin present, the left one before its run and the right one
 * after it. It cannot tell a reordered state from a true one: a state from
 * an untrusted peer goes through decodeDelta and merge. Errors are
 * TextErrors with malformed set. (Go: text.Load.)
 */
export function loadState(b: Uint8Array): Text {
  if (b.length === 0) throw malformed('empty input');
  if (b[0] !== FormatVersion) throw new TextError('FormatVersion', `unknown format version: ${b[0]} (this build reads ${FormatVersion})`, true);
  const body = b.subarray(1);
  try {
    check(body, TextStateLimits);
    return load(new Reader(body, true));
  } catch (err) {
    if (err instanceof MsgpackError) throw asMalformed(err);
    if (err instanceof TextError) throw err.malformed ? err : asMalformed(err);
    throw err;
  }
}

function load(r: Reader): Text {
  if (r.arrayHeader() !== 4) throw malformed('top level does not have 4 elements');
  const t = new Text();
  const ids = t.ids;
  const nrep = r.arrayHeader();
  for (let i = 0; i < nrep; i++) {
    const s = decodeUtf8(r.stringBytes());
    if (s === '' || (i > 0 && compareReplicas(s, ids.replicas[i - 1]) <= 0)) throw malformed(`replica table not sorted, unique, non-empty at ${i}`);
    ids.replicaIndex(s); // table index = replica index
  }
  const replicaAt = (i: number) => {
    if (i >= nrep) throw malformed(`replica index ${i} out of range (${nrep} replicas)`);
    return ids.replicas[i];
  };
  const rb = binPayload(r.raw());
  const text = decodeUtf8(r.stringBytes());
  const explicit = readDeleted(r, replicaAt);
  if (!r.done()) throw malformed('trailing bytes');

  const maxItems = maxDecodedItems(TextStateLimits);
  const spans: Span[] = [];
  const counters: number[] = [];
  const reps: number[] = [];
  // Per run: how its origins resolve (kind, replica, counter or run).
  const later: number[] = [];
  const v = new Varints(rb);
  let lv = 0;
  let textOff = 0;
  for (let i = 0; !v.done(); i++) {
    if (v.err !== undefined) break;
    const h = v.next();
    const flags = h % 64;
    const len = Math.floor(h / 64);
    if (len >= maxItems - lv) throw malformed(`delta holds too many items: more than ${maxItems}`, 'TooManyItems');
    const n = len + 1;
    const lf = (flags >> leftShift) & 3;
    const rf = (flags >> rightShift) & 3;
    let rep: number;
    let counter: number;
    let left = none;
    if (lf === leftOwn) {
      const back = v.next();
      if (back >= i) throw malformed(`run ${i} continues a run before the first`);
      const j = i - 1 - back;
      rep = reps[j];
      counter = counters[j] + spans[j].n;
      left = spans[j].lv + spans[j].n - 1;
    } else if ((flags & flagNewReplica) !== 0) {
      rep = v.next();
      if (rep >= nrep) throw malformed(`replica index ${rep} out of range`);
      counter = 1 + unzigzag(v.next());
    } else if (i === 0) {
      throw malformed('first run without a replica');
    } else {
      rep = reps[i - 1];
      counter = counters[i - 1] + spans[i - 1].n + unzigzag(v.next());
    }
    if (!(counter >= 1 && counter <= MaxCounter && n - 1 <= MaxCounter - counter)) throw malformed(`run ${i}: counter out of range`, 'Counter');
    let lk = laterNone;
    let lrep = 0;
    let lat = 0;
    if (lf === leftPrev) {
      if (i === 0) throw malformed('run 0 refers to a previous run');
      left = lv - 1;
    } else if (lf === leftDot) {
      lk = laterDot;
      lrep = v.next();
      lat = v.next();
    }
    let rk = laterNone;
    let rrep = 0;
    let rat = 0;
    if (rf === rightNext) {
      rk = laterRun;
      rat = i + 1;
    } else if (rf === rightInherit) {
      rk = laterInherit;
    } else if (rf === rightFar) {
      const a = v.next();
      if (a > 0) {
        rk = laterRun;
        rat = i + 1 + Math.min(a, maxItems);
      } else {
        rk = laterDot;
        rrep = v.next();
        rat = v.next();
      }
    }
    if (v.err !== undefined) break;
    let content = '';
    if ((flags & flagContent) !== 0) {
      let end = textOff;
      for (let k = 0; k < n; k++) {
        if (end >= text.length) throw malformed(`text column ends inside run ${i}`);
        const c = text.charCodeAt(end);
        end += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
      }
      content = text.slice(textOff, end);
      textOff = end;
    }
    ids.addUnsorted(rep, counter, n);
    spans.push(new Span(lv, n, left, none, content === '', content));
    counters.push(counter);
    reps.push(rep);
    later.push(lk, lrep, lat, rk, rrep, rat);
    lv += n;
  }
  if (v.err !== undefined) throw malformed(`run column: ${v.err}`);
  if (textOff !== text.length) throw malformed('text column has bytes past the last run');
  if (!ids.sortCounters()) throw malformed('dots repeat', 'Overlap');
  const resolve = (kind: number, rep: number, at: number, i: number): number => {
    if (kind === laterDot) {
      if (rep >= nrep) throw malformed(`replica index ${rep} out of range`);
      const x = ids.lookupRep(rep, at);
      if (x === none) throw new TextError('MissingOrigin', `malformed delta: origin ${ids.replicas[rep]}:${at} of run ${i} is missing`, true);
      return x;
    }
    if (at >= spans.length) throw malformed(`run ${i} refers to a run past the last`);
    return spans[at].lv;
  };
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    if (later[6 * i] !== laterNone) s.left = resolve(later[6 * i], later[6 * i + 1], later[6 * i + 2], i);
    if (s.left !== none && s.left >= s.lv) throw new TextError('MissingOrigin', `malformed delta: the left origin of run ${i} is not before it`, true);
  }
  // Right origins: a run inherits from the run holding its left origin,
  // which must not itself inherit from a later run (no loops).
  const rightOf = (i: number): number => {
    const k = 6 * i + 3;
    const kind = later[k];
    if (kind === laterNone) return spans[i].right;
    if (kind !== laterInherit) {
      spans[i].right = resolve(kind, later[k + 1], later[k + 2], i);
    } else {
      const s = spans[i];
      if (s.left === none) throw malformed(`run ${i} inherits a right origin without a left one`);
      let lo = 0;
      let hi = spans.length;
      while (lo < hi) {
        const m = (lo + hi) >>> 1;
        if (spans[m].lv + spans[m].n > s.left) hi = m;
        else lo = m + 1;
      }
      if (lo === i || (lo > i && later[6 * lo + 3] === laterInherit)) throw malformed(`run ${i} inherits a right origin it cannot`);
      s.right = rightOf(lo);
    }
    later[k] = laterNone;
    return spans[i].right;
  };
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    rightOf(i);
    if (s.right !== none && s.right < s.lv + s.n) throw new TextError('MissingOrigin', `malformed delta: the right origin of run ${i} is not after it`, true);
  }
  t.tree.build(spans);
  t.merge({ runs: [], deleted: explicit });
  return t;
}
