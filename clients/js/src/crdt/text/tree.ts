// The B-tree index over the document's spans.

import { none } from './ids';

/**
 * A piece of one run: items with consecutive local versions (and so
 * consecutive counters of one replica) that sit next to each other in the
 * document and are all deleted or all visible. Item k has local version
 * lv+k; its left origin is lv+k-1 for k > 0 and left for k = 0; every
 * item's right origin is right. text holds the n code points of a visible
 * span ("" for a dead one: deleted content is not kept).
 */
export class Span {
  constructor(
    public lv: number,
    public n: number,
    public left: number,
    public right: number,
    public dead: boolean,
    public text: string,
  ) {}

  get vis(): number {
    return this.dead ? 0 : this.n;
  }

  /** Cuts the span at item k (0 < k < n) and returns the second piece. */
  splitAt(k: number): Span {
    const b = new Span(this.lv + k, this.n - k, this.lv + k - 1, this.right, this.dead, '');
    if (!this.dead) {
      const off = unitOffset(this.text, this.n, k);
      b.text = this.text.slice(off);
      this.text = this.text.slice(0, off);
    }
    this.n = k;
    return b;
  }
}

/** The UTF-16 offset of code point k of s, which holds n code points. */
export function unitOffset(s: string, n: number, k: number): number {
  if (s.length === n) return k; // no surrogate pairs
  let off = 0;
  for (; k > 0; k--) {
    const c = s.charCodeAt(off);
    off += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return off;
}

/**
 * Tree shape: leaves hold up to maxSpans spans, inner nodes up to maxKids
 * children; nodes split in halves when they overflow and never merge (spans
 * only ever split or grow, so leaves never empty). Settable so that tests
 * can shrink them to exercise splits.
 */
export const shape = { maxSpans: 32, maxKids: 32 };

/**
 * A B-tree node. Each counts the items under it (all, deleted included) and
 * the visible ones: descending by vis finds an index, summing left siblings
 * on the way up gives a position. A leaf has spans, an inner node kids.
 */
export class TreeNode {
  parent: TreeNode | null = null;
  kids: TreeNode[] = [];
  spans: Span[] = [];
  prev: TreeNode | null = null;
  next: TreeNode | null = null;
  vis = 0;
  all = 0;
  constructor(
    readonly leaf: boolean,
    readonly id: number,
  ) {}

  /** Adds to the counts of this node and its ancestors. */
  bump(dvis: number, dall: number): void {
    for (let n: TreeNode | null = this; n !== null; n = n.parent) {
      n.vis += dvis;
      n.all += dall;
    }
  }
}

/**
 * A cursor on item off of span idx of a leaf; idx === spans.length on the
 * last leaf is the end of the document.
 */
export class Cursor {
  constructor(
    public leaf: TreeNode,
    public idx: number,
    public off: number,
  ) {}

  span(): Span {
    return this.leaf.spans[this.idx];
  }

  /** Reports whether the cursor is past the last item, rolling onto the next leaf first. */
  atEnd(): boolean {
    while (this.idx >= this.leaf.spans.length) {
      if (this.leaf.next === null) return true;
      this.leaf = this.leaf.next;
      this.idx = 0;
      this.off = 0;
    }
    return false;
  }

  nextSpan(): void {
    this.idx++;
    this.off = 0;
  }
}

/** Where a span is: its leaf and index in it. */
export interface Place {
  leaf: TreeNode;
  idx: number;
}

/** The index over the spans, in document order. */
export class Tree {
  root: TreeNode;
  first: TreeNode;
  /** leafOf[lv]: the id of the leaf holding item lv, so an item is found without a search. */
  private leafOf = new Int32Array(64);
  private items = 0;
  private readonly leaves: TreeNode[] = [];

  constructor() {
    const l = new TreeNode(true, 0);
    this.leaves.push(l);
    this.root = l;
    this.first = l;
  }

  leafAt(lv: number): TreeNode {
    return this.leaves[this.leafOf[lv]];
  }

  /** Records that n new items, the next local versions, live in leaf l. */
  note(l: TreeNode, n: number): void {
    const end = this.items + n;
    if (end > this.leafOf.length) {
      const grown = new Int32Array(Math.max(end, this.leafOf.length * 2));
      grown.set(this.leafOf);
      this.leafOf = grown;
    }
    this.leafOf.fill(l.id, this.items, end);
    this.items = end;
  }

  /** The span holding visible item i and the item's offset in it. */
  findVisible(i: number): { leaf: TreeNode; idx: number; k: number } {
    let n = this.root;
    while (!n.leaf) {
      const kids = n.kids;
      let j = 0;
      for (; j < kids.length - 1; j++) {
        if (i < kids[j].vis) break;
        i -= kids[j].vis;
      }
      n = kids[j];
    }
    const spans = n.spans;
    for (let j = 0; j < spans.length; j++) {
      const s = spans[j];
      if (!s.dead) {
        if (i < s.n) return { leaf: n, idx: j, k: i };
        i -= s.n;
      }
    }
    throw new Error('text: visible index out of range');
  }

  /** The leaf and span index holding item lv. */
  locate(lv: number): Place {
    const l = this.leafAt(lv);
    const spans = l.spans;
    for (let j = 0; j < spans.length; j++) {
      const s = spans[j];
      if (lv >= s.lv && lv < s.lv + s.n) return { leaf: l, idx: j };
    }
    throw new Error('text: item not in its leaf');
  }

  /** The number of items, deleted ones included, before item lv. */
  position(lv: number): number {
    const { leaf, idx } = this.locate(lv);
    let p = lv - leaf.spans[idx].lv;
    for (let k = 0; k < idx; k++) p += leaf.spans[k].n;
    for (let n = leaf; n.parent !== null; n = n.parent) {
      for (const k of n.parent.kids) {
        if (k === n) break;
        p += k.all;
      }
    }
    return p;
  }

  /** The number of visible items before item lv. */
  visibleBefore(lv: number): number {
    const { leaf, idx } = this.locate(lv);
    let p = leaf.spans[idx].dead ? 0 : lv - leaf.spans[idx].lv;
    for (let k = 0; k < idx; k++) p += leaf.spans[k].vis;
    for (let n = leaf; n.parent !== null; n = n.parent) {
      for (const k of n.parent.kids) {
        if (k === n) break;
        p += k.vis;
      }
    }
    return p;
  }

  /** A cursor on the item right after lv (none: the first item). */
  cursorAfter(lv: number): Cursor {
    if (lv === none) return new Cursor(this.first, 0, 0);
    const { leaf, idx } = this.locate(lv);
    const off = lv - leaf.spans[idx].lv + 1;
    if (off === leaf.spans[idx].n) return new Cursor(leaf, idx + 1, 0);
    return new Cursor(leaf, idx, off);
  }

  /** Puts s, whose items are the next unused lvs, into leaf l at index j. */
  insertSpan(l: TreeNode, j: number, s: Span): void {
    l.spans.splice(j, 0, s);
    this.note(l, s.n);
    l.bump(s.vis, s.n);
    if (l.spans.length > shape.maxSpans) this.splitLeaf(l);
  }

  /**
   * Cuts span j of leaf l at item k (0 < k < n), keeping both pieces in l
   * (which may then split); returns where the second piece is.
   */
  splitSpan(l: TreeNode, j: number, k: number): Place {
    const b = l.spans[j].splitAt(k);
    l.spans.splice(j + 1, 0, b);
    if (l.spans.length > shape.maxSpans) {
      const nl = this.splitLeaf(l);
      if (j + 1 >= l.spans.length) return { leaf: nl, idx: j + 1 - l.spans.length };
    }
    return { leaf: l, idx: j + 1 };
  }

  /** Moves the second half of l's spans to a new leaf after it. */
  private splitLeaf(l: TreeNode): TreeNode {
    const half = l.spans.length >> 1;
    const nl = new TreeNode(true, this.leaves.length);
    this.leaves.push(nl);
    nl.prev = l;
    nl.next = l.next;
    nl.spans = l.spans.splice(half);
    if (l.next !== null) l.next.prev = nl;
    l.next = nl;
    for (const s of nl.spans) {
      nl.vis += s.vis;
      nl.all += s.n;
      this.leafOf.fill(nl.id, s.lv, s.lv + s.n);
    }
    l.vis -= nl.vis;
    l.all -= nl.all;
    this.addSibling(l, nl);
    return nl;
  }

  /** Inserts nl right after n in n's parent (whose counts include nl's already). */
  private addSibling(n: TreeNode, nl: TreeNode): void {
    let par = n.parent;
    if (par === null) {
      par = new TreeNode(false, -1);
      par.vis = n.vis + nl.vis;
      par.all = n.all + nl.all;
      par.kids.push(n);
      n.parent = par;
      this.root = par;
    }
    par.kids.splice(par.kids.indexOf(n) + 1, 0, nl);
    nl.parent = par;
    if (par.kids.length <= shape.maxKids) return;
    const np = new TreeNode(false, -1);
    np.kids = par.kids.splice(par.kids.length >> 1);
    for (const k of np.kids) {
      k.parent = np;
      np.vis += k.vis;
      np.all += k.all;
    }
    par.vis -= np.vis;
    par.all -= np.all;
    this.addSibling(par, np);
  }

  /**
   * Fills an empty tree with spans numbered in order (span i starts at the
   * item after span i-1's last), leaving room in every node for the edits
   * to come.
   */
  build(spans: Span[]): void {
    if (spans.length === 0) return;
    const per = Math.max(1, (shape.maxSpans * 3) >> 2);
    const last = spans[spans.length - 1];
    this.items = last.lv + last.n;
    this.leafOf = new Int32Array(Math.max(64, this.items));
    this.leaves.length = 0;
    let level: TreeNode[] = [];
    let prev: TreeNode | null = null;
    for (let i = 0; i < spans.length; i += per) {
      const l = new TreeNode(true, this.leaves.length);
      l.spans = spans.slice(i, i + per);
      l.prev = prev;
      for (const s of l.spans) {
        l.vis += s.vis;
        l.all += s.n;
        this.leafOf.fill(l.id, s.lv, s.lv + s.n);
      }
      if (prev !== null) prev.next = l;
      prev = l;
      this.leaves.push(l);
      level.push(l);
    }
    this.first = level[0];
    const kids = Math.max(2, (shape.maxKids * 3) >> 2);
    while (level.length > 1) {
      const up: TreeNode[] = [];
      for (let i = 0; i < level.length; i += kids) {
        const n = new TreeNode(false, -1);
        n.kids = level.slice(i, i + kids);
        for (const k of n.kids) {
          k.parent = n;
          n.vis += k.vis;
          n.all += k.all;
        }
        up.push(n);
      }
      level = up;
    }
    this.root = level[0];
  }

  /** Marks span j of leaf l deleted, dropping its content. */
  setDead(l: TreeNode, j: number): void {
    const s = l.spans[j];
    if (s.dead) return;
    l.bump(-s.n, 0);
    s.dead = true;
    s.text = '';
  }
}
