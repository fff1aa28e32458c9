// Port of crdt/workflow/protect.go: the protection rules exported for the
// server-side check of raw deltas and for the view.

import type { Doc, Value } from './doc';
import type { Edge } from './fields';
import { asBool, asEdge, asString } from './fields';
import { isLocked } from './state';
import { effectiveParent, protected_ } from './tree';

/**
 * Reports whether block id is protected in doc: locked, or under a locked
 * effective ancestor container, the rule of the replaced system. Operations skip or refuse
 * protected blocks on their own; the server uses this to check raw deltas,
 * which carry no operation, against the same rule. An unknown block is not
 * protected. (Go's exported Protected; the unexported protected of state.go
 * is the same walk over any Reader.)
 */
export function isProtected(doc: Doc, id: string): boolean {
  return protected_(doc, id);
}

/**
 * Block id's effective parent in doc, the container the view shows it in
 * ('' at the top level): the stored parentId unless the orphan or the
 * move-cycle rule applies (tree.ts). Walking it up from any block ends at the
 * top level; there is no depth cap. (Go's exported Parent.)
 */
export function parent(doc: Doc, id: string): string {
  return effectiveParent(doc, id);
}

/** Reports whether block id's own locked field is set in doc (ignoring its ancestors). */
export function locked(doc: Doc, id: string): boolean {
  return isLocked(doc, id);
}

/**
 * Decodes the value of a KindEdge entry: the edge's endpoints. A value of
 * another shape (a raw delta may carry anything) gives the zero Edge, as on
 * every replica.
 */
export function edgeOf(v: Value): Edge {
  return asEdge(v);
}

/** Decodes a boolean field value; def for an absent value or one of another shape. */
export function boolOf(v: Value, def: boolean): boolean {
  return asBool(v, def);
}

/** Decodes a string field value (parentId, say); "" for an absent value or another shape. */
export function stringOf(v: Value): string {
  return asString(v);
}
