// The document index (src/workflow/doc_index.ts) against the whole-document
// scans it replaces, on random histories of three replicas (operations,
// merges, deltaSince catch-ups, decode round trips), as
// crdt/workflow/index_prop_test.go does in Go:
//
//   - the index a document keeps merge by merge equals the one rebuilt from
//     its store;
//   - deltaSince through the index equals the whole-store computation;
//   - every read an operation makes through the index (children, edges at a
//     block, an element's keys, names, the keys a removal covers) equals the
//     scan, with and without writes of the operation itself laid over.
//
// The seeds are printed; replay one with INDEX_SEED=N npx vitest run test/doc_index.

import { describe, expect, it } from 'vitest';
import type { Context } from '../src/crdt/context';
import { Clock } from '../src/crdt/hlc';
import { Builder, apply } from '../src/workflow/builder';
import { decode } from '../src/workflow/encode';
import { Doc, KindBlock, KindEdge, KindVariable, keyString, type Key } from '../src/workflow/doc';
import { DocIndex, entity, entityOf } from '../src/workflow/doc_index';
import { ChildFinder, EdgeFinder, entityKeysWhere } from '../src/workflow/doc_index_reads';
import { FieldName, FieldParentID, asEdge, edgeValue, stringValue } from '../src/workflow/fields';
import { blockNames, keysWhere, liveIDs, removeBlocks } from '../src/workflow/ops_common';
import { renamedBy, type Renamed } from '../src/workflow/names';
import { parseOp } from '../src/workflow/parse';
import { normalizeName, edgeKey, fieldKey } from '../src/workflow/state';
import { treeOf } from '../src/workflow/tree';
import { compareStrings } from '../src/workflow/util';

/** mulberry32, as in ts_vectors.test.ts. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const blockIds = ['b0', 'b1', 'b2', 'b3', 'b4', 'l0', 'l1', 'p0'];
const containers = ['l0', 'l1', 'p0'];
const edgeIds = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5'];
const names = ['Alpha', 'alpha', 'Beta', 'Gamma', 'Agent 1', 'agent1', 'Loop'];

type Wire = [string, string, Record<string, unknown>];

function typeOf(id: string): string {
  if (id.startsWith('l')) return 'loop';
  if (id.startsWith('p')) return 'parallel';
  return id === 'b4' ? 'note' : 'agent';
}

function randomOp(rnd: (n: number) => number, n: number): Wire {
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)];
  const fresh = `n${n}`;
  switch (rnd(16)) {
    case 0:
    case 1: {
      const blocks = [];
      for (let i = 0, m = 1 + rnd(3); i < m; i++) {
        const id = pick(blockIds);
        const b: Record<string, unknown> = { id, type: typeOf(id), name: `${pick(names)} ${id}`, position: { x: rnd(100), y: 0 } };
        if (rnd(2) === 0) b.data = { parentId: pick(containers) };
        blocks.push(b);
      }
      return ['batch-add-blocks', 'blocks', { blocks }];
    }
    case 2:
      return ['update-name', 'block', { id: pick(blockIds), name: pick(names) }];
    case 3:
      return ['update-parent', 'block', { id: pick(blockIds), parentId: rnd(4) === 0 ? null : pick(containers) }];
    case 4:
      return ['batch-update-parent', 'blocks', { updates: [{ id: pick(blockIds), parentId: pick(containers) }, { id: pick(blockIds), parentId: null }] }];
    case 5:
      return ['batch-remove-blocks', 'blocks', { ids: [pick(blockIds)] }];
    case 6:
    case 7:
      return ['add', 'edge', { id: pick(edgeIds), source: pick(blockIds), target: pick(blockIds) }];
    case 8:
      return ['batch-add-edges', 'edges', { edges: [{ id: pick(edgeIds), source: pick(blockIds), target: pick(blockIds) }, { id: pick(edgeIds), source: pick(blockIds), target: pick(blockIds) }] }];
    case 9:
      return ['remove', 'edge', { id: pick(edgeIds) }];
    case 10:
      return ['duplicate', 'block', { sourceId: pick(blockIds), id: fresh }];
    case 11:
      return ['duplicate-with-children', 'subflow', { sourceId: pick(containers), id: `${fresh}c`, idMap: Object.fromEntries([...blockIds, ...edgeIds].map((x) => [x, `${x}-${fresh}`])) }];
    case 12:
      return ['batch-toggle-locked', 'blocks', { blockIds: [pick(blockIds)] }];
    case 13:
      return rnd(2) === 0 ? ['add', 'variable', { id: pick(['v0', 'v1']), name: 'x', type: 'string' }] : ['remove', 'variable', { variableId: pick(['v0', 'v1']) }];
    case 14:
      return ['replace-canonical-modes', 'block', { id: pick(blockIds), data: { canonicalModes: rnd(2) === 0 ? { a: 'basic' } : { b: 'advanced' } } }];
    default:
      return ['subblock-update', 'subblock', { blockId: pick(blockIds), subblockId: pick(['s0', 's1']), value: rnd(10) }];
  }
}

/** What an index says, in a form toEqual compares: counters the store no longer holds are dropped (they are removed lazily). */
function snapshot(x: DocIndex, doc: Doc): unknown {
  const p = x as unknown as {
    keys: Map<string, Key[]>;
    children: Map<string, Set<string>>;
    names: Map<string, Set<string>>;
    edgesAt: Map<string, Set<string>>;
    shared: number;
    dots: Map<string, { cs: number[] }>;
    removed: Context;
  };
  const sets = (m: Map<string, Iterable<string>>) =>
    Object.fromEntries([...m].sort((a, b) => compareStrings(a[0], b[0])).map(([k, s]) => [k, [...s].sort(compareStrings)]));
  const dots = Object.fromEntries(
    [...p.dots]
      .map(([r, c]) => [r, c.cs.filter((n) => doc.store().has({ replica: r, counter: n }))] as const)
      .filter(([, cs]) => cs.length > 0)
      .sort((a, b) => compareStrings(a[0], b[0])),
  );
  const removed = Object.fromEntries(p.removed.replicas().map((r) => [r, p.removed.ranges(r).map((g) => [g.lo, g.hi])]));
  return { keys: sets(new Map([...p.keys].map(([e, ks]) => [e, ks.map(keyString)]))), children: sets(p.children), names: sets(p.names), edgesAt: sets(p.edgesAt), shared: p.shared, dots, removed };
}

/** deltaSince as it was computed before the index: a scan of the whole store. */
function sinceByScan(doc: Doc, have: Context): Doc {
  const [st, ctx] = doc.store().since(doc.context(), have);
  return new Doc(ctx, st);
}

/** A builder on doc with a few writes of its own, as an operation midway. */
function midway(doc: Doc, rnd: (n: number) => number, replica: string): Builder {
  const b = new Builder(doc, new Clock(replica).now(9_000_000), doc.context().max(replica) + 1);
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)];
  for (let i = 0, m = rnd(4); i < m; i++) {
    switch (rnd(4)) {
      case 0:
        b.put(fieldKey(pick(blockIds), FieldParentID), stringValue(pick(containers)));
        break;
      case 1: {
        const id = pick(edgeIds);
        b.put(edgeKey(id), edgeValue({ id, source: pick(blockIds), target: pick(blockIds), sourceHandle: '', targetHandle: '', type: '' }));
        break;
      }
      case 2:
        b.put(fieldKey(pick(blockIds), FieldName), stringValue(pick(names)));
        break;
      default:
        b.remove(fieldKey(pick(blockIds), FieldParentID));
    }
  }
  return b;
}

/** How often the histories reached what the checks are about, so a generator that stops reaching it fails. */
const reached = { renamed: 0, accepted: 0, children: 0, edges: 0, shared: 0, removed: 0, midwayWrites: 0 };

/** Every read through the index equals the scan, on b's view of its document. */
function checkReads(b: Builder, where: string): void {
  if (!b.delta.isEmpty()) reached.midwayWrites++;
  const live = liveIDs(b, KindBlock);
  const t = treeOf(b);
  const kids = new ChildFinder(b);
  for (const p of [...blockIds, 'nope']) {
    const want = live.filter((id) => t.parentOf(id) === p);
    expect(kids.children(p), `${where}: children of ${p}`).toEqual(want);
    if (want.length > 0) reached.children++;
  }
  const edges = liveIDs(b, KindEdge).map((id) => ({ ...asEdge(b.get(edgeKey(id))), id }));
  const f = new EdgeFinder(b);
  for (const id of blockIds) {
    const got: string[] = [];
    f.at(id, (e) => got.push(JSON.stringify(e)));
    const want = edges.filter((e) => e.source === id || e.target === id).map((e) => JSON.stringify(e));
    expect(got.sort(), `${where}: edges at ${id}`).toEqual(want.sort());
    if (want.length > 0) reached.edges++;
  }
  for (const ent of [...blockIds.map((id) => entity(KindBlock, id)), ...edgeIds.map((id) => entity(KindEdge, id)), entity(KindVariable, 'v0')]) {
    const want = keysWhere(b, (k) => entityOf(k) === ent);
    const got = entityKeysWhereAll(b, ent);
    expect(got, `${where}: keys of ${ent}`).toEqual(want);
  }
  if (b.delta.isEmpty()) {
    // The whole map, as blockNames computed it before the index.
    const full = forcedFullNames(b);
    if ((b.doc.index() as unknown as { shared: number }).shared > 0) reached.shared++;
    const ns = blockNames(b);
    for (const r of ['r0', 'r1', 'r2']) {
      const want = forcedRenamedBy(b.doc, r);
      expect(renamedBy(b.doc, r), `${where}: renamedBy ${r}`).toEqual(want);
      if (want.length > 0) reached.renamed++;
    }
    for (const n of [...names.map(normalizeName), ...blockIds.map((id) => normalizeName(`x ${id}`)), 'nothing']) {
      expect(ns.get(n), `${where}: name ${n}`).toBe(full.get(n));
    }
  }
  // The keys a removal covers: through the index and by the scan.
  const victims = blockIds.filter((_, i) => (i + live.length) % 3 === 0);
  const viaIndex = new Builder(b.doc, b.ts, b.next);
  const viaScan = new Builder(b.doc, b.ts, b.next);
  removeBlocks(viaIndex, victims);
  if (!viaIndex.delta.isEmpty()) reached.removed++;
  const set = new Set(victims);
  const covers = (k: Key): boolean => {
    if (k.kind === KindEdge) {
      const w = viaScan.rawWinner(k);
      if (w === undefined) return false;
      const e = asEdge(w.value.value);
      return set.has(e.source) || set.has(e.target);
    }
    return entityOf(k) === entity(KindBlock, k.id) && set.has(k.id);
  };
  for (const k of keysWhere(viaScan, covers)) {
    viaScan.remove(k);
  }
  expect(Buffer.from(viaIndex.delta.encode()).toString('hex'), `${where}: removal of ${victims}`).toBe(Buffer.from(viaScan.delta.encode()).toString('hex'));
}

/** An element's keys through the index (doc_index_reads.ts), accepting every key. */
function entityKeysWhereAll(b: Builder, ent: string): Key[] {
  return entityKeysWhere(b, ent, () => true);
}

/** renamedBy's whole computation, whatever the index says. */
function forcedRenamedBy(doc: Doc, replica: string): Renamed[] {
  const x = doc.index() as unknown as { shared: number };
  const saved = x.shared;
  x.shared = 1;
  try {
    return renamedBy(doc, replica);
  } finally {
    x.shared = saved;
  }
}

/** blockNames' whole computation, whatever the index says. */
function forcedFullNames(b: Builder): Map<string, string> {
  const names = new Map<string, string>();
  const x = b.doc.index() as unknown as { shared: number };
  const saved = x.shared;
  x.shared = 1; // makes blockNames take the whole-document path
  try {
    const ns = blockNames(b);
    for (const n of [...(ns as unknown as { full: Map<string, string> }).full.keys()]) names.set(n, ns.get(n)!);
  } finally {
    x.shared = saved;
  }
  return names;
}

function run(seed: number, steps: number): void {
  const rnd = prng(seed);
  const replicas = ['r0', 'r1', 'r2'];
  const docs = replicas.map(() => new Doc());
  const clocks = replicas.map((r) => new Clock(r));
  let wall = 1_000;
  // A shared start holding every block of the pool, some nested, so that
  // most operations find what they name.
  const start = blockIds.map((id, i) => ({
    id,
    type: typeOf(id),
    name: `Start ${id}`,
    position: { x: i, y: 0 },
    ...(id === 'b1' ? { data: { parentId: 'l0' } } : id === 'l1' ? { data: { parentId: 'p0' } } : {}),
  }));
  apply(docs[0], clocks[0].now(wall), parseOp('batch-add-blocks', 'blocks', { blocks: start }));
  for (const d of docs.slice(1)) d.merge(docs[0].clone());
  for (let step = 0; step < steps; step++) {
    const i = rnd(replicas.length);
    const where = `seed ${seed} step ${step} r${i}`;
    const a = rnd(10);
    if (a < 6) {
      const [name, target, payload] = randomOp(rnd, step);
      wall += 10;
      try {
        apply(docs[i], clocks[i].now(wall), parseOp(name, target, payload));
        reached.accepted++;
      } catch (e) {
        if (typeof (e as { code?: unknown }).code !== 'string') throw e;
      }
    } else if (a < 8) {
      const j = rnd(replicas.length);
      const have = docs[i].context().clone();
      const got = docs[j].deltaSince(have);
      const want = sinceByScan(docs[j], have);
      expect(got.equal(want), `${where}: deltaSince r${j} through the index`).toBe(true);
      expect(Buffer.from(got.encode()).toString('hex'), where).toBe(Buffer.from(want.encode()).toString('hex'));
      docs[i].merge(got);
    } else if (a < 9) {
      docs[i].merge(docs[rnd(replicas.length)].clone());
    } else {
      docs[i] = decode(docs[i].encode()); // drops the index: the next read rebuilds it
    }
    const d = docs[i];
    expect(snapshot(d.index(), d), `${where}: index kept by merge`).toEqual(snapshot(DocIndex.build(d.store().clone(), d.context().clone()), d));
    checkReads(new Builder(d, new Clock(replicas[i]).now(9_000_000), d.context().max(replicas[i]) + 1), `${where} (no writes)`);
    checkReads(midway(d, rnd, replicas[i]), `${where} (midway)`);
  }
}

describe('document index', () => {
  const given = process.env.INDEX_SEED;
  const seeds = given !== undefined ? [Number(given)] : [1, 2, 3, 4, 5, 6, (Date.now() % 1_000_000) + 7];
  for (const seed of seeds) {
    it(`matches the whole-document scans (seed ${seed})`, () => {
      console.log(`doc_index: seed ${seed} (replay with INDEX_SEED=${seed})`);
      run(seed, 150);
    });
  }
  it('reached what it checks', () => {
    console.log('doc_index: reached', reached);
    for (const [what, n] of Object.entries(reached)) expect(n, what).toBeGreaterThan(given !== undefined ? 0 : 20);
  });
});
