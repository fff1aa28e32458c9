// Port of crdt/workflow/split.go: encoding a large document as bounded chunks.
// Like codec.ts it works on a document's state (context and store), which
// is what lets Doc.encodeChunks call it without an import cycle.

import { Context } from '../crdt/context';
import { compareDots, compareStrings, type Dot } from '../crdt/dot';
import { DotMap, type Dotted } from '../crdt/dotmap';
import { utf8Length } from '../msgpackx/append';
import { encodeState, type State, type Store } from './codec';
import { keyString, type Cell, type Key } from './key';

interface Group {
  key: Key;
  entries: readonly Dotted<Cell>[];
  size: number;
}

/**
 * Encodes the document d = (ctx, store) as one or more chunks, each a valid delta of at most about limit
 * encoded bytes, whose join, in any order, is d. It is how a large catch-up
 * or anti-entropy answer travels in frames of bounded size. It returns [] for
 * an empty d. The chunks are byte-identical to Go's EncodeChunks.
 *
 * A d that encodes within limit is one chunk, as is. Otherwise its entries
 * are taken in key order and cut into runs (a run never splits one key's
 * concurrent values); every chunk but the last carries its entries and a
 * context of exactly their dots, and the last carries its entries and every
 * other dot of d's context (which includes the dots of removals). No chunk's
 * context holds the dot of another chunk's entry, so no chunk removes what
 * another adds: the chunks commute with each other and with any other delta.
 * A single key whose values exceed limit, or a very fragmented context, can
 * make a chunk larger than limit; callers bound frames separately
 * (DeltaLimits).
 */
export function encodeStateChunks(ctx: Context, store: Store, limit: number): Uint8Array[] {
  if (store.numDots() === 0 && ctx.isEmpty()) return [];
  const whole = encodeState(ctx, store);
  if (whole.length <= limit) return [whole];
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

  const chunks: State[] = [];
  let cur = emptyState();
  let curSize = 0;
  // A chunk's dots, added to its context in order once it is complete: in
  // key order they are scattered, and adding each into the middle of the
  // ranges would cost a copy of the tail per dot. (Go: seal.)
  let dots: Dot[] = [];
  const seal = (): void => {
    dots.sort(compareDots);
    for (const d of dots) cur.ctx.add(d);
    dots = [];
  };
  for (const g of groups) {
    if (curSize > 0 && curSize + g.size > budget) {
      seal();
      chunks.push(cur);
      cur = emptyState();
      curSize = 0;
    }
    for (const e of g.entries) {
      cur.store.put(g.key, e.dot, e.value);
      dots.push(e.dot);
    }
    curSize += g.size;
  }
  seal();
  const earlier = new Context();
  for (const c of chunks) earlier.merge(c.ctx);
  cur.ctx.merge(ctx.missing(earlier));
  chunks.push(cur);
  return chunks.map((c) => encodeState(c.ctx, c.store));
}

function emptyState(): State {
  return { ctx: new Context(), store: new DotMap<Key, Cell>(keyString) };
}
