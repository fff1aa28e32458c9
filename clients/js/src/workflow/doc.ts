// Port of crdt/workflow/doc.go: the workflow document, which is also a delta.
// The key vocabulary is in key.ts, the byte encoding in codec.ts and
// split.ts; they sit below this module so that Doc.encode needs no cycle.

import { Context } from '../crdt/context';
import type { Dot } from '../crdt/dot';
import { DotMap, type Dotted } from '../crdt/dotmap';
import { winner as winnerIndex } from '../crdt/register';
import { countState, DeltaCaps, encodeState, type Caps, type Counts } from './codec';
import { DocIndex } from './doc_index';
import { current } from './incarnation';
import { keyString, sameCellValue, type Cell, type Key, type Value } from './key';
import { stringValue } from './fields';
import { encodeStateChunks } from './split';
import { isTextMarker, mergeTexts, textsSince, Texts, type TextRec } from './texts';

export {
  KindBlock,
  KindBlockField,
  KindSubBlock,
  KindSubBlockType,
  KindEdge,
  KindSubflow,
  KindVariable,
  KindVariableField,
  maxKind,
  isKind,
  keyString,
  sameCellValue,
  type Kind,
  type Key,
  type Value,
  type Cell,
} from './key';

/**
 * A workflow document, and also a delta: a delta is a document that holds
 * only what changed. A new Doc is empty and ready to use. Operations
 * (prepare/apply) are attached by builder.ts; the view by view.ts.
 *
 * prepare and deltaSince build the document's index (doc_index.ts) the
 * first time they need it, and merge keeps it up to date. Write to a
 * document through store() or context() only while building it, before
 * either reads it.
 */
export class Doc {
  private ctx: Context;
  private st: DotMap<Key, Cell>;
  /**
   * Derived from st and ctx; undefined until first needed, and again after
   * a merge too large to follow key by key.
   */
  private idx: DocIndex | undefined = undefined;
  /** The text records by the dot of their marker (texts.ts). */
  private txt: Texts;

  /**
   * Returns an empty document, or one made of the given context and store
   * (which it takes ownership of; the store must be keyed by keyString and
   * hold only dots the context contains, or encode will refuse it).
   */
  constructor(ctx: Context = new Context(), st: DotMap<Key, Cell> = new DotMap<Key, Cell>(keyString), texts: Texts = new Texts()) {
    this.ctx = ctx;
    this.st = st;
    this.txt = texts;
  }

  /** The document's text records. They belong to the document. @internal */
  texts(): Texts {
    return this.txt;
  }

  /** The record named by marker dot m, if the document holds anything of it. @internal */
  textRecord(m: Dot): TextRec | undefined {
    return this.txt.get(m);
  }

  /** The string of the record named by marker dot m ("" for a record that holds nothing yet). */
  textString(m: Dot): string {
    return this.txt.get(m)?.t.toString() ?? '';
  }

  /** The document's causal context. It belongs to the document. */
  context(): Context {
    return this.ctx;
  }

  /** The document's dot store. It belongs to the document. */
  store(): DotMap<Key, Cell> {
    return this.st;
  }

  /**
   * Joins delta into this document and returns how many stored values it
   * added or removed. Merging is commutative, associative and idempotent.
   */
  merge(delta: Doc): number {
    if (this.idx !== undefined) {
      const n = this.idx.merge(this.st, this.ctx, delta.st, delta.ctx);
      if (n >= 0) {
        mergeTexts(this.txt, this.ctx, this.st, delta.txt, delta.ctx);
        return n;
      }
      this.idx = undefined;
    }
    const n = this.st.join(delta.st, this.ctx, delta.ctx);
    this.ctx.merge(delta.ctx);
    mergeTexts(this.txt, this.ctx, this.st, delta.txt, delta.ctx);
    return n;
  }

  /**
   * What a replica whose causal context is have lacks: the writes it has not
   * seen and the removals it has not seen. It visits only the values have
   * lacks (see DocIndex.since).
   */
  deltaSince(have: Context): Doc {
    const [st, ctx] = this.index().since(this.st, this.ctx, have);
    return new Doc(ctx, st, textsSince(this.txt, have));
  }

  /**
   * The document's index (doc_index.ts), built if it is missing: what the
   * operations and deltaSince read instead of scanning the store. Not part
   * of the SDK's API.
   *
   * @internal
   */
  index(): DocIndex {
    if (this.idx === undefined) this.idx = DocIndex.build(this.st, this.ctx);
    return this.idx;
  }

  /** An independent copy. (Values are immutable byte arrays and are shared.) */
  clone(): Doc {
    return new Doc(this.ctx.clone(), this.st.clone(), this.txt.clone());
  }

  /** Reports whether the document holds no value and no context: an empty delta. */
  isEmpty(): boolean {
    return this.st.numDots() === 0 && this.ctx.isEmpty() && this.txt.size === 0;
  }

  /**
   * Reports whether both are the same state: the same causal context and the
   * same values under the same dots.
   */
  equal(o: Doc): boolean {
    if (!this.ctx.equal(o.ctx) || this.st.numDots() !== o.st.numDots() || !this.txt.equal(o.txt)) return false;
    let equal = true;
    this.st.range((k, es) => {
      for (const e of es) {
        const c = o.cellAt(k, e.dot);
        if (c === undefined || c.wall !== e.value.wall || c.logical !== e.value.logical || !sameCellValue(c.value, e.value.value)) {
          equal = false;
          return false;
        }
      }
      return true;
    });
    return equal;
  }

  /** The cell stored under k with dot, undefined if none. */
  cellAt(k: Key, dot: Dot): Cell | undefined {
    for (const e of this.st.get(k)) {
      if (e.dot.counter === dot.counter && e.dot.replica === dot.replica) return e.value;
    }
    return undefined;
  }

  /**
   * The winning value under k, null if none (or if it belongs to an earlier
   * incarnation of its element: see incarnation.ts).
   */
  get(k: Key): Value {
    const w = current(this, k);
    if (w === undefined) return null;
    return isTextMarker(w.value.value) ? stringValue(this.textString(w.dot)) : w.value.value;
  }

  /** The winning entry under k, if it belongs to the current incarnation of its element. */
  winner(k: Key): Dotted<Cell> | undefined {
    return current(this, k);
  }

  /** The last-writer-wins winner under k, whatever its incarnation. */
  rawWinner(k: Key): Dotted<Cell> | undefined {
    const es = this.st.get(k);
    const i = winnerIndex(es);
    return i >= 0 ? es[i] : undefined;
  }

  /** Reports whether k holds a current value: for a membership key, whether the element is in the set. */
  has(k: Key): boolean {
    return current(this, k) !== undefined;
  }

  /**
   * The canonical encoding: equal states encode to equal bytes, on every
   * replica and in every language (PROTOCOL.md §7.2). See codec.ts.
   */
  encode(): Uint8Array {
    return encodeState(this.ctx, this.st, this.txt);
  }

  /**
   * The document as one or more encoded chunks of about limit bytes each,
   * each within caps (default DeltaCaps, which a server holds every delta
   * to), whose join in any order is this document. See split.ts.
   */
  encodeChunks(limit: number, caps: Caps = DeltaCaps): Uint8Array[] {
    return encodeStateChunks(this.ctx, this.st, limit, caps, this.txt);
  }

  /** What the document holds of each thing Caps bound. (Go: Counts.) */
  counts(): Counts {
    return countState(this.ctx, this.st, this.txt);
  }
}

/** Returns an empty document. (Go: New.) */
export function newDoc(): Doc {
  return new Doc();
}
