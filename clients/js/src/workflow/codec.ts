// Port of crdt/workflow/encode.go, the byte layout: the canonical encoding
// of a document's state (its causal context and dot store), PROTOCOL.md
// §7.2–7.4. It works on the state rather than on Doc so that Doc.encode can
// call it without an import cycle; encode.ts turns decoded states into Docs.

import { Context } from '../crdt/context';
import { compareStrings, MaxCounter, type Dot, type ReplicaID } from '../crdt/dot';
import { DotMap } from '../crdt/dotmap';
import { Writer } from '../msgpackx/append';
import { MaxWall } from '../crdt/hlc';
import { checkCanonicalNodes } from '../msgpackx/canonical';
import { check, checkNodes, MsgpackError, withDefaults, type Limits } from '../msgpackx/check';
import { decodeUtf8, Reader } from '../msgpackx/reader';
import { DecodeError, type DecodeReason } from './errors';
import { isKind, keyString, KindBlock, KindEdge, KindVariable, type Cell, type Key } from './key';
import type { Texts } from './texts';
import { appendTexts, decodeTexts, encodedTexts } from './texts_codec';

/**
 * The first byte of every encoded document or delta.
 *
 * History:
 *   - 1: initial format (docs/PROTOCOL.md §7).
 */
export const FormatVersion = 1;

/** Bounds a stored or transferred document: 64 MiB, nesting 40. */
export const DocLimits: Readonly<Required<Limits>> = Object.freeze({ maxBytes: 64 << 20, maxDepth: 40 });

/** Bounds a delta sent by a client: 1 MiB, nesting 40. */
export const DeltaLimits: Readonly<Required<Limits>> = Object.freeze({ maxBytes: 1 << 20, maxDepth: 40 });

/** The largest HLC logical counter an entry may carry (uint32). */
const maxLogical = 0xffffffff;

interface Entry {
  key: Key;
  dot: Dot;
  cell: Cell;
}

/** A document's store: its cells by key and dot. */
export type Store = DotMap<Key, Cell>;

/** A decoded document or delta, before it becomes a Doc (encode.ts, decode). */
export interface State {
  ctx: Context;
  store: Store;
  /** The text records (texts.ts); absent when there are none. */
  texts?: Texts;
}

/**
 * The canonical encoding of the state (ctx, store): equal states encode to equal bytes, on every
 * replica and in every language. Layout (after the version byte, one msgpack
 * array of three elements):
 *
 *   [ replicas: [str ...]                            sorted ids; dots refer to them by index
 *     context:  [[ridx, [lo, n, gap, n, ...]] ...]   counter ranges: first lo, then
 *                                                    alternately length-1 and gap-1
 *     groups:   [[kind, id, [[sub, ridx, counter, wall, logical, value] ...]] ...] ]
 *
 * Groups are sorted by (kind, id) and entries by (sub, replica, counter),
 * strings bytewise (UTF-8 order); value is the cell's canonical msgpack,
 * embedded as is. Doc.encode calls this; every stored dot must be in ctx.
 */
export function encodeState(ctx: Context, store: Store, texts?: Texts): Uint8Array {
  const entries: Entry[] = [];
  store.range((key, es) => {
    for (const e of es) entries.push({ key, dot: e.dot, cell: e.value });
    return true;
  });
  // Every stored dot is in the context (merge and decode keep it so), so
  // the context's replicas are the whole table.
  const replicas = ctx.replicas();
  const replicaIndex = new Map<ReplicaID, number>();
  replicas.forEach((r, i) => replicaIndex.set(r, i));
  entries.sort(compareEntries);

  const w = new Writer(64 + entries.length * 32);
  const written = texts !== undefined ? encodedTexts(texts) : [];
  w.byte(FormatVersion);
  w.arrayHeader(written.length > 0 ? 4 : 3);
  w.arrayHeader(replicas.length);
  for (const r of replicas) w.string(r);
  w.arrayHeader(replicas.length);
  for (const r of replicas) {
    const rs = ctx.ranges(r);
    w.arrayHeader(2);
    w.uint(replicaIndex.get(r)!);
    w.arrayHeader(2 * rs.length);
    let prev = 0;
    rs.forEach((rg, i) => {
      w.uint(i === 0 ? rg.lo : rg.lo - prev - 2);
      w.uint(rg.hi - rg.lo);
      prev = rg.hi;
    });
  }
  let groups = 0;
  for (let i = 0; i < entries.length; i++) {
    if (i === 0 || !sameGroup(entries[i], entries[i - 1])) groups++;
  }
  w.arrayHeader(groups);
  for (let i = 0; i < entries.length; ) {
    let j = i + 1;
    while (j < entries.length && sameGroup(entries[j], entries[i])) j++;
    w.arrayHeader(3);
    w.uint(entries[i].key.kind);
    w.string(entries[i].key.id);
    w.arrayHeader(j - i);
    for (let k = i; k < j; k++) {
      const e = entries[k];
      const ridx = replicaIndex.get(e.dot.replica);
      if (ridx === undefined) {
        // Unreachable for documents built by merge, apply or decode.
        throw new Error(`workflow: dot ${e.dot.replica}:${e.dot.counter} is not in the document's context`);
      }
      w.arrayHeader(6);
      w.string(e.key.sub);
      w.uint(ridx);
      w.uint(e.dot.counter);
      w.int(e.cell.wall);
      w.uint(e.cell.logical);
      const v = e.cell.value;
      if (v === null || v.length === 0) w.nil();
      else w.raw(v);
    }
    i = j;
  }
  if (written.length > 0) appendTexts(w, written);
  return w.bytes();
}

function sameGroup(a: Entry, b: Entry): boolean {
  return a.key.kind === b.key.kind && a.key.id === b.key.id;
}

function compareEntries(a: Entry, b: Entry): number {
  if (a.key.kind !== b.key.kind) return a.key.kind - b.key.kind;
  let c = compareStrings(a.key.id, b.key.id);
  if (c !== 0) return c;
  c = compareStrings(a.key.sub, b.key.sub);
  if (c !== 0) return c;
  c = compareStrings(a.dot.replica, b.dot.replica);
  if (c !== 0) return c;
  return a.dot.counter - b.dot.counter;
}

/**
 * How many context ranges decode accepts under lim: one per 4 bytes of
 * lim.maxBytes (262,144 for DeltaLimits). A range takes at least 2 bytes;
 * an honest context has one range per replica plus one per gap, and a
 * delta's gaps are values its sender holds that the receiver has seen.
 * (Go: MaxRanges; the reasoning is in its doc and PROTOCOL.md §7.2.)
 */
export function maxRanges(lim: Limits = DocLimits): number {
  return Math.floor(withDefaults(lim).maxBytes / 4);
}

/**
 * Parses an encoded document or delta into its state, checking it against lim first
 * (default DocLimits; pass DeltaLimits for what a peer sends): a hostile
 * input is an error, never a large allocation. Every dot must be in the
 * decoded context, which is what a valid state guarantees. The returned
 * document does not alias bytes.
 *
 * Only the canonical encoding is accepted (PROTOCOL.md §7.2 lists the
 * rules), so a document that decodes re-encodes to exactly bytes, and this
 * decoder accepts and refuses exactly what Go's does.
 *
 * Throws DecodeError: "FormatVersion" for an unknown version byte,
 * "Malformed" for everything else, with the msgpack-level MsgpackError (if
 * any) as cause and, where it applies, a reason: "NotCanonical",
 * "OutOfDomain" (a wall outside ±(2^53-1), NaN or ±Infinity in a value, a
 * string that is not valid UTF-8), "TooManyRanges", or, past caps (none by
 * default; DeltaCaps for a delta a client or peer sends), "TooManyValues",
 * "TooManyReplicas" or "TooManyValueNodes", thrown as soon as a count
 * header passes the cap, or "TooManyNodes" for an input of more nodes in
 * all than a delta within the caps holds (the form check's walk stops
 * there).
 */
/**
 * Caps on the work one delta can make its receiver do, counted rather than
 * measured in bytes: values (entries), replicas in the table, context
 * ranges, and msgpack nodes of all embedded values together. A zero or
 * absent field is no cap; the range cap of maxRanges(lim) always applies.
 * (Go: workflow.Caps; the reasoning is in its doc and PROTOCOL.md §7.2.)
 */
export interface Caps {
  maxValues?: number;
  maxReplicas?: number;
  maxRanges?: number;
  maxValueNodes?: number;
}

/**
 * The caps a server holds every delta a client or cluster peer sends to
 * (Go: DeltaCaps). encodeChunks cuts by them, so every chunk is admitted.
 */
export const DeltaCaps: Readonly<Required<Caps>> = Object.freeze({
  maxValues: 2048,
  maxReplicas: 4096,
  maxRanges: 32768,
  maxValueNodes: 65536,
});

/** caps with every absent or zero field unbounded and ranges at most maxRanges(lim). */
export function resolveCaps(caps: Caps, lim: Limits = DocLimits): Required<Caps> {
  const unbounded = (n: number | undefined): number => (n === undefined || n <= 0 ? Number.MAX_SAFE_INTEGER : n);
  return {
    maxValues: unbounded(caps.maxValues),
    maxReplicas: unbounded(caps.maxReplicas),
    maxValueNodes: unbounded(caps.maxValueNodes),
    maxRanges: Math.min(unbounded(caps.maxRanges), maxRanges(lim)),
  };
}

/**
 * How many msgpack nodes a delta within caps (resolved) holds at most: the
 * top level 4; per replica 4; per range 2; per value 11 (its group's 4 and
 * its entry's 7); and the values' own nodes. Unbounded when a cap is.
 * (Go: Caps.maxNodes.)
 */
function maxNodes(c: Required<Caps>): number {
  const most = 2 ** 40;
  if (c.maxReplicas > most || c.maxRanges > most || c.maxValues > most || c.maxValueNodes > most) return Number.MAX_SAFE_INTEGER;
  return 4 + 4 * c.maxReplicas + 2 * c.maxRanges + 11 * c.maxValues + c.maxValueNodes;
}

/** What a state holds of each thing Caps bound. (Go: Counts.) */
export interface Counts {
  values: number;
  replicas: number;
  ranges: number;
  valueNodes: number;
}

/** Counts what (ctx, store) holds of each thing Caps bound. */
export function countState(ctx: Context, store: Store, texts?: Texts): Counts {
  let valueNodes = 0;
  store.range((_k, es) => {
    for (const e of es) valueNodes += valueNodeCount(e.value.value);
    return true;
  });
  return { values: store.numDots() + (texts?.values() ?? 0), replicas: ctx.numReplicas(), ranges: ctx.numRanges(), valueNodes };
}

/** Whether c satisfies caps (absent fields unbounded). */
export function withinCaps(c: Counts, caps: Caps): boolean {
  const r = resolveCaps(caps, { maxBytes: Number.MAX_SAFE_INTEGER });
  return c.values <= r.maxValues && c.replicas <= r.maxReplicas && c.ranges <= r.maxRanges && c.valueNodes <= r.maxValueNodes;
}

/**
 * A size up to which no encoding can pass caps, so a sender need not count:
 * an entry takes at least 7 bytes, a replica 7, a range 2, a value node 1.
 * (Go: Caps.SafeBytes.)
 */
export function safeBytes(caps: Caps): number {
  const r = resolveCaps(caps, { maxBytes: Number.MAX_SAFE_INTEGER });
  const most = 2 ** 40;
  return Math.min(Math.min(r.maxValues, r.maxReplicas, most) * 7, Math.min(r.maxRanges, most) * 2, r.maxValueNodes);
}

/** The msgpack nodes of a stored value (0 for none). */
export function valueNodeCount(v: Uint8Array | null): number {
  if (v === null || v.length === 0 || v[0] === 0xc0) return 0;
  try {
    return checkCanonicalNodes(v, Number.MAX_SAFE_INTEGER);
  } catch {
    return 2 ** 40; // stored values passed the checks; count it as large (Go: the same)
  }
}

export function decodeState(bytes: Uint8Array, lim: Limits = DocLimits, caps: Caps = {}): State {
  if (bytes.length === 0) throw new DecodeError('Malformed', 'empty input');
  if (bytes[0] !== FormatVersion) {
    throw new DecodeError('FormatVersion', `${bytes[0]} (this build reads ${FormatVersion})`);
  }
  // One copy of the input backs every value of the decoded document. (Not
  // bytes.slice: on a Node Buffer that is a view, and the document would
  // alias the caller's buffer; new Uint8Array(view) copies into a plain array.)
  const body = new Uint8Array(bytes.subarray(1));
  const resolved = resolveCaps(caps, lim);
  try {
    checkNodes(body, lim, maxNodes(resolved));
    return decodeBody(new Reader(body, true), resolved, lim);
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    const reason =
      err instanceof MsgpackError && err.code === 'NotCanonical'
        ? 'NotCanonical'
        : err instanceof MsgpackError && err.code === 'NonFinite'
          ? 'OutOfDomain'
          : err instanceof MsgpackError && err.code === 'TooManyNodes'
            ? 'TooManyNodes'
            : undefined;
    throw new DecodeError('Malformed', detail, { cause: err, reason });
  }
}

function malformed(detail: string, reason?: DecodeReason): DecodeError {
  return new DecodeError('Malformed', detail, { reason });
}

/** Reads a string, refusing invalid UTF-8 as out of the domain. */
function readString(r: Reader): string {
  const b = r.stringBytes();
  try {
    return decodeUtf8(b);
  } catch (err) {
    throw new DecodeError('Malformed', `string is not valid UTF-8`, { cause: err, reason: 'OutOfDomain' });
  }
}

function isMembership(kind: number): boolean {
  return kind === KindBlock || kind === KindEdge || kind === KindVariable;
}

function decodeBody(r: Reader, caps: Required<Caps>, lim: Limits): State {
  const top = r.arrayHeader();
  if (top !== 3 && top !== 4) throw malformed(`top level has ${top} elements, want 3 (or 4 with texts)`);
  const nrep = r.arrayHeader();
  if (nrep > caps.maxReplicas) throw malformed(`delta names too many replicas: more than ${caps.maxReplicas}`, 'TooManyReplicas');
  const replicas: ReplicaID[] = new Array(nrep);
  for (let i = 0; i < nrep; i++) {
    replicas[i] = readString(r);
    if (replicas[i] === '' || (i > 0 && compareStrings(replicas[i], replicas[i - 1]) <= 0)) {
      throw malformed(`replica table not sorted, unique and non-empty at ${i}`);
    }
  }
  const replicaAt = (i: number): ReplicaID => {
    if (i >= replicas.length) throw malformed(`replica index ${i} out of range (${replicas.length} replicas)`);
    return replicas[i];
  };
  const ctx = new Context();
  // The context lists every replica of the table, in table order.
  const nctx = r.arrayHeader();
  if (nctx !== nrep) throw malformed(`context has ${nctx} replicas, the table ${nrep}`, 'NotCanonical');
  let ranges = 0;
  for (let i = 0; i < nctx; i++) {
    if (r.arrayHeader() !== 2) throw malformed('context entry is not [replica, ranges]');
    const ridx = r.uint();
    const replica = replicaAt(ridx);
    if (ridx !== i) throw malformed(`context entry ${i} is for replica ${ridx} (entries follow the table)`, 'NotCanonical');
    const n = r.arrayHeader();
    if (n === 0 || n % 2 !== 0) {
      throw malformed(`context ranges of ${JSON.stringify(replica)}: ${n} numbers, want a positive even count`);
    }
    ranges += n / 2;
    if (ranges > caps.maxRanges) throw malformed(`context has too many ranges: more than ${caps.maxRanges}`, 'TooManyRanges');
    let prev = 0;
    for (let j = 0; j < n / 2; j++) {
      const start = r.uint();
      const length = r.uint();
      // Numbers at or beyond 2^53 make hi exceed MaxCounter however they
      // round, so the bound below refuses them as Go's overflow checks do.
      const lo = j > 0 ? prev + 2 + start : start;
      const hi = lo + length;
      if (lo === 0 || hi < lo || hi > MaxCounter) {
        throw malformed(`context range [${lo}, ${hi}] of ${JSON.stringify(replica)} is invalid`);
      }
      ctx.addRange(replica, { lo, hi }); // ascending: appends
      prev = hi;
    }
  }
  const ngroups = r.arrayHeader();
  // Every group holds at least one entry.
  if (ngroups > caps.maxValues) throw malformed(`delta has too many values: more than ${caps.maxValues}`, 'TooManyValues');
  let values = 0;
  let nodesLeft = caps.maxValueNodes;
  const store: Store = new DotMap<Key, Cell>(keyString);
  let prevKind = 0;
  let prevID = '';
  for (let i = 0; i < ngroups; i++) {
    if (r.arrayHeader() !== 3) throw malformed('group is not [kind, id, entries]');
    const kind = r.uint();
    if (!isKind(kind)) throw malformed(`unknown kind ${kind}`);
    const id = readString(r);
    if (i > 0 && (kind < prevKind || (kind === prevKind && compareStrings(id, prevID) <= 0))) {
      throw malformed(`group (${kind}, ${JSON.stringify(id)}) does not follow (${prevKind}, ${JSON.stringify(prevID)})`, 'NotCanonical');
    }
    prevKind = kind;
    prevID = id;
    const n = r.arrayHeader();
    if (n === 0) throw malformed(`group (${kind}, ${JSON.stringify(id)}) has no entries`, 'NotCanonical');
    values += n;
    if (values > caps.maxValues) throw malformed(`delta has too many values: more than ${caps.maxValues}`, 'TooManyValues');
    const membership = isMembership(kind);
    let prevSub = '';
    let prevRidx = 0;
    let prevCounter = 0;
    for (let j = 0; j < n; j++) {
      if (r.arrayHeader() !== 6) throw malformed('entry is not [sub, replica, counter, wall, logical, value]');
      const sub = readString(r);
      const ridx = r.uint();
      const replica = replicaAt(ridx);
      const dot: Dot = { replica, counter: r.uint() };
      const wall = r.int();
      const logical = r.uint();
      const raw = r.raw();
      if (membership && sub !== '') {
        throw malformed(`membership entry of (${kind}, ${JSON.stringify(id)}) has sub ${JSON.stringify(sub)}`, 'NotCanonical');
      }
      if (j > 0) {
        const c = compareStrings(sub, prevSub) || ridx - prevRidx || dot.counter - prevCounter;
        if (c <= 0) throw malformed(`entries of (${kind}, ${JSON.stringify(id)}) out of order at ${j}`, 'NotCanonical');
      }
      prevSub = sub;
      prevRidx = ridx;
      prevCounter = dot.counter;
      if (logical > maxLogical) throw malformed(`logical time ${logical} out of range`);
      if (!Number.isSafeInteger(wall)) throw malformed(`wall time ${wall} beyond ±${MaxWall}`, 'OutOfDomain');
      if (!ctx.contains(dot)) throw malformed(`dot ${replica}:${dot.counter} is not in the context`);
      let value: Uint8Array | null = null;
      if (raw.length > 0 && raw[0] !== 0xc0) {
        check(raw, { maxBytes: raw.length, maxDepth: 64 });
        try {
          nodesLeft -= checkCanonicalNodes(raw, nodesLeft);
        } catch (err) {
          if (err instanceof MsgpackError && err.code === 'TooManyNodes') {
            throw malformed(`delta values hold too many nodes: more than ${caps.maxValueNodes}`, 'TooManyValueNodes');
          }
          throw err;
        }
        value = raw;
      }
      if (!store.put({ kind, id, sub }, dot, { wall, logical, value })) {
        throw malformed(`dot ${replica}:${dot.counter} appears twice`);
      }
    }
  }
  let texts: Texts | undefined;
  if (top === 4) texts = decodeTexts(r, ctx, store, lim, caps.maxValues - values);
  if (!r.done()) throw malformed('trailing bytes');
  return texts ? { ctx, store, texts } : { ctx, store };
}
