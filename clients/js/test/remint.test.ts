// Port of crdt/workflow/remint_test.go: a reminted edit is the same edit by
// another replica; and writesSince carries a replica's own unsent writes.

import { describe, expect, it } from 'vitest';
import { Context, type Range } from '../src/crdt/context';
import { Clock } from '../src/crdt/hlc';
import { MaxCounter } from '../src/crdt/dot';
import { Doc } from '../src/workflow/doc';
import { isError } from '../src/workflow/errors';
import { apply, type Op } from '../src/workflow/builder';
import { FieldPosition } from '../src/workflow/fields';
import { RemoveBlock, ToggleEnabled, UpdateName, UpdatePosition } from '../src/workflow/ops_block';
import { BatchAddBlocks } from '../src/workflow/ops_blocks';
import { AddEdge } from '../src/workflow/ops_edge';
import { rank, remint } from '../src/workflow/remint';
import { writesSince } from '../src/workflow/writes_since';
import { fieldKey } from '../src/workflow/state';
import { buildView } from '../src/workflow/view';
import { viewToJSON } from '../src/workflow/json';

/** One replica's document and clock; replicas share a wall so that their writes are ordered as issued. */
class ReplicaDoc {
  readonly d = new Doc();
  private readonly clock: Clock;
  constructor(
    readonly id: string,
    private readonly wall: { ms: number },
  ) {
    this.clock = new Clock(id);
  }

  apply(op: Op): Doc {
    return this.applyMinted(op)[0];
  }

  /** applyMinted applies op and also returns the dots it minted (a delta's context also covers older dots). */
  applyMinted(op: Op): [Doc, Range] {
    this.wall.ms += 10;
    const before = this.d.context().max(this.id);
    const delta = apply(this.d, this.clock.now(this.wall.ms), op);
    return [delta, { lo: before + 1, hi: delta.context().max(this.id) }];
  }
}

const addAgent = (id: string, name: string) => new BatchAddBlocks({ blocks: [{ id, type: 'agent', name, position: { x: 1, y: 2 } }] });

function mergeAll(ds: Doc[]): Doc {
  const out = new Doc();
  for (const d of ds) out.merge(d);
  return out;
}

const viewJSON = (d: Doc) => viewToJSON(buildView(d));

describe('remint', () => {
  it('keeps the edit under a new replica', () => {
    const wall = { ms: 1000 };
    const a = new ReplicaDoc('a', wall);
    const b = new ReplicaDoc('b', wall);
    const base = [a.apply(addAgent('a1', 'First')), b.apply(addAgent('b1', 'Other'))];
    a.d.merge(base[1]);
    b.d.merge(base[0]);
    // Unsent edits of a: one overwrites b's field, one removes b's block
    // after renaming it, one adds a block and an edge.
    const which = new Context();
    const unsent: Doc[] = [];
    for (const op of [
      new UpdateName({ id: 'b1', newName: 'Renamed' }),
      new UpdatePosition({ id: 'a1', position: { x: 9, y: 9 } }),
      addAgent('a2', 'Second'),
      new AddEdge({ edge: { id: 'e1', source: 'a1', target: 'a2' } }),
      new RemoveBlock({ id: 'b1' }),
    ]) {
      const [d, minted] = a.applyMinted(op);
      unsent.push(d);
      which.addRange('a', minted);
    }
    const doc = remint(a.d, 'a', 'fresh', which, 1);
    const reminted = unsent.map((d) => remint(d, 'a', 'fresh', which, 1));
    // Reminting commutes with merging: the reminted document is the base
    // plus the reminted deltas.
    expect(doc.equal(mergeAll([...base, ...reminted]))).toBe(true);
    expect(viewJSON(doc)).toEqual(viewJSON(a.d));
    for (const rg of doc.context().ranges('a')) {
      for (let c = rg.lo; c <= rg.hi; c++) expect(which.contains({ replica: 'a', counter: c }), `a:${c} survived`).toBe(false);
    }
    expect(doc.context().ranges('fresh')).toEqual([{ lo: 1, hi: which.len() }]);
    // The position update covers a1's first position, a dot of the base: it
    // is not reminted, so the reminted edit still overwrites it.
    const first = base[0].store().get(fieldKey('a1', FieldPosition))[0].dot;
    expect(reminted[1].context().contains(first)).toBe(true);
    // b, which never saw the unsent edits, merges the reminted ones and
    // converges with a: the removal of b1 and the overwrite of its name
    // still cover b's dots.
    for (const d of reminted) b.d.merge(d);
    expect(viewJSON(b.d)).toEqual(viewJSON(a.d));
    expect(buildView(b.d).blocks['b1']).toBeUndefined();
  });

  it('refuses collisions and bad arguments', () => {
    const wall = { ms: 1000 };
    const a = new ReplicaDoc('a', wall);
    const d = a.apply(addAgent('a1', 'First'));
    const which = d.context().clone();
    const calls: Record<string, () => Doc> = {
      'same replica': () => remint(d, 'a', 'a', which, 1),
      'empty to': () => remint(d, 'a', '', which, 1),
      'start 0': () => remint(d, 'a', 'b', which, 0),
      'to holds dots': () => remint(a.d, 'x', 'a', which, 1),
      'past the limit': () => remint(d, 'a', 'b', which, MaxCounter),
    };
    for (const [name, call] of Object.entries(calls)) {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(isError(err, 'Invalid'), name).toBe(true);
    }
    // Counters of which that d does not hold still take their place in the
    // numbering, so two deltas reminted apart agree on every dot.
    const sparse = new Context();
    sparse.addRange('a', { lo: 1, hi: 3 });
    sparse.addRange('a', { lo: 7, hi: 8 });
    const part = new Doc();
    part.context().add({ replica: 'a', counter: 7 });
    expect(remint(part, 'a', 'b', sparse, 10).context().ranges('b')).toEqual([{ lo: 13, hi: 13 }]);
    expect(rank(sparse, 'a', 7)).toBe(3);
    expect(rank(sparse, 'a', 8)).toBe(4);
    expect(rank(sparse, 'a', 1)).toBe(0);
  });

  it('commutes with merge (seeded)', () => {
    // A small PCG-free generator: the Go test's seeds do not carry over, the property does.
    let state = 42;
    const rnd = (n: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    for (let i = 0; i < 30; i++) {
      const wall = { ms: 1000 };
      const a = new ReplicaDoc('a', wall);
      const deltas: Doc[] = [];
      const minted: Range[] = [];
      let ids: string[] = [];
      for (let n = 0; n < 40; n++) {
        let op: Op;
        const k = rnd(4);
        if (ids.length === 0 || k === 0) {
          const id = `b${n}`;
          ids.push(id);
          op = addAgent(id, `Name ${id}`);
        } else if (k === 1) {
          op = new UpdatePosition({ id: ids[rnd(ids.length)], position: { x: n, y: 1 } });
        } else if (k === 2) {
          op = new ToggleEnabled({ id: ids[rnd(ids.length)] });
        } else {
          const j = rnd(ids.length);
          op = new RemoveBlock({ id: ids[j] });
          ids = [...ids.slice(0, j), ...ids.slice(j + 1)];
        }
        const [d, m] = a.applyMinted(op);
        deltas.push(d);
        minted.push(m);
      }
      const cut = rnd(deltas.length);
      const which = new Context();
      for (const m of minted.slice(cut)) which.addRange('a', m);
      const doc = remint(a.d, 'a', 'z', which, 1);
      const parts = [...deltas.slice(0, cut), ...deltas.slice(cut).map((d) => remint(d, 'a', 'z', which, 1))];
      expect(doc.equal(mergeAll(parts)), `case ${i}`).toBe(true);
      expect(viewJSON(doc), `case ${i}`).toEqual(viewJSON(a.d));
    }
  });
});

// Port of TestWritesSince: a replica's own unsent writes, overwrites and
// removals included, and nothing else; skip leaves out what is sent another way.
describe('writesSince', () => {
  it('carries own writes and removals, never other replicas\' values', () => {
    const wall = { ms: 1000 };
    const a = new ReplicaDoc('a', wall);
    const b = new ReplicaDoc('b', wall);
    const server = new Doc();
    for (const d of [a.apply(addAgent('a1', 'First')), b.apply(addAgent('b1', 'Other')), b.apply(addAgent('b2', 'Gone'))]) server.merge(d);
    a.d.merge(server);
    b.d.merge(server);
    expect(writesSince(a.d, 'a', server.context()).isEmpty()).toBe(true);
    // Offline, a renames b's block and removes another of b's; b makes a
    // write a has merged but the server lacks (a lost relay).
    const lost = b.apply(new UpdatePosition({ id: 'b1', position: { x: 5, y: 5 } }));
    a.d.merge(lost);
    const rename = a.apply(new UpdateName({ id: 'b1', newName: 'Renamed' }));
    const remove = a.apply(new RemoveBlock({ id: 'b2' }));
    const add = a.apply(addAgent('a2', 'Second'));

    let w = writesSince(a.d, 'a', server.context());
    const lostDot = { replica: 'b', counter: lost.context().max('b') };
    expect(w.context().contains(lostDot)).toBe(false);
    w.store().dots((d) => expect(d.replica).toBe('a'));
    // b's lost write arrives from its author: then the server is where a is.
    const got = server.clone();
    got.merge(w);
    expect(got.store().has(lostDot)).toBe(false);
    got.merge(lost);
    const want = server.clone();
    for (const d of [lost, rename, remove, add]) want.merge(d);
    expect(got.equal(want)).toBe(true);
    expect(got.equal(a.d)).toBe(true);

    // Skip the removal (sent another way, or refused): b2 stays, the rest arrives.
    w = writesSince(a.d, 'a', server.context(), remove.context());
    const g2 = server.clone();
    g2.merge(w);
    const v = buildView(g2);
    expect(v.blocks['b2']).toBeDefined();
    expect(v.blocks['b1'].name).toBe('Renamed');
    expect(v.blocks['a2']).toBeDefined();
    const all = new Context();
    for (const d of [rename, remove, add]) all.merge(d.context());
    expect(writesSince(a.d, 'a', server.context(), all).isEmpty()).toBe(true);
  });
});
