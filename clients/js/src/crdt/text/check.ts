// The checks a delta passes against a replica before it is merged: runs
// well formed, no overlap, origins known or in the delta, no cycle, and the
// order to integrate the runs in.

import { Context } from '../context';
import { checkRun, covers, dotStr, isNoDot, Plan, type Delta, type Run } from './delta';
import { TextError } from './errors';
import { maxItems, type Ids } from './ids';

/** Validates d against a replica's ids without changing either; returns the integration order. */
export function checkDelta(ids: Ids, d: Delta): Plan {
  const runs = d.runs;
  for (const r of runs) checkRun(r);
  const dead = needsDead(d);
  const p = new Plan(runs);
  const ov = p.overlap();
  if (ov) throw new TextError('Overlap', `runs of one delta overlap: ${dotStr(runs[ov[0]].id)} and ${dotStr(runs[ov[1]].id)}`);
  const deps: [number, number][] = [];
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i];
    const dep: [number, number] = [-1, -1];
    [r.left, r.right].forEach((o, k) => {
      if (isNoDot(o)) return;
      const j = p.find(o);
      if (j === i) throw new TextError('OriginCycle', `origins of the delta's runs form a cycle: run ${dotStr(r.id)} has an origin inside itself`);
      if (j >= 0) dep[k] = j;
      else if (!ids.knows(o.replica, o.counter)) {
        throw new TextError('MissingOrigin', `origin is neither known nor in the delta: ${dotStr(o)} (run ${dotStr(r.id)})`);
      }
    });
    deps.push(dep);
    if (r.text === '' && !covers(dead, r.id.replica, r.id.counter, r.id.counter + r.len - 1)) {
      throw new TextError('NoContent', `run without content is not deleted: run ${dotStr(r.id)}`);
    }
  }
  // Depth-first, iteratively: a hostile delta could chain a million runs.
  const state = new Uint8Array(runs.length); // 0 unseen, 1 active, 2 done
  const order: number[] = [];
  const stack: number[] = [];
  for (const i of p.sorted) {
    if (state[i] !== 0) continue;
    stack.length = 0;
    stack.push(i);
    state[i] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      let pushed = false;
      for (const dep of deps[top]) {
        if (dep < 0) continue;
        if (state[dep] === 1) throw new TextError('OriginCycle', `origins of the delta's runs form a cycle: through run ${dotStr(runs[dep].id)}`);
        if (state[dep] === 0) {
          state[dep] = 1;
          stack.push(dep);
          pushed = true;
          break;
        }
      }
      if (!pushed) {
        stack.pop();
        state[top] = 2;
        order.push(top);
      }
    }
  }
  p.order = order;
  return p;
}

/** Validates a delta of one run, the common case, without a plan. */
export function checkOneRun(ids: Ids, d: Delta): void {
  const r = d.runs[0];
  checkRun(r);
  const last = r.id.counter + r.len - 1;
  for (const o of [r.left, r.right]) {
    if (isNoDot(o)) continue;
    if (o.replica === r.id.replica && o.counter >= r.id.counter && o.counter <= last) {
      throw new TextError('OriginCycle', `origins of the delta's runs form a cycle: run ${dotStr(r.id)} has an origin inside itself`);
    }
    if (!ids.knows(o.replica, o.counter)) {
      throw new TextError('MissingOrigin', `origin is neither known nor in the delta: ${dotStr(o)} (run ${dotStr(r.id)})`);
    }
  }
  if (r.text === '' && !covers(needsDead(d), r.id.replica, r.id.counter, last)) {
    throw new TextError('NoContent', `run without content is not deleted: run ${dotStr(r.id)}`);
  }
}

/** The deleted ranges as a context if a run without content needs them. */
export function needsDead(d: Delta): Context | undefined {
  for (const r of d.runs) {
    if (r.text === '') {
      const c = new Context();
      for (const x of d.deleted) c.addRange(x.replica, { lo: x.lo, hi: x.hi });
      return c;
    }
  }
  return undefined;
}

export function runItems(runs: readonly Run[]): number {
  let n = 0;
  for (const r of runs) if ((n += r.len) > maxItems) return maxItems + 1;
  return n;
}
