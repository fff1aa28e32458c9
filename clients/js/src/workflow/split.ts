// Port of crdt/workflow/split.go: encoding a large document as bounded chunks.
// Like codec.ts it works on a document's state (context and store), which
// is what lets Doc.encodeChunks call it without an import cycle.

import { Context } from '../crdt/context';
import { compareDots, compareStrings, type Dot, type ReplicaID } from '../crdt/dot';
import { DotMap, type Dotted } from '../crdt/dotmap';
import { utf8Length } from '../msgpackx/append';
import { countState, DeltaCaps, DocLimits, encodeState, resolveCaps, valueNodeCount, withinCaps, type Caps, type State, type Store } from './codec';
import { keyString, type Cell, type Key } from './key';
import { Texts } from './texts';

interface Group {
  key: Key;
  entries: readonly Dotted<Cell>[];
  size: number;
}

/**
 * Encodes the document d = (ctx, store) as one or more chunks, each a valid
 * delta of at most about limit encoded bytes and within caps (default
 * DeltaCaps), whose join, in any order, is d. It is how a large edit,
 * catch-up or anti-entropy answer travels in frames a receiver admits. It
 * returns [] for an empty d. The chunks are byte-identical to Go's
 * EncodeChunksCapped.
 *
 * A d that encodes within limit and caps is one chunk, as is. Otherwise its
 * entries are taken in key order and cut into runs, each carrying its
 * entries and a context of exactly their dots; a run never splits one key's
 * concurrent values unless they alone pass a cap. Every other dot of d's
 * context (which includes the dots of removals) follows, replica by
 * replica, in the last run and then, as the caps and limit require, in
 * context-only chunks. No chunk's context holds the dot of another chunk's
 * entry, so the chunks commute with each other and with any other delta. A
 * single value larger than limit, or with more nodes than caps allow, makes
 * a chunk that breaks them.
 */
export function encodeStateChunks(ctx: Context, store: Store, limit: number, capsIn: Caps = DeltaCaps, texts?: Texts): Uint8Array[] {
  if (store.numDots() === 0 && ctx.isEmpty() && (texts === undefined || texts.size === 0)) return [];
  const caps = resolveCaps(capsIn, DocLimits);
  const whole = encodeState(ctx, store, texts);
  if (whole.length <= limit && withinCaps(countState(ctx, store, texts), caps)) return [whole];
  const groups: Group[] = [];
  store.range((key, es) => {
    // Sizes in UTF-8 bytes, as Go's len: the cut points must match Go's.
    let size = 16 + utf8Length(key.id);
    const sub = utf8Length(key.sub);
    for (const e of es) {
      // sub, replica index, counter, wall, logical, headers and this entry's
      // share of the context: generous on purpose.
      size += 40 + sub + (e.value.value?.length ?? 0);
    }
    groups.push({ key, entries: es, size });
    return true;
  });
  groups.sort(
    (a, b) =>
      a.key.kind - b.key.kind || compareStrings(a.key.id, b.key.id) || compareStrings(a.key.sub, b.key.sub),
  );
  let overhead = 32; // the replica table, written in full in the worst case
  for (const r of ctx.replicas()) overhead += utf8Length(r) + 8;
  const budget = Math.max(limit - overhead, Math.trunc(limit / 2));
  // A run's context is its dots, a range each at most.
  const maxEntries = Math.min(caps.maxValues, caps.maxRanges);

  const chunks: State[] = [];
  let cur = emptyState();
  let curSize = 0;
  let curNodes = 0;
  const curReplicas = new Set<ReplicaID>();
  // A chunk's dots, added to its context in order once it is complete: in
  // key order they are scattered, and adding each into the middle of the
  // ranges would cost a copy of the tail per dot. (Go: seal.)
  let dots: Dot[] = [];
  const seal = (): void => {
    dots.sort(compareDots);
    for (const d of dots) cur.ctx.add(d);
    dots = [];
  };
  const next = (): void => {
    seal();
    chunks.push(cur);
    cur = emptyState();
    curSize = 0;
    curNodes = 0;
    curReplicas.clear();
  };
  for (const g of groups) {
    const nodes: number[] = [];
    let gNodes = 0;
    const seen = new Set<ReplicaID>();
    for (const e of g.entries) {
      const n = valueNodeCount(e.value.value);
      nodes.push(n);
      gNodes += n;
      if (!curReplicas.has(e.dot.replica)) seen.add(e.dot.replica);
    }
    const n0 = cur.store.numDots();
    if (
      n0 > 0 &&
      (curSize + g.size > budget ||
        n0 + g.entries.length > maxEntries ||
        curNodes + gNodes > caps.maxValueNodes ||
        curReplicas.size + seen.size > caps.maxReplicas)
    ) {
      next();
    }
    g.entries.forEach((e, i) => {
      // Only a key whose values alone pass a cap gets here full.
      const n = cur.store.numDots();
      if (
        n > 0 &&
        (n + 1 > maxEntries ||
          curNodes + nodes[i] > caps.maxValueNodes ||
          (!curReplicas.has(e.dot.replica) && curReplicas.size + 1 > caps.maxReplicas))
      ) {
        next();
      }
      cur.store.put(g.key, e.dot, e.value);
      dots.push(e.dot);
      curNodes += nodes[i];
      curReplicas.add(e.dot.replica);
    });
    curSize += g.size;
  }
  seal();
  const held = new Context();
  for (const c of chunks) held.merge(c.ctx);
  held.merge(cur.ctx);
  // Text items travel with their records, in chunks of their own after the
  // others (so that a record's marker arrives first).
  const { chunks: textChunks, items } = texts !== undefined ? encodeTextChunks(texts, limit, caps) : { chunks: [], items: new Context() };
  held.merge(items);
  const rest = ctx.missing(held);

  // The rest of the context joins the last run, and context-only chunks
  // after it, as the caps and the limit allow. The replica table is in the
  // budget already; allow bounds the bytes of the ranges.
  let leftRanges = caps.maxRanges - cur.ctx.numRanges();
  let leftReplicas = caps.maxReplicas - cur.ctx.numReplicas();
  let allow = Math.max(budget - curSize, Math.trunc(limit / 4));
  let used = 0;
  for (const r of rest.replicas()) {
    const rs = rest.ranges(r);
    let from = 0;
    let prev = 0;
    let named = cur.ctx.ranges(r).length > 0;
    for (let i = 0; i < rs.length; i++) {
      const rg = rs[i];
      const cost = uintLen(rg.lo - prev) + uintLen(rg.hi - rg.lo);
      prev = rg.hi;
      if ((!named && leftReplicas < 1) || leftRanges < 1 || (used > 0 && used + cost > allow)) {
        addRanges(cur.ctx, r, rs, from, i);
        chunks.push(cur);
        cur = emptyState();
        from = i;
        named = false;
        leftRanges = caps.maxRanges;
        leftReplicas = caps.maxReplicas;
        allow = budget;
        used = 0;
      }
      if (!named) {
        named = true;
        leftReplicas--;
      }
      leftRanges--;
      used += cost;
    }
    addRanges(cur.ctx, r, rs, from, rs.length);
  }
  chunks.push(cur);
  return [...chunks.map((c) => encodeState(c.ctx, c.store)), ...textChunks];
}

function addRanges(ctx: Context, r: ReplicaID, rs: readonly Readonly<{ lo: number; hi: number }>[], from: number, to: number): void {
  for (let i = from; i < to; i++) ctx.addRange(r, { lo: rs[i].lo, hi: rs[i].hi });
}

/** The length of n's shortest msgpack unsigned form. */
function uintLen(n: number): number {
  if (n < 2 ** 7) return 1;
  if (n < 2 ** 8) return 2;
  if (n < 2 ** 16) return 3;
  if (n < 2 ** 32) return 5;
  return 9;
}

function emptyState(): State {
  return { ctx: new Context(), store: new DotMap<Key, Cell>(keyString) };
}

/**
 * The records as deltas for encodeChunks, several records a chunk while
 * they fit limit and caps, each with a context of its items' dots, and the
 * union of those contexts. A record that alone passes limit or the caps is
 * one chunk. (Go: Doc.textChunks.)
 */
export function encodeTextChunks(texts: Texts, limit: number, caps: Required<Caps>): { chunks: Uint8Array[]; items: Context } {
  const items = new Context();
  const out: Uint8Array[] = [];
  let cur = new Texts();
  let curCtx = new Context();
  let size = 0;
  let values = 0;
  const flush = (): void => {
    if (cur.size > 0) out.push(encodeState(curCtx, new DotMap<Key, Cell>(keyString), cur));
    cur = new Texts();
    curCtx = new Context();
    size = 0;
    values = 0;
  };
  for (const id of texts.ids()) {
    const r = texts.get(id)!;
    if (r.isEmpty()) continue;
    const dots = r.itemDots();
    items.merge(dots);
    const n = r.encode().length + 16 + utf8Length(id.replica);
    const v = r.values();
    if (cur.size > 0 && (size + n > limit || values + v > caps.maxValues || curCtx.numRanges() + dots.numRanges() > caps.maxRanges)) flush();
    cur.set(id, r);
    curCtx.merge(dots);
    size += n;
    values += v;
  }
  flush();
  return { chunks: out, items };
}
