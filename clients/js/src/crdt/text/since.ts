// Catch-up deltas: what a replica lacks, given the inserts it has seen.

import type { Context } from '../context';
import type { Dot } from '../dot';
import { advance, lastDot, noDot, sameDotOrNone, type Dead, type Delta, type Run } from './delta';
import { none, type Ids } from './ids';
import type { Span, Tree, TreeNode } from './tree';

/**
 * What a replica that has seen the inserts in have (undefined: nothing)
 * lacks: the runs of every item not in have, in document order, and dead,
 * every deleted dot.
 */
export function deltaSince(tree: Tree, ids: Ids, dead: Dead[], have?: Context): Delta {
  const runs: Run[] = [];
  walk(tree, (s) => {
    const replica = ids.replicas[ids.repAt(s.lv)];
    const c = ids.counterAt(s.lv);
    const hi = c + s.n - 1;
    const known = have ? have.ranges(replica) : [];
    let i = 0; // the first known range ending at or after c
    let hiIdx = known.length;
    while (i < hiIdx) {
      const m = (i + hiIdx) >>> 1;
      if (known[m].hi >= c) hiIdx = m;
      else i = m + 1;
    }
    const content = s.text;
    let off = 0;
    for (let lo = c; lo <= hi; ) {
      let end = hi;
      if (i < known.length && known[i].lo <= hi) {
        if (known[i].lo <= lo) {
          const skip = Math.min(known[i].hi, hi) - lo + 1;
          off = advance(content, off, skip);
          lo += skip;
          i++;
          continue;
        }
        end = known[i].lo - 1;
      }
      const r: Run = {
        id: { replica, counter: lo },
        len: end - lo + 1,
        text: '',
        left: lo === c ? dotOf(ids, s.left) : { replica, counter: lo - 1 },
        right: dotOf(ids, s.right),
      };
      if (!s.dead) {
        const next = advance(content, off, end - lo + 1);
        r.text = content.slice(off, next);
        off = next;
      }
      appendRun(runs, r);
      lo = end + 1;
    }
  });
  return { runs, deleted: dead };
}

/** Calls fn for every span of tree in document order. */
export function walk(tree: Tree, fn: (s: Span) => void): void {
  for (let l: TreeNode | null = tree.first; l !== null; l = l.next) for (const s of l.spans) fn(s);
}

/** The dot of item lv, noDot for none. */
export function dotOf(ids: Ids, lv: number): Dot {
  if (lv === none) return noDot;
  return { replica: ids.replicas[ids.repAt(lv)], counter: ids.counterAt(lv) };
}

/** Adds r to runs, folding it into the last run when it continues it. */
function appendRun(runs: Run[], r: Run): void {
  const p = runs[runs.length - 1];
  if (
    p !== undefined &&
    p.id.replica === r.id.replica &&
    p.id.counter + p.len === r.id.counter &&
    sameDotOrNone(r.left, lastDot(p)) &&
    sameDotOrNone(r.right, p.right) &&
    (p.text === '') === (r.text === '')
  ) {
    p.len += r.len;
    p.text += r.text;
    return;
  }
  runs.push(r);
}
