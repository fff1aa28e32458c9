// What a document that embeds texts needs of a text beyond editing it: the
// pieces of a run it does not hold yet, cutting runs, copies. (Go: plan.go's
// Knows, Unknown, CutRun, Clone, NumSpans.)

import type { Dot } from '../dot';
import { advance, isNoDot, lastDot, type Run } from './delta';
import { Text } from './text';

/** Reports whether t holds item d (noDot, the start or end, always). (Go: Text.Knows.) */
export function knowsDot(t: Text, d: Dot): boolean {
  return isNoDot(d) || t.knows(d.replica, d.counter, d.counter);
}

/** The items lo..hi (counters within r) of r as a run of their own. (Go: CutRun.) */
export function cutRun(r: Run, lo: number, hi: number): Run {
  const left = lo > r.id.counter ? { replica: r.id.replica, counter: lo - 1 } : r.left;
  let text = '';
  if (r.text !== '') {
    const from = advance(r.text, 0, lo - r.id.counter);
    text = r.text.slice(from, advance(r.text, from, hi - lo + 1));
  }
  return { id: { replica: r.id.replica, counter: lo }, len: hi - lo + 1, text, left, right: r.right };
}

/**
 * The pieces of r whose items t does not hold, each a run of its own (a
 * piece after the first takes the item before it as its left origin, as
 * every item of a run does). (Go: Text.Unknown.)
 */
export function unknownPieces(t: Text, r: Run): Run[] {
  if (t.ids.repOf(r.id.replica) < 0) return [r];
  const out: Run[] = [];
  const hi = lastDot(r).counter;
  for (let c = r.id.counter; c <= hi; ) {
    const k = t.ids.knownFrom(r.id.replica, c);
    if (k === undefined || k.lo > hi) {
      out.push(cutRun(r, c, hi));
      break;
    }
    if (k.lo > c) out.push(cutRun(r, c, k.lo - 1));
    if (k.hi >= hi) break;
    c = k.hi + 1;
  }
  return out;
}

/** An independent copy of t. (Go: Text.Clone.) */
export function cloneText(t: Text): Text {
  const c = new Text();
  c.merge(t.deltaSince());
  return c;
}

/** How many pieces t's items are held in: at least the runs of t.deltaSince(). (Go: Text.NumSpans.) */
export function numSpans(t: Text): number {
  let n = 0;
  t.walk(() => n++);
  return n;
}
