// Port of crdt/workflow/view.go: the materialized view an editor renders,
// with every graph rule and tie-break exactly as Go applies them, so that a
// browser replica and the server show the same workflow for the same state.
//
// One deliberate difference from Go: Go's view holds field values as raw
// canonical msgpack and decodes them only when marshalled to JSON; this view
// holds them decoded (ViewValue), because a browser app reads them directly.
// viewToJSON (json.ts, which builds on this module and is not re-exported
// from it) turns a View into exactly what Go's json.Marshal(doc.View())
// produces; that form is what the cross-language conformance tests compare.

import {
  KindBlock,
  KindBlockField,
  KindEdge,
  KindSubBlock,
  KindSubBlockType,
  KindSubflow,
  KindVariable,
  KindVariableField,
  Doc,
  type Key,
  type Value,
} from './doc';
import {
  FieldAdvancedMode,
  FieldCanonicalPrefix,
  FieldDataPrefix,
  FieldEnabled,
  FieldErrorEnabled,
  FieldExtent,
  FieldHeight,
  FieldHorizontalHandles,
  FieldIsWide,
  FieldLocked,
  FieldName,
  FieldOutputs,
  FieldParentID,
  FieldPosition,
  FieldRetry,
  FieldTriggerMode,
  FieldType,
  VarFieldName,
  VarFieldType,
  VarFieldValue,
  asBool,
  asEdge,
  asFloat,
  asPosition,
  asString,
  decodeValue,
  type Edge,
  type Position,
  stringValue,
} from './fields';
import { compareTimestamps } from '../crdt/hlc';
import { predates } from './incarnation';
import { isTextMarker } from './texts';
import { TypeLoop, blockKey, isContainer, variableKey } from './state';
import { resolveNameList, type NameEntry } from './names';
import { Tree, compareStamps, zeroStamp, type Link, type ParentLinks, type Stamp } from './tree';
import { compareStrings } from './util';

export type { Edge, Position } from './fields';

/**
 * A decoded field value: what the editor stored, as JSON-shaped data.
 * Integers beyond ±2^53 decode to bigint and msgpack bin to Uint8Array; a
 * value that does not decode (a hostile delta may carry anything) reads as
 * null, as Go's Value.MarshalJSON renders it.
 */
export type ViewValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | ViewValue[]
  | { [key: string]: ViewValue };

/**
 * The document as an editor renders it, in the shape the reference system
 * sends on join. It is a pure function of the document state, so every
 * replica with the same state shows the same view; graph rules that
 * concurrent edits can break are enforced here (see the rule comments in
 * this file and docs/ARCHITECTURE.md).
 *
 * The records are created without a prototype, so ids such as "__proto__"
 * or "constructor" are ordinary keys. Treat a view as read-only: it is
 * rebuilt from the document, never written back.
 */
export interface View {
  /** Visible blocks by id. */
  blocks: Record<string, BlockView>;
  /** Visible edges, sorted by id. */
  edges: Edge[];
  /** Visible loop containers by block id. */
  loops: Record<string, LoopView>;
  /** Visible parallel containers by block id. */
  parallels: Record<string, ParallelView>;
  /** Variables by id. */
  variables: Record<string, VariableView>;
  /**
   * The paint order: every visible block id once, each container before its
   * children, siblings by their winning add (hybrid time, then dot), then
   * id. Drawing in this order gives every replica the same picture where
   * blocks overlap.
   */
  order: string[];
}

/** One visible block. Absent fields read as the reference's defaults. */
export interface BlockView {
  id: string;
  /** Block type ("agent", "api", "loop", …); "" if never written. */
  type: string;
  /** Display name, unique among visible blocks once normalized (see resolveNames). */
  name: string;
  position: Position;
  /** Sub-blocks (fields of the block's form) by sub-block id. */
  subBlocks: Record<string, SubBlockView>;
  /** Output schema; {} by default. */
  outputs: ViewValue;
  enabled: boolean;
  horizontalHandles: boolean;
  isWide: boolean;
  advancedMode: boolean;
  triggerMode: boolean;
  errorEnabled: boolean;
  height: number;
  locked: boolean;
  /** Retry config; undefined when the block has none (Go omits it from JSON). */
  retry?: ViewValue;
  /**
   * The block's data map: its own keys, parentId and extent (children
   * only), canonicalModes, and for containers the mirrored subflow config
   * (type "subflowNode", width, height, count, loopType or parallelType,
   * collection, …).
   */
  data: Record<string, ViewValue>;
}

/** One sub-block (field) of a block. */
export interface SubBlockView {
  id: string;
  /** The sub-block's type ("short-input", …), "unknown" if never recorded. */
  type: string;
  /** The sub-block's value; null when only the type was recorded. */
  value: ViewValue;
}

/** A loop container's config. */
export interface LoopView {
  id: string;
  /** Ids of the visible direct children, sorted. */
  nodes: string[];
  iterations: number;
  loopType: string;
  forEachItems: ViewValue;
  /** "" when unset (Go omits it from JSON). */
  whileCondition: string;
  /** "" when unset (Go omits it from JSON). */
  doWhileCondition: string;
}

/** A parallel container's config. */
export interface ParallelView {
  id: string;
  /** Ids of the visible direct children, sorted. */
  nodes: string[];
  count: number;
  parallelType: string;
  distribution: ViewValue;
  /** Clamped to 1..MaxBatchSize. */
  batchSize: number;
}

/** One workflow variable. */
export interface VariableView {
  id: string;
  name: string;
  type: string;
  value: ViewValue;
}

// Subflow defaults, as in the reference.
export const DefaultLoopType = 'for';
export const DefaultIterations = 5;
export const DefaultParallelType = 'count';
export const DefaultCount = 5;
export const DefaultBatchSize = 20;
export const MaxBatchSize = 20;
const defaultWidth = 500;
const defaultHeight = 300;

/** One concurrent value under a key, as the view reads the store. */
export interface ViewEntry {
  dot: { replica: string; counter: number };
  value: { wall: number; logical: number; value: Value };
}

/**
 * What the view needs of a store: every key with its concurrent entries, and
 * the entries under one key (for the membership entry that decides which
 * values of a block or variable are current). buildView takes a Doc or any
 * ViewSource, so tests and tools can render a hand-built store with exact
 * stamps.
 */
export interface ViewSource {
  forEachKey(fn: (k: Key, entries: readonly ViewEntry[]) => void): void;
  entries(k: Key): readonly ViewEntry[];
}

interface NamedValue {
  name: string;
  value: Value;
}

interface SubAcc {
  id: string;
  value: Value;
  typ: string;
}

/** One block's entries, collected in the single pass over the store. */
class BlockAcc {
  member = false;
  /**
   * The winning add, when member: the paint order, and the incarnation whose
   * values are the block's (incarnation.ts).
   */
  addStamp: Stamp = zeroStamp;
  fields: NamedValue[] = [];
  nameStamp: Stamp = zeroStamp;
  parentStamp: Stamp = zeroStamp;
  subs: SubAcc[] = [];
  subflow: NamedValue[] = [];
  /** Effective parent (tree.ts). */
  parent = '';

  field(name: string): Value {
    return lookup(this.fields, name);
  }

  /**
   * Reports whether a block entry belongs to an earlier or a losing
   * incarnation of the block (see incarnation.ts); Doc.get hides the same
   * entries.
   */
  stale(w: ViewEntry): boolean {
    return this.member && predates(w, this.addStamp);
  }

  sub(id: string): SubAcc {
    for (const s of this.subs) if (s.id === id) return s;
    const s: SubAcc = { id, value: null, typ: '' };
    this.subs.push(s);
    return s;
  }
}

function lookup(vs: readonly NamedValue[], name: string): Value {
  for (const v of vs) if (v.name === name) return v.value;
  return null;
}

/** A record without a prototype, so any id is an ordinary key. */
function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * Decodes a stored value for the view. An absent value is null; an
 * undecodable one is null too, as Go's Value.MarshalJSON renders it.
 */
function decoded(v: Value): ViewValue {
  if (v === null || v.length === 0) return null;
  try {
    return decodeValue(v) as ViewValue;
  } catch {
    // Any decoding failure (malformed, too deep, over ValueLimits, a
    // duplicate or non-string map key) renders as null in Go.
    return null;
  }
}

/**
 * The winning entry of a key: the greatest stamp, the order of crdt.Winner
 * (register.ts's winner). It is computed here rather than taken from there
 * because the view needs the winner's stamp for its tie-breaks anyway.
 */
function winnerOf(es: readonly ViewEntry[]): { entry: ViewEntry; stamp: Stamp } {
  let best = es[0];
  let bestStamp = stampOf(best);
  for (let i = 1; i < es.length; i++) {
    const s = stampOf(es[i]);
    if (compareStamps(s, bestStamp) > 0) {
      best = es[i];
      bestStamp = s;
    }
  }
  return { entry: best, stamp: bestStamp };
}

function stampOf(e: ViewEntry): Stamp {
  return { wall: e.value.wall, logical: e.value.logical, replica: e.dot.replica, counter: e.dot.counter };
}

/**
 * Materializes the document: one pass over the store, then the graph rules.
 * It is Go's Doc.View; Doc.view() calls it.
 */
export function buildView(doc: ViewSource | Doc): View {
  const blocks = new Map<string, BlockAcc>();
  const acc = (id: string): BlockAcc => {
    let a = blocks.get(id);
    if (a === undefined) {
      a = new BlockAcc();
      blocks.set(id, a);
      const inc = incarnation(doc, blockKey(id));
      if (inc !== undefined) {
        a.member = true;
        a.addStamp = inc;
      }
    }
    return a;
  };
  const edges: { edge: Edge; stamp: Stamp }[] = [];
  const variables = dict<VariableView>();
  const varFields = new Map<string, NamedValue[]>();

  forEachKey(doc, (k, es) => {
    if (es.length === 0) return;
    const { entry: w, stamp } = winnerOf(es);
    // A text shows as its string, so readers that do not know texts see strings.
    const value = doc instanceof Doc && isTextMarker(w.value.value) ? stringValue(doc.textString(w.dot)) : w.value.value;
    switch (k.kind) {
      case KindBlock:
        acc(k.id);
        break;
      case KindBlockField: {
        const a = acc(k.id);
        if (a.stale(w)) break;
        a.fields.push({ name: k.sub, value });
        if (k.sub === FieldName) a.nameStamp = stamp;
        else if (k.sub === FieldParentID) a.parentStamp = stamp;
        break;
      }
      case KindSubBlock: {
        const a = acc(k.id);
        if (!a.stale(w)) a.sub(k.sub).value = value;
        break;
      }
      case KindSubBlockType: {
        const a = acc(k.id);
        if (!a.stale(w)) a.sub(k.sub).typ = asString(value);
        break;
      }
      case KindSubflow: {
        const a = acc(k.id);
        if (!a.stale(w)) a.subflow.push({ name: k.sub, value });
        break;
      }
      case KindEdge: {
        const e = asEdge(value);
        e.id = k.id;
        edges.push({ edge: e, stamp });
        break;
      }
      case KindVariable:
        variables[k.id] = { id: k.id, name: '', type: '', value: null };
        break;
      case KindVariableField: {
        const inc = incarnation(doc, variableKey(k.id));
        if (inc !== undefined && predates(w, inc)) break;
        let fs = varFields.get(k.id);
        if (fs === undefined) varFields.set(k.id, (fs = []));
        fs.push({ name: k.sub, value });
        break;
      }
    }
  });

  const tree = new Tree(new ViewLinks(blocks));
  for (const [id, a] of blocks) {
    if (a.member) a.parent = tree.parentOf(id);
  }
  const v: View = {
    blocks: dict<BlockView>(),
    edges: [],
    loops: dict<LoopView>(),
    parallels: dict<ParallelView>(),
    variables,
    order: [],
  };
  // Rule (orphans, tree.ts): every live block shows, so a block moved into
  // or added to a concurrently removed container is never hidden.
  for (const [id, a] of blocks) {
    if (a.member) v.blocks[id] = render(id, a);
  }
  v.order = paintOrder(v.blocks, blocks);
  resolveNames(v.blocks, blocks);
  renderSubflows(v, blocks);

  // Edges: visible ends, no self-loop, scope, no duplicate, no cycle.
  const candidates = edges.filter((e) => !edgeOutlivedByAnEnd(blocks, e.edge, e.stamp) && edgeAllowed(v.blocks, blocks, e.edge));
  candidates.sort((a, b) => compareStamps(a.stamp, b.stamp) || compareStrings(a.edge.id, b.edge.id));
  // Rule (duplicates): of edges with the same ends and handles, the
  // earliest added shows.
  const seen = new Set<string>();
  const ordered: Edge[] = [];
  for (const { edge: e } of candidates) {
    const k = JSON.stringify([e.source, e.sourceHandle, e.target, e.targetHandle]);
    if (seen.has(k)) continue;
    seen.add(k);
    ordered.push(e);
  }
  v.edges = breakCycles(ordered);
  v.edges.sort((a, b) => compareStrings(a.id, b.id));

  for (const id in variables) {
    const vv = variables[id];
    const fs = varFields.get(id) ?? [];
    vv.name = asString(lookup(fs, VarFieldName));
    vv.type = asString(lookup(fs, VarFieldType));
    vv.value = decoded(lookup(fs, VarFieldValue));
  }
  return v;
}

/**
 * The stamp of the winning membership entry under owner, undefined when the
 * element has none. (Go: Doc.incarnation.)
 */
function incarnation(doc: ViewSource | Doc, owner: Key): Stamp | undefined {
  const es = doc instanceof Doc ? doc.store().get(owner) : doc.entries(owner);
  return es.length > 0 ? winnerOf(es).stamp : undefined;
}

/**
 * edgePredatesAnEnd (incarnation.ts) for the view, which has each block's
 * incarnation in its accumulator. (Go: edgeOutlivedByAnEnd.)
 */
function edgeOutlivedByAnEnd(blocks: Map<string, BlockAcc>, e: Edge, added: Stamp): boolean {
  for (const end of [e.source, e.target]) {
    const a = blocks.get(end);
    if (a !== undefined && a.member && compareTimestamps(added, a.addStamp) < 0) return true;
  }
  return false;
}

/**
 * Walks a document's store the way Go's View ranges over d.store (in
 * unspecified order: nothing below depends on it); a plain ViewSource is
 * used as is.
 */
function forEachKey(doc: ViewSource | Doc, fn: (k: Key, es: readonly ViewEntry[]) => void): void {
  if (doc instanceof Doc) {
    doc.store().range((k, es) => {
      fn(k, es);
      return true;
    });
    return;
  }
  doc.forEachKey(fn);
}

declare module './doc' {
  interface Doc {
    /** The document as an editor renders it (Go: Doc.View); see buildView in view.ts. */
    view(): View;
  }
}

// Go's Doc.View is a method defined in view.go; it is attached here so that
// doc.ts need not import the view (importing view.ts is what provides it).
if (!Object.prototype.hasOwnProperty.call(Doc.prototype, 'view')) {
  Doc.prototype.view = function (this: Doc): View {
    return buildView(this);
  };
}

/** The stored parent pointers, read from the view's accumulators (Go: viewLinks). */
class ViewLinks implements ParentLinks {
  constructor(private readonly blocks: Map<string, BlockAcc>) {}

  link(id: string): Link | undefined {
    const a = this.blocks.get(id);
    if (a === undefined) return undefined;
    const p = asString(a.field(FieldParentID));
    if (p === '') return undefined;
    const pa = this.blocks.get(p);
    if (pa === undefined || !pa.member || !isContainer(asString(pa.field(FieldType)))) return undefined;
    if (compareTimestamps(a.parentStamp, pa.addStamp) < 0) return undefined;
    return { parent: p, at: a.parentStamp };
  }
}

/**
 * Lists the visible blocks depth first: top-level blocks, and the children
 * of each container right after it, each group by winning add (hybrid time,
 * then dot), then id. Iterative, so nesting of any depth cannot overflow the
 * stack.
 */
function paintOrder(views: Record<string, BlockView>, blocks: Map<string, BlockAcc>): string[] {
  const children = new Map<string, string[]>();
  for (const id in views) {
    const p = blocks.get(id)!.parent;
    const l = children.get(p);
    if (l === undefined) children.set(p, [id]);
    else l.push(id);
  }
  for (const ids of children.values()) {
    ids.sort((a, b) => compareStamps(blocks.get(a)!.addStamp, blocks.get(b)!.addStamp) || compareStrings(a, b));
  }
  const order: string[] = [];
  const stack: { ids: string[]; next: number }[] = [{ ids: children.get('') ?? [], next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next === top.ids.length) {
      stack.pop();
      continue;
    }
    const id = top.ids[top.next++];
    order.push(id);
    const kids = children.get(id);
    if (kids !== undefined) stack.push({ ids: kids, next: 0 });
  }
  return order;
}

function render(id: string, a: BlockAcc): BlockView {
  const b: BlockView = {
    id,
    type: '',
    name: '',
    position: { x: 0, y: 0 },
    subBlocks: dict<SubBlockView>(),
    outputs: dict<ViewValue>(),
    enabled: true,
    horizontalHandles: true,
    isWide: false,
    advancedMode: false,
    triggerMode: false,
    errorEnabled: false,
    height: 0,
    locked: false,
    data: dict<ViewValue>(),
  };
  let canonical: Record<string, ViewValue> | undefined;
  let extent: Value = null;
  for (const f of a.fields) {
    const v = f.value;
    switch (f.name) {
      case FieldType:
        // Go interns common type strings here to save allocations; a
        // JavaScript string needs no such care.
        b.type = asString(v);
        break;
      case FieldName:
        b.name = asString(v);
        break;
      case FieldPosition:
        b.position = asPosition(v);
        break;
      case FieldOutputs:
        if (v !== null) b.outputs = decoded(v);
        break;
      case FieldEnabled:
        b.enabled = asBool(v, true);
        break;
      case FieldHorizontalHandles:
        b.horizontalHandles = asBool(v, true);
        break;
      case FieldIsWide:
        b.isWide = asBool(v, false);
        break;
      case FieldAdvancedMode:
        b.advancedMode = asBool(v, false);
        break;
      case FieldTriggerMode:
        b.triggerMode = asBool(v, false);
        break;
      case FieldErrorEnabled:
        b.errorEnabled = asBool(v, false);
        break;
      case FieldLocked:
        b.locked = asBool(v, false);
        break;
      case FieldRetry:
        // Go keeps the raw value and omits it from JSON only when it is
        // empty; an absent value stays undefined here for the same effect.
        if (v !== null && v.length > 0) b.retry = decoded(v);
        break;
      case FieldHeight: {
        const [h, ok] = asFloat(v);
        if (ok) b.height = h;
        break;
      }
      case FieldExtent:
        extent = v;
        break;
      default:
        if (f.name.startsWith(FieldDataPrefix)) {
          if (v !== null) b.data[f.name.slice(FieldDataPrefix.length)] = decoded(v);
        } else if (f.name.startsWith(FieldCanonicalPrefix)) {
          const s = asString(v);
          if (s !== '') {
            canonical ??= dict<ViewValue>();
            canonical[f.name.slice(FieldCanonicalPrefix.length)] = s;
          }
        }
    }
  }
  if (canonical !== undefined) b.data.canonicalModes = canonical;
  if (a.parent !== '') {
    b.data.parentId = a.parent;
    if (extent !== null) b.data.extent = decoded(extent);
  }
  for (const sa of a.subs) {
    if (sa.value === null && sa.typ === '') continue;
    b.subBlocks[sa.id] = { id: sa.id, type: sa.typ === '' ? 'unknown' : sa.typ, value: decoded(sa.value) };
  }
  return b;
}

/** Applies the rule for concurrent names (names.ts) to the visible blocks. */
function resolveNames(views: Record<string, BlockView>, blocks: Map<string, BlockAcc>): void {
  const es: NameEntry[] = [];
  for (const id in views) es.push({ id, name: views[id].name, at: blocks.get(id)!.nameStamp });
  resolveNameList(es);
  for (const e of es) views[e.id].name = e.name;
}

/**
 * Builds loops and parallels for visible containers and mirrors their config
 * into the block's data, as the reference does.
 */
function renderSubflows(v: View, blocks: Map<string, BlockAcc>): void {
  const children = new Map<string, string[]>();
  for (const id in v.blocks) {
    const p = blocks.get(id)!.parent;
    if (p === '') continue;
    let cs = children.get(p);
    if (cs === undefined) children.set(p, (cs = []));
    cs.push(id);
  }
  for (const id in v.blocks) {
    const bv = v.blocks[id];
    if (!isContainer(bv.type)) continue;
    const nodes = (children.get(id) ?? []).sort(compareStrings);
    const cfg = blocks.get(id)!.subflow;
    const num = (key: string, def: number): number => {
      const [f, ok] = asFloat(lookup(cfg, key));
      return ok && Number.isFinite(f) ? f : def;
    };
    const str = (key: string, def: string): string => asString(lookup(cfg, key)) || def;
    const orEmpty = (x: Value): ViewValue => (x === null ? '' : decoded(x));
    const data = bv.data;
    data.type = 'subflowNode';
    if (data.width === undefined) data.width = defaultWidth;
    if (data.height === undefined) data.height = defaultHeight;
    if (bv.type === TypeLoop) {
      const l: LoopView = {
        id,
        nodes,
        iterations: num('iterations', DefaultIterations),
        loopType: str('loopType', DefaultLoopType),
        forEachItems: orEmpty(lookup(cfg, 'forEachItems')),
        whileCondition: asString(lookup(cfg, 'whileCondition')),
        doWhileCondition: asString(lookup(cfg, 'doWhileCondition')),
      };
      v.loops[id] = l;
      data.count = l.iterations;
      data.loopType = l.loopType;
      data.collection = l.forEachItems;
      if (l.whileCondition !== '') data.whileCondition = l.whileCondition;
      if (l.doWhileCondition !== '') data.doWhileCondition = l.doWhileCondition;
      continue;
    }
    const p: ParallelView = {
      id,
      nodes,
      count: num('count', DefaultCount),
      parallelType: str('parallelType', DefaultParallelType),
      distribution: orEmpty(lookup(cfg, 'distribution')),
      batchSize: Math.min(Math.max(num('batchSize', DefaultBatchSize), 1), MaxBatchSize),
    };
    v.parallels[id] = p;
    data.count = p.count;
    data.parallelType = p.parallelType;
    data.collection = p.distribution;
    data.batchSize = p.batchSize;
  }
}

/**
 * Applies the per-edge rules. Rule (removed ends): an edge shows only while
 * both ends are visible, so an edge added to a block another replica deleted
 * disappears with it. Rule (scope): an edge joins two blocks with the same
 * parent, or a container and its direct child; concurrent reparenting can
 * break this, and such an edge is hidden until it holds again.
 */
function edgeAllowed(views: Record<string, BlockView>, blocks: Map<string, BlockAcc>, e: Edge): boolean {
  if (e.source === e.target) return false;
  if (views[e.source] === undefined || views[e.target] === undefined) return false;
  const ps = blocks.get(e.source)!.parent;
  const pt = blocks.get(e.target)!.parent;
  return ps === pt || ps === e.target || pt === e.source;
}

/**
 * Drops, from edges sorted oldest first, every edge that closes a cycle with
 * older ones. Rule (cycles): concurrent edge adds can close a cycle that
 * neither replica saw; each cycle is broken at its newest edge (greatest
 * hybrid time, then id). Only edges inside a strongly connected component
 * can lie on a cycle, so the common acyclic case costs one linear pass.
 */
export function breakCycles(edges: Edge[]): Edge[] {
  const index = new Map<string, number>();
  const node = (id: string): number => {
    let i = index.get(id);
    if (i === undefined) {
      i = index.size;
      index.set(id, i);
    }
    return i;
  };
  const src = edges.map((e) => node(e.source));
  const dst = edges.map((e) => node(e.target));
  const comp = sccs(index.size, src, dst);
  // Edges inside a component; components of one node have none (self-loops
  // were dropped earlier).
  const inside = edges.map((_, i) => comp[src[i]] === comp[dst[i]]);
  if (!inside.includes(true)) return edges;
  // Greedy, oldest first, over the edges inside components.
  const adj = new Map<number, number[]>();
  const out: Edge[] = [];
  edges.forEach((e, i) => {
    if (inside[i]) {
      if (reaches(adj, dst[i], src[i])) return;
      let l = adj.get(src[i]);
      if (l === undefined) adj.set(src[i], (l = []));
      l.push(dst[i]);
    }
    out.push(e);
  });
  return out;
}

/** Reports whether to is reachable from from in adj. */
function reaches(adj: Map<number, number[]>, from: number, to: number): boolean {
  const seen = new Set<number>([from]);
  const stack = [from];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n === to) return true;
    for (const m of adj.get(n) ?? []) {
      if (!seen.has(m)) {
        seen.add(m);
        stack.push(m);
      }
    }
  }
  return false;
}

/**
 * Labels each node with its strongly connected component (Tarjan's
 * algorithm, iterative so deep graphs cannot overflow the stack).
 */
function sccs(n: number, src: number[], dst: number[]): number[] {
  const adj: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < src.length; i++) adj[src[i]].push(dst[i]);
  const index = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const comp = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  let next = 0;
  let ncomp = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] >= 0) continue;
    const call: { v: number; edge: number }[] = [{ v: root, edge: 0 }];
    index[root] = low[root] = next++;
    stack.push(root);
    onStack[root] = true;
    while (call.length > 0) {
      const f = call[call.length - 1];
      if (f.edge < adj[f.v].length) {
        const w = adj[f.v][f.edge++];
        if (index[w] < 0) {
          index[w] = low[w] = next++;
          stack.push(w);
          onStack[w] = true;
          call.push({ v: w, edge: 0 });
        } else if (onStack[w]) {
          low[f.v] = Math.min(low[f.v], index[w]);
        }
        continue;
      }
      const v = f.v;
      call.pop();
      if (call.length > 0) {
        const u = call[call.length - 1].v;
        low[u] = Math.min(low[u], low[v]);
      }
      if (low[v] === index[v]) {
        for (;;) {
          const w = stack.pop()!;
          onStack[w] = false;
          comp[w] = ncomp;
          if (w === v) break;
        }
        ncomp++;
      }
    }
  }
  return comp;
}
