// Port of crdt/workflow/index_reads.go: the reads operations make through
// the document's index (doc_index.ts). An operation sees its document with
// its own writes laid over it, and the index covers only the document, so
// each read adds what the operation's delta holds (a handful of keys) and
// then checks every candidate with the same predicate the whole-document
// scan used: the answers are the scan's.

import { winner } from '../crdt/register';
import type { Builder } from './builder';
import { entityOf } from './doc_index';
import { FieldName, FieldParentID, asEdge, asString, type Edge } from './fields';
import { KindBlockField, KindEdge, keyString, type Key } from './key';
import { blockExists, edgeKey, fieldKey, normalizeName } from './state';
import { treeOf, type Tree } from './tree';
import { compareStrings } from './util';

/** Orders keys as Go's compareKeys: kind, then id, then sub, strings by bytes. */
export function compareKeys(a: Key, c: Key): number {
  if (a.kind !== c.kind) return a.kind - c.kind;
  if (a.id !== c.id) return compareStrings(a.id, c.id);
  return compareStrings(a.sub, c.sub);
}

/**
 * Returns, sorted, the keys of element ent (doc_index.ts entity) in the
 * document or in this operation's writes that match accepts.
 */
export function entityKeysWhere(b: Builder, ent: string, match: (k: Key) => boolean): Key[] {
  const seen = new Map<string, Key>();
  const consider = (k: Key): void => {
    const ks = keyString(k);
    if (!seen.has(ks) && entityOf(k) === ent && match(k)) seen.set(ks, k);
  };
  for (const k of b.doc.index().keys.get(ent) ?? []) consider(k);
  b.delta.store().range((k) => {
    consider(k);
    return true;
  });
  return [...seen.values()].sort(compareKeys);
}

/** Lists a block's present effective children, sorted: the children the view shows in it. */
export class ChildFinder {
  private readonly t: Tree;
  /** parent → blocks whose parentId this operation wrote */
  private readonly extra = new Map<string, string[]>();

  constructor(private readonly b: Builder) {
    this.t = treeOf(b);
    b.delta.store().range((k, es) => {
      if (k.kind === KindBlockField && k.sub === FieldParentID) {
        const p = asString(es[winner(es)].value.value);
        const l = this.extra.get(p);
        if (l === undefined) this.extra.set(p, [k.id]);
        else l.push(k.id);
      }
      return true;
    });
  }

  children(p: string): string[] {
    const out: string[] = [];
    const consider = (c: string): void => {
      if (this.t.parentOf(c) === p && blockExists(this.b, c) && !out.includes(c)) out.push(c);
    };
    for (const c of this.b.doc.index().children.get(p) ?? []) consider(c);
    for (const c of this.extra.get(p) ?? []) consider(c);
    return out.sort(compareStrings);
  }
}

/**
 * Lists the present edges at a block: the document's through its index, and
 * those this operation wrote (or writes later, through note).
 */
export class EdgeFinder {
  /** block → edges of this operation naming it */
  private readonly extra = new Map<string, string[]>();

  constructor(private readonly b: Builder) {
    b.delta.store().range((k, es) => {
      if (k.kind === KindEdge) for (const e of es) this.note(k.id, asEdge(e.value.value));
      return true;
    });
  }

  note(id: string, e: Edge): void {
    for (const end of [e.source, e.target]) {
      const l = this.extra.get(end);
      if (l === undefined) this.extra.set(end, [id]);
      else if (!l.includes(id)) l.push(id);
    }
  }

  /** Calls fn with every present edge with an end at block, as the operation sees it, in unspecified order, each once. */
  at(block: string, fn: (e: Edge) => void): void {
    const seen = new Set<string>();
    const visit = (id: string): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const k = edgeKey(id);
      if (!this.b.has(k)) return;
      const e = asEdge(this.b.get(k));
      if (e.source === block || e.target === block) fn({ ...e, id });
    };
    for (const id of this.b.doc.index().edgesAt.get(block) ?? []) visit(id);
    for (const id of this.extra.get(block) ?? []) visit(id);
  }
}

/**
 * The normalized names present blocks show, mapped to their block, as the
 * operation found them when it asked, plus the names it adds with set.
 * Lookups go through the index while no two blocks share a name (then every
 * block shows its own name); otherwise, and when the operation has written
 * already, the caller computes the whole map (full).
 */
export class NameSet {
  private added: Map<string, string> | undefined;

  constructor(
    private readonly b: Builder,
    private readonly full?: Map<string, string>,
  ) {}

  /** The block showing normalized name n, undefined if none. */
  get(n: string): string | undefined {
    if (this.full !== undefined) return this.full.get(n);
    const id = this.added?.get(n);
    if (id !== undefined) return id;
    const doc = this.b.doc;
    for (const c of doc.index().names.get(n) ?? []) {
      if (!blockExists(doc, c)) continue;
      const w = doc.winner(fieldKey(c, FieldName));
      if (w !== undefined && normalizeName(asString(w.value.value)) === n) return c;
    }
    return undefined;
  }

  /** Reports whether a block shows normalized name n. */
  has(n: string): boolean {
    return this.get(n) !== undefined;
  }

  /** Records that block id now shows normalized name n. */
  set(n: string, id: string): void {
    if (this.full !== undefined) {
      this.full.set(n, id);
      return;
    }
    if (this.added === undefined) this.added = new Map();
    this.added.set(n, id);
  }
}
