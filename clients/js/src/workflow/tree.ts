// Port of crdt/workflow/tree.go: the container tree. Every operation, every
// check and the view read a block's parent through Tree.parentOf, so what an
// operation does to "a container and its children" is exactly what the view
// shows as that container and its children.
//
// The stored parentId pointers form a functional graph (one parent at most
// each), so each connected part holds at most one cycle. The effective parent
// of a block is its stored parent, except:
//
//   - Rule (orphans): the stored parent is not a live block, or not a loop or
//     parallel container, or the pointer was written before the parent's
//     winning add. The block is top-level: a block moved into, or
//     added to, a container another replica removed concurrently stays
//     visible with its values and its name.
//   - Rule (move cycles): the block's pointer is the newest (hybrid time,
//     then dot, then block id) of the pointers on a cycle. The block is
//     top-level; every other block on the cycle keeps its stored parent.
//
// Both rules are local: a walk up the stored pointers, O(depth + cycle
// length), with no depth cap; a Tree memoizes what its walks learn.

import { stamp } from '../crdt/register';
import { FieldParentID, asString } from './fields';
import { predates } from './incarnation';
import { blockExists, blockKey, blockType, fieldKey, isContainer, isLocked, type Reader } from './state';
import { compareStrings } from './util';

/**
 * Orders entries for the tie-breaks of the tree and the view: hybrid time
 * (wall, logical, the writer's replica), then dot (replica, counter). It is
 * also last-writer-wins's order (crdt.Winner).
 */
export interface Stamp {
  wall: number;
  logical: number;
  replica: string;
  counter: number;
}

export const zeroStamp: Stamp = { wall: 0, logical: 0, replica: '', counter: 0 };

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareStamps(s: Stamp, o: Stamp): number {
  // The timestamp's replica is the dot's replica (Register.Stamp), so
  // comparing it once covers both Timestamp.Compare's tie-break and the
  // dot's.
  return (
    compareNumbers(s.wall, o.wall) ||
    compareNumbers(s.logical, o.logical) ||
    compareStrings(s.replica, o.replica) ||
    compareNumbers(s.counter, o.counter)
  );
}

/** A stored parent pointer as the tree reads it. */
export interface Link {
  parent: string;
  at: Stamp;
}

/**
 * Reads stored parent pointers: undefined when the block has none or the
 * orphan rule makes it top-level.
 */
export interface ParentLinks {
  link(id: string): Link | undefined;
}

interface Step {
  id: string;
  parent: string;
  at: Stamp;
}

/**
 * Resolves effective parents, memoizing each walk. It reads a fixed state:
 * make a new one after writing a parentId or a block's membership.
 */
export class Tree {
  private readonly parent = new Map<string, string>();

  constructor(private readonly links: ParentLinks) {}

  /** The effective parent of block id, '' at the top level. */
  parentOf(id: string): string {
    let p = this.parent.get(id);
    if (p === undefined) {
      this.resolve(id);
      p = this.parent.get(id)!;
    }
    return p;
  }

  /** Reports whether anc is id or one of its effective ancestors. */
  contains(anc: string, id: string): boolean {
    for (let p = id; p !== ''; p = this.parentOf(p)) if (p === anc) return true;
    return false;
  }

  /** Reports whether id or an effective ancestor is locked. */
  protected(r: Reader, id: string): boolean {
    for (let p = id; p !== ''; p = this.parentOf(p)) if (isLocked(r, p)) return true;
    return false;
  }

  private resolve(id: string): void {
    const path: Step[] = [];
    const index = new Map<string, number>();
    let cycle = -1;
    for (let cur = id; ; ) {
      if (this.parent.has(cur)) break;
      const i = index.get(cur);
      if (i !== undefined) {
        cycle = i;
        break;
      }
      const l = this.links.link(cur);
      index.set(cur, path.length);
      path.push({ id: cur, parent: l?.parent ?? '', at: l?.at ?? zeroStamp });
      if (l === undefined) break;
      cur = l.parent;
    }
    if (cycle >= 0) {
      let cut = cycle;
      for (let i = cycle + 1; i < path.length; i++) {
        const c = compareStamps(path[i].at, path[cut].at);
        if (c > 0 || (c === 0 && compareStrings(path[i].id, path[cut].id) > 0)) cut = i;
      }
      path[cut].parent = '';
    }
    for (const s of path) this.parent.set(s.id, s.parent);
  }
}

/** The stored pointers of a document or an operation's view of it. */
export class ReaderLinks implements ParentLinks {
  constructor(private readonly r: Reader) {}

  link(id: string): Link | undefined {
    const w = this.r.winner(fieldKey(id, FieldParentID));
    if (w === undefined) return undefined;
    const p = asString(w.value.value);
    if (p === '' || !blockExists(this.r, p) || !isContainer(blockType(this.r, p))) return undefined;
    // A pointer written before p's winning add joined an earlier or a losing
    // record of p (incarnation.ts).
    const inc = this.r.winner(blockKey(p));
    if (inc !== undefined && predates(w, stamp(inc.value, inc.dot))) return undefined;
    return {
      parent: p,
      at: { wall: w.value.wall, logical: w.value.logical, replica: w.dot.replica, counter: w.dot.counter },
    };
  }
}

/** The tree of what r reads. */
export function treeOf(r: Reader): Tree {
  return new Tree(new ReaderLinks(r));
}

/** Block id's effective parent in r, '' at the top level. */
export function effectiveParent(r: Reader, id: string): string {
  return treeOf(r).parentOf(id);
}

/**
 * Reports whether a block is locked or sits under a locked effective
 * ancestor: the containers the view shows it in.
 */
export function protected_(r: Reader, id: string): boolean {
  return treeOf(r).protected(r, id);
}
// `protected` is a reserved word in strict mode, so it cannot name a
// function; it is exported under its Go name by alias.
export { protected_ as protected };

/**
 * The blocks whose stored pointer would close a cycle through id if id now
 * pointed at parent: the walk up the stored pointers from parent reaches id
 * only through a cycle's cut block. Without clearing those pointers the
 * cycle rule would cut id's new pointer, the newest on the cycle, and undo
 * the move.
 */
export function staleCut(r: Reader, t: Tree, id: string, parent: string): string[] {
  const links = new ReaderLinks(r);
  const seen = new Set<string>();
  const cuts: string[] = [];
  for (let cur = parent; !seen.has(cur); ) {
    seen.add(cur);
    if (cur === id) return cuts;
    const l = links.link(cur);
    if (l === undefined) return [];
    if (t.parentOf(cur) !== l.parent) cuts.push(cur);
    cur = l.parent;
  }
  return [];
}
