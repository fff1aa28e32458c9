// Admission: what a server checks before it merges a client's text delta.

import type { Dot, ReplicaID } from '../dot';
import { advance, checkDead, dotStr, isNoDot, parentOf, Plan, sameDotOrNone, type Delta, type Run } from './delta';
import { TextError } from './errors';
import { none } from './ids';
import type { Text } from './text';

/**
 * Checks a delta a client sent as sender before t merges it: it may insert
 * only under the sender's own dots ("ForeignDot"), its origins must be known
 * or inserted by the delta ("MissingOrigin"), it may delete only items t
 * knows or the delta inserts ("UnknownDelete"), origins must be a pair
 * typing produces ("OriginOrder") and items t holds must come back with the
 * origins and text t holds ("ChangedItem"); or whatever merge would refuse
 * it with. Changes nothing. (Go: (*text.Text).Admit.)
 */
export function admit(t: Text, d: Delta, sender: ReplicaID): void {
  for (const r of d.runs) {
    if (r.id.replica !== sender) throw new TextError('ForeignDot', `delta inserts under another replica's dots: run ${dotStr(r.id)} from ${JSON.stringify(sender)}`);
  }
  checkDead(d.deleted);
  let p: Plan | undefined;
  if (d.runs.length === 1) {
    t.checkOne(d);
    const r = d.runs[0];
    sameAsKnown(t, r);
    const l = t.lvOf(r.left)!;
    const rt = t.lvOf(r.right)!;
    if (rt !== none && !t.originsOrdered(l, rt)) throw originOrder(r);
  } else {
    p = t.check(d);
    for (const r of d.runs) sameAsKnown(t, r);
    checkOrigins(t, d, p);
  }
  for (const x of d.deleted) {
    for (let lo = x.lo; lo <= x.hi; ) {
      const k = t.ids.knownFrom(x.replica, lo);
      if (k !== undefined && k.lo <= lo) {
        if (k.hi >= x.hi) break;
        lo = k.hi + 1;
        continue;
      }
      let j = -1;
      if (d.runs.length === 1) {
        const r = d.runs[0];
        if (r.id.replica === x.replica && r.id.counter <= lo && lo <= r.id.counter + r.len - 1) j = 0;
      } else {
        j = p!.find({ replica: x.replica, counter: lo });
      }
      if (j < 0) throw new TextError('UnknownDelete', `delta deletes items neither known nor in the delta: ${x.replica}:${lo}`);
      const last = d.runs[j].id.counter + d.runs[j].len - 1;
      if (last >= x.hi) break;
      lo = last + 1;
    }
  }
}

function originOrder(r: Run): TextError {
  return new TextError(
    'OriginOrder',
    `right origin is not where typing after the left origin puts it: run ${dotStr(r.id)} after ${dotStr(r.left)} cannot have ${dotStr(r.right)} as its right origin`,
  );
}

/**
 * Holds the runs of d to the origin rule before a merge: origins t holds
 * exactly, an inserted item through its parent and nearest held ancestor;
 * what that leaves open merge decides when it places the run.
 */
function checkOrigins(t: Text, d: Delta, p: Plan): void {
  const anc = new Array<number>(d.runs.length).fill(none);
  for (const i of p.order) {
    const r = d.runs[i];
    const j = isNoDot(r.left) ? -1 : p.find(r.left);
    anc[i] = j >= 0 ? anc[j] : t.lvOf(r.left)!;
  }
  const find = (o: Dot) => (isNoDot(o) ? -1 : p.find(o));
  for (const r of d.runs) {
    if (isNoDot(r.right)) continue;
    const jl = find(r.left);
    const jr = find(r.right);
    let ok = true;
    if (jl < 0 && jr < 0) {
      ok = t.originsOrdered(t.lvOf(r.left)!, t.lvOf(r.right)!);
    } else if (jr >= 0 && jl === jr) {
      ok = r.left.counter + 1 === r.right.counter;
    } else if (jr >= 0) {
      const parent = parentOf(d.runs[jr], r.right);
      const jp = isNoDot(parent) ? -1 : p.find(parent);
      if (jl < 0 && jp >= 0) ok = false;
      else if (jl < 0) ok = t.pos(t.lvOf(parent)!) <= t.pos(t.lvOf(r.left)!);
      else if (jp < 0) ok = t.pos(t.lvOf(parent)!) <= t.pos(anc[jl]);
      else if (jp === jl) ok = parent.counter <= r.left.counter;
    } else {
      const rt = t.lvOf(r.right)!;
      const k = t.pos(anc[jl]);
      ok = t.pos(t.leftOf(rt)) <= k && k < t.at(rt);
    }
    if (!ok) throw originOrder(r);
  }
}

/** Checks that the items of r that t holds have the origins r gives them and, where kept, the same text. */
function sameAsKnown(t: Text, r: Run): void {
  const rep = t.ids.repOf(r.id.replica);
  if (rep < 0) return;
  const lo = r.id.counter;
  const hi = lo + r.len - 1;
  let roff = 0;
  let rat = lo; // UTF-16 offset in r.text of counter rat
  for (let c = lo; c <= hi; ) {
    const k = t.ids.knownFrom(r.id.replica, c);
    if (k === undefined || k.lo > hi) return;
    const a = Math.max(k.lo, c);
    const b = Math.min(k.hi, hi);
    let lv = t.ids.lookupRep(rep, a);
    for (let cc = a; cc <= b; ) {
      const { leaf, idx } = t.tree.locate(lv);
      const sp = leaf.spans[idx];
      const kk = lv - sp.lv;
      const m = Math.min(sp.n - kk, b - cc + 1);
      const left = kk > 0 ? lv - 1 : sp.left;
      const want = cc > lo ? { replica: r.id.replica, counter: cc - 1 } : r.left;
      if (!sameDotOrNone(t.dotOf(left), want) || !sameDotOrNone(t.dotOf(sp.right), r.right)) {
        throw new TextError('ChangedItem', `delta gives a known item other origins or text: ${r.id.replica}:${cc} has other origins`);
      }
      if (r.text !== '' && !sp.dead) {
        roff = advance(r.text, roff, cc - rat);
        rat = cc;
        const from = advance(sp.text, 0, kk);
        const to = advance(sp.text, from, m);
        const end = advance(r.text, roff, m);
        if (sp.text.slice(from, to) !== r.text.slice(roff, end)) {
          throw new TextError('ChangedItem', `delta gives a known item other origins or text: ${r.id.replica}:${cc} has other text`);
        }
      }
      cc += m;
      lv += m;
    }
    c = b + 1;
  }
}
