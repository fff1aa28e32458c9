// Loading a stored or server-sent state straight into the tree.

import type { Limits } from '../../msgpackx/check';
import { decodeDelta, TextStateLimits } from './decode';
import { TextError } from './errors';
import { none } from './ids';
import { Text } from './text';
import { Span } from './tree';

/**
 * A new replica holding the state b (an encoded deltaSince()). It is the
 * loader for states a trusted peer wrote (what the server sends on join,
 * what this client stored): it checks everything decodeDelta checks and
 * what the tree relies on (no dot twice, every origin present, the left
 * one before its run and the right one after it), then builds the tree
 * from the runs in the order the state lists them, the order every replica
 * that merged the state computes, instead of integrating run after run.
 * It cannot tell a reordered state from a true one: a state from an
 * untrusted peer goes through decodeDelta and merge. (Go: text.Load.)
 */
export function loadState(b: Uint8Array, lim: Limits = TextStateLimits): Text {
  const d = decodeDelta(b, lim);
  const t = new Text();
  const ids = t.ids;
  const spans: Span[] = [];
  let lv = 0;
  for (const r of d.runs) {
    const rep = ids.replicaIndex(r.id.replica);
    lv = ids.addUnsorted(rep, r.id.counter, r.len);
    spans.push(new Span(lv, r.len, none, none, r.text === '', r.text));
  }
  const bad = (detail: string) => new TextError('MissingOrigin', `malformed delta: ${detail}`, true);
  if (!ids.sortCounters()) throw new TextError('Overlap', 'malformed delta: dots repeat', true);
  d.runs.forEach((r, i) => {
    const s = spans[i];
    const left = t.lvOf(r.left);
    const right = t.lvOf(r.right);
    if (left === undefined || right === undefined) throw bad(`an origin of run ${i} is missing`);
    if (left !== none && left >= s.lv) throw bad(`the left origin of run ${i} is not before it`);
    if (right !== none && right < s.lv + s.n) throw bad(`the right origin of run ${i} is not after it`);
    s.left = left;
    s.right = right;
  });
  t.tree.build(spans);
  t.merge({ runs: [], deleted: d.deleted });
  return t;
}
