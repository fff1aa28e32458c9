// Port of crdt/workflow/ops_edge.go: edge operations and the validation
// pipeline every edge add goes through.

import type { Builder, Op } from './builder';
import { EdgeFinder } from './doc_index_reads';
import { isError, WorkflowError } from './errors';
import { FieldTriggerMode, asBool, asEdge, edgeValue, type Edge } from './fields';
import { checkID } from './ops_common';
import { TypeNote, TypeStarter, blockExists, blockType, canonicalHandle, edgeKey, fieldKey } from './state';
import { protected_, treeOf } from './tree';
import { errorf, q } from './util';

/**
 * An edge as the reference sends it. Handles may be empty or use the legacy
 * side-anchored ids; they are canonicalized on add. Absent handles and type
 * are "".
 */
export interface EdgeInput {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string;
  targetHandle?: string;
  type?: string;
}

/** Returns the stored form of an edge input, handles canonicalized. */
export function edgeOfInput(inp: EdgeInput): Edge {
  return {
    id: inp.id ?? '',
    source: inp.source ?? '',
    sourceHandle: canonicalHandle(inp.sourceHandle ?? ''),
    target: inp.target ?? '',
    targetHandle: canonicalHandle(inp.targetHandle ?? ''),
    type: inp.type ?? '',
  };
}

/** What makes two edges duplicates: same ends, same handles (an unambiguous string). */
export function sigOf(e: Edge): string {
  return JSON.stringify([e.source, e.sourceHandle, e.target, e.targetHandle]);
}

/**
 * The validation pipeline every edge add goes through. It reads the present
 * edges at the blocks it asks about (EdgeFinder) and tracks the ones it
 * admits, so a batch is checked incrementally: each edge against the
 * document plus the batch's earlier edges.
 */
export class EdgeChecker {
  private readonly edges: EdgeFinder;

  constructor(private readonly b: Builder) {
    this.edges = new EdgeFinder(b);
  }

  /** Reports whether a present edge has e's ends and handles. */
  private duplicates(e: Edge): boolean {
    const sig = sigOf(e);
    let dup = false;
    this.edges.at(e.source, (o) => {
      dup = dup || sigOf(o) === sig;
    });
    return dup;
  }

  /**
   * Validates inp and writes it. The checks run in the reference's order;
   * each failure is EdgeRejected with the reason, except Invalid for a
   * malformed edge, UnknownBlock for a missing end and Exists for an id
   * already present.
   */
  admit(inp: EdgeInput): void {
    const e = edgeOfInput(inp);
    checkID('edge', e.id);
    this.check(e);
    this.b.put(edgeKey(e.id), edgeValue(e));
    this.edges.note(e.id, e);
  }

  private check(e: Edge): void {
    const b = this.b;
    for (const end of [e.source, e.target]) {
      if (end === '' || !blockExists(b, end)) {
        throw errorf('UnknownBlock', `edge ${q(e.id)}: end ${q(end)}`);
      }
    }
    const reject = (reason: string): WorkflowError => errorf('EdgeRejected', `edge ${q(e.id)}: ${reason}`);
    if (protected_(b, e.target)) {
      throw reject(`target ${q(e.target)} is locked`);
    }
    if (blockType(b, e.source) === TypeNote || blockType(b, e.target) === TypeNote) {
      throw reject('notes take no edges');
    }
    if (asBool(b.get(fieldKey(e.target, FieldTriggerMode)), false) || blockType(b, e.target) === TypeStarter) {
      throw reject(`target ${q(e.target)} is a trigger`);
    }
    const t = treeOf(b);
    const ps = t.parentOf(e.source);
    const pt = t.parentOf(e.target);
    if (ps !== pt && ps !== e.target && pt !== e.source) {
      throw reject('crosses a container boundary');
    }
    if (e.source === e.target) {
      throw reject('self-loop');
    }
    if (this.duplicates(e)) {
      throw reject('duplicates an existing edge');
    }
    if (b.has(edgeKey(e.id))) {
      throw errorf('Exists', `edge ${q(e.id)}`);
    }
    if (this.reaches(e.target, e.source)) {
      throw reject('closes a cycle');
    }
  }

  /** Reports whether to is reachable from from along the known edges. */
  private reaches(from: string, to: string): boolean {
    const seen = new Set<string>([from]);
    const stack = [from];
    while (stack.length > 0) {
      const n = stack.pop() as string;
      if (n === to) return true;
      this.edges.at(n, (e) => {
        const m = e.target;
        if (e.source === n && !seen.has(m)) {
          seen.add(m);
          stack.push(m);
        }
      });
    }
    return false;
  }
}

export function newEdgeChecker(b: Builder): EdgeChecker {
  return new EdgeChecker(b);
}

/** "add" on target edge: adds one edge through the validation pipeline (see EdgeChecker.admit). */
export class AddEdge implements Op {
  readonly edge: EdgeInput;
  constructor(init: { edge: EdgeInput }) {
    this.edge = init.edge;
  }
  name(): string {
    return 'add';
  }
  prepare(b: Builder): void {
    newEdgeChecker(b).admit(this.edge);
  }
}

/** "batch-add-edges": adds edges through the pipeline, all or nothing. */
export class BatchAddEdges implements Op {
  readonly edges: EdgeInput[];
  constructor(init: { edges?: EdgeInput[] } = {}) {
    this.edges = init.edges ?? [];
  }
  name(): string {
    return 'batch-add-edges';
  }
  prepare(b: Builder): void {
    const c = newEdgeChecker(b);
    for (const e of this.edges) c.admit(e);
  }
}

/** "remove" on target edge: removes an edge. It fails with UnknownEdge, or Locked when the edge's target is protected. */
export class RemoveEdge implements Op {
  readonly id: string;
  constructor(init: { id?: string } = {}) {
    this.id = init.id ?? '';
  }
  name(): string {
    return 'remove';
  }
  prepare(b: Builder): void {
    checkID('edge', this.id);
    const err = removableEdge(b, this.id);
    if (err !== undefined) throw err;
    b.remove(edgeKey(this.id));
  }
}

/** Returns why edge id may not be removed (unknown, or its target protected); undefined if it may. */
export function removableEdge(b: Builder, id: string): WorkflowError | undefined {
  if (!b.has(edgeKey(id))) {
    return errorf('UnknownEdge', `edge ${q(id)}`);
  }
  const t = asEdge(b.get(edgeKey(id))).target;
  if (protected_(b, t)) {
    return errorf('Locked', `edge ${q(id)}: target ${q(t)}`);
  }
  return undefined;
}

/**
 * "batch-remove-edges": removes edges; unknown ids and edges with a
 * protected target are skipped. If nothing is removed it fails with Locked
 * (some were protected) or NoEffect.
 */
export class BatchRemoveEdges implements Op {
  readonly ids: string[];
  constructor(init: { ids?: string[] } = {}) {
    this.ids = init.ids ?? [];
  }
  name(): string {
    return 'batch-remove-edges';
  }
  prepare(b: Builder): void {
    let removed = 0;
    let locked = 0;
    for (const id of this.ids) {
      const err = removableEdge(b, id);
      if (err !== undefined) {
        if (isError(err, 'Locked')) locked++;
        continue;
      }
      b.remove(edgeKey(id));
      removed++;
    }
    if (removed > 0) return;
    if (locked > 0) {
      throw errorf('Locked', 'batch-remove-edges: every edge has a locked target or is unknown');
    }
    throw errorf('NoEffect', 'batch-remove-edges: no known edge');
  }
}
