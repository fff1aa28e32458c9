// Unit and property tests of the crdt port (src/crdt), after crdt/*_test.go.
// Random tests use a seeded generator and name the seed in every failure, so
// a failure is reproducible by running that seed alone.

import { describe, expect, it } from 'vitest';
import { Context, type Range } from '../src/crdt/context';
import { compareDots, compareStrings, MaxCounter, type Dot } from '../src/crdt/dot';
import { DotMap, type Dotted } from '../src/crdt/dotmap';
import { Clock, compareTimestamps, MaxLogical, MaxWall, type Timestamp } from '../src/crdt/hlc';
import { LWWMap } from '../src/crdt/lww';
import { ORSet } from '../src/crdt/orset';
import { winner } from '../src/crdt/register';

/** mulberry32: a small seeded PRNG, so random tests are reproducible. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    bool: () => next() < 0.5,
  };
}

const seeds = Array.from({ length: 25 }, (_, i) => 1000 + i);
const testReplicas = ['a', 'b', 'c'];

/** The naive model of a causal context: a set of "replica:counter". */
type DotSet = Set<string>;
const dk = (d: Dot) => `${d.replica}:${d.counter}`;

function dotsOf(c: Context): DotSet {
  const s: DotSet = new Set();
  for (const r of c.replicas()) {
    for (const rg of c.ranges(r)) for (let n = rg.lo; n <= rg.hi; n++) s.add(dk({ replica: r, counter: n }));
  }
  return s;
}

/** Ranges must be sorted, disjoint and non-adjacent, with 1 ≤ lo ≤ hi. */
function checkInvariants(c: Context, where: string): void {
  for (const r of c.replicas()) {
    const rs = c.ranges(r);
    rs.forEach((rg, i) => {
      if (!(rg.lo >= 1 && rg.lo <= rg.hi)) throw new Error(`${where}: replica ${r} range ${i} invalid: ${JSON.stringify(rs)}`);
      if (i > 0 && rg.lo - 1 <= rs[i - 1].hi) throw new Error(`${where}: replica ${r} ranges touch: ${JSON.stringify(rs)}`);
    });
  }
}

function sameSet(a: DotSet, b: DotSet): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

describe('Context', () => {
  it('behaves like a set of dots (model test)', () => {
    for (const seed of seeds) {
      const g = rng(seed);
      const counter = () => (g.int(0, 5) === 5 ? MaxCounter - g.int(0, 10) : g.int(1, 40));
      const ctxs = [new Context(), new Context()];
      const models: DotSet[] = [new Set(), new Set()];
      const steps = g.int(1, 60);
      for (let step = 0; step < steps; step++) {
        const where = `seed ${seed} step ${step}`;
        const i = g.int(0, 1);
        const c = ctxs[i];
        const m = models[i];
        switch (g.int(0, 3)) {
          case 0: {
            const d = { replica: g.pick(testReplicas), counter: counter() };
            c.add(d);
            m.add(dk(d));
            break;
          }
          case 1: {
            const replica = g.pick(testReplicas);
            let r: Range;
            if (g.int(0, 9) === 0) r = { lo: g.int(0, 3), hi: g.int(0, 2) }; // often invalid: ignored
            else {
              const lo = counter();
              r = { lo, hi: Math.min(MaxCounter, lo + g.int(0, 8)) };
            }
            c.addRange(replica, r);
            if (r.lo >= 1 && r.lo <= r.hi) for (let n = r.lo; n <= r.hi; n++) m.add(dk({ replica, counter: n }));
            break;
          }
          case 2:
            c.merge(ctxs[1 - i]);
            for (const x of models[1 - i]) m.add(x);
            break;
          case 3:
            ctxs[i] = ctxs[1 - i].clone();
            models[i] = new Set(models[1 - i]);
            break;
        }
        for (let j = 0; j < 2; j++) {
          const cj = ctxs[j];
          const mj = models[j];
          checkInvariants(cj, where);
          expect(sameSet(dotsOf(cj), mj), `${where}: contents`).toBe(true);
          expect(cj.len(), `${where}: len`).toBe(mj.size);
          expect(cj.isEmpty(), where).toBe(mj.size === 0);
          for (const r of testReplicas) {
            let max = 0;
            for (const x of mj) if (x.startsWith(`${r}:`)) max = Math.max(max, Number(x.slice(2)));
            let prefix = 0;
            while (mj.has(`${r}:${prefix + 1}`)) prefix++;
            expect(cj.max(r), `${where}: max(${r})`).toBe(max);
            expect(cj.prefix(r), `${where}: prefix(${r})`).toBe(prefix);
          }
          for (let k = 0; k < 10; k++) {
            const d = { replica: g.pick(testReplicas), counter: counter() };
            expect(cj.contains(d), `${where}: contains ${dk(d)}`).toBe(mj.has(dk(d)));
          }
          const seen: DotSet = new Set();
          cj.forEach((d) => {
            seen.add(dk(d));
            return true;
          });
          expect(sameSet(seen, mj), `${where}: forEach`).toBe(true);
        }
        const [a, b] = ctxs;
        const [ma, mb] = models;
        const subset = (x: DotSet, y: DotSet) => [...x].every((d) => y.has(d));
        expect(a.covers(b), `${where}: covers`).toBe(subset(mb, ma));
        expect(b.covers(a), `${where}: covers`).toBe(subset(ma, mb));
        expect(a.equal(b), `${where}: equal`).toBe(sameSet(ma, mb));
        const miss = a.missing(b);
        checkInvariants(miss, where);
        expect(sameSet(dotsOf(miss), new Set([...ma].filter((d) => !mb.has(d)))), `${where}: missing`).toBe(true);
        // withoutCounters removes a sorted subset of the dots.
        const remove = new Map<string, number[]>();
        const want = new Set(ma);
        for (const x of ma) {
          if (g.bool()) {
            const [r, n] = [x.slice(0, 1), Number(x.slice(2))];
            remove.set(r, [...(remove.get(r) ?? []), n]);
            want.delete(x);
          }
        }
        for (const cs of remove.values()) cs.sort((p, q) => p - q);
        const before = a.clone();
        const w = a.withoutCounters(remove);
        checkInvariants(w, where);
        expect(sameSet(dotsOf(w), want), `${where}: withoutCounters`).toBe(true);
        expect(a.equal(before), `${where}: withoutCounters changed its receiver`).toBe(true);
      }
    }
  });

  it('compacts counters added in any order into one range per replica', () => {
    for (const seed of seeds.slice(0, 5)) {
      const g = rng(seed);
      const items: Dot[] = [];
      for (const r of testReplicas) for (let k = 1; k <= 300; k++) items.push({ replica: r, counter: k });
      for (let i = items.length - 1; i > 0; i--) {
        const j = g.int(0, i);
        [items[i], items[j]] = [items[j], items[i]];
      }
      const c = new Context();
      for (const it of items) {
        if (g.int(0, 3) === 0) c.addRange(it.replica, { lo: it.counter, hi: it.counter + g.int(0, 2) });
        else c.add(it);
      }
      checkInvariants(c, `seed ${seed}`);
      for (const r of testReplicas) {
        const rs = c.ranges(r);
        expect(rs.length, `seed ${seed}`).toBe(1);
        expect(rs[0].lo).toBe(1);
        expect(rs[0].hi).toBeGreaterThanOrEqual(300);
      }
    }
  });

  it('handles ranges at the top of the counter space', () => {
    const c = new Context();
    c.addRange('x', { lo: MaxCounter - 2, hi: MaxCounter });
    c.add({ replica: 'x', counter: MaxCounter - 3 });
    expect(c.ranges('x')).toEqual([{ lo: MaxCounter - 3, hi: MaxCounter }]);
    expect(c.contains({ replica: 'x', counter: MaxCounter })).toBe(true);
    expect(c.max('x')).toBe(MaxCounter);
    expect(c.prefix('x')).toBe(0);
    c.addRange('x', { lo: 1, hi: MaxCounter });
    expect(c.ranges('x')).toEqual([{ lo: 1, hi: MaxCounter }]);
    expect(c.len()).toBe(MaxCounter);
  });

  it('ignores invalid ranges, as Go does, and refuses counters a number cannot hold', () => {
    const c = new Context();
    c.addRange('a', { lo: 0, hi: 5 });
    c.addRange('a', { lo: 4, hi: 3 });
    expect(c.isEmpty()).toBe(true);
    expect(c.replicas()).toEqual([]);
    expect(() => c.add({ replica: 'a', counter: 1.5 })).toThrow(RangeError);
    expect(() => c.addRange('a', { lo: 1, hi: MaxCounter + 1 })).toThrow(RangeError);
    expect(c.isEmpty()).toBe(true);
  });

  it('lists replicas in UTF-8 byte order, not UTF-16 order', () => {
    const c = new Context();
    for (const r of ['\u{1D49C}', '\uFF5A', 'é', 'Z', 'a']) c.add({ replica: r, counter: 1 });
    // U+FF5A (EF BD 9A) sorts before U+1D49C (F0 9D 92 9C) bytewise; UTF-16
    // puts the surrogate pair D835 first.
    expect(c.replicas()).toEqual(['Z', 'a', 'é', '\uFF5A', '\u{1D49C}']);
  });
});

describe('compareStrings', () => {
  it('orders like UTF-8 bytes', () => {
    const words = ['', 'a', 'ab', 'b', 'é', '\u00ff', '\u0800', '\uD7FF', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}', '\u{10FFFF}', 'a\u{1F600}', 'a\uFF21'];
    const enc = new TextEncoder();
    const byBytes = (x: string, y: string) => Buffer.compare(Buffer.from(enc.encode(x)), Buffer.from(enc.encode(y)));
    for (const x of words) for (const y of words) expect(Math.sign(compareStrings(x, y)), `${x} vs ${y}`).toBe(byBytes(x, y));
    expect(compareDots({ replica: 'a', counter: 2 }, { replica: 'a', counter: 10 })).toBe(-1);
    expect(compareDots({ replica: '\uFF21', counter: 9 }, { replica: '\u{1F600}', counter: 1 })).toBe(-1);
  });
});

describe('Clock', () => {
  it('never runs backwards, and readings follow what it observed', () => {
    for (const seed of seeds) {
      const g = rng(seed);
      const c = new Clock('a');
      let prev: Timestamp = { wall: 0, logical: 0, replica: '' };
      for (let i = 0; i < 200; i++) {
        let ts: Timestamp;
        if (g.bool()) {
          const remote = { wall: g.int(0, 2000), logical: g.pick([0, 1, 7, MaxLogical - 1, MaxLogical]), replica: g.pick(['a', 'b', 'z']) };
          c.observe(remote, g.int(0, 2000));
          expect(compareTimestamps(c.last(), remote), `seed ${seed}: last after observe`).toBe(1);
          ts = c.last();
        } else {
          ts = c.now(g.int(0, 2000));
          expect(ts.replica).toBe('a');
        }
        expect(compareTimestamps(ts, prev), `seed ${seed} reading ${i}`).toBe(1);
        prev = ts;
      }
    }
  });

  it('ticks the logical counter while the wall clock lags', () => {
    const c = new Clock('a');
    const first = c.now(1000);
    const second = c.now(500);
    const third = c.now(500);
    expect(second).toEqual({ wall: 1000, logical: 1, replica: 'a' });
    expect(third).toEqual({ wall: 1000, logical: 2, replica: 'a' });
    expect(compareTimestamps(first, second)).toBe(-1);
    expect(c.now(2000)).toEqual({ wall: 2000, logical: 0, replica: 'a' });
  });

  it('moves past a remote timestamp', () => {
    const c = new Clock('a');
    c.now(100);
    c.observe({ wall: 5000, logical: 3, replica: 'b' }, 200);
    expect(c.last()).toEqual({ wall: 5000, logical: 4, replica: 'a' });
    expect(c.now(200)).toEqual({ wall: 5000, logical: 5, replica: 'a' });
    c.observe({ wall: 5000, logical: 9, replica: 'b' }, 200);
    expect(c.now(6000)).toEqual({ wall: 6000, logical: 0, replica: 'a' });
  });

  it('borrows a millisecond when the logical counter overflows', () => {
    const c = new Clock('a');
    c.observe({ wall: 1000, logical: MaxLogical, replica: 'b' }, 0);
    expect(c.last()).toEqual({ wall: 1001, logical: 0, replica: 'a' });
  });

  it('refuses wall times that are not integer milliseconds', () => {
    const c = new Clock('a');
    expect(() => c.now(1.5)).toThrow(RangeError);
    expect(() => c.observe({ wall: 2 ** 60, logical: 0, replica: 'b' }, 1)).toThrow(RangeError);
    expect(c.last()).toEqual({ wall: 0, logical: 0, replica: '' });
  });

  it('reports the zero timestamp before the first reading', () => {
    const c = new Clock('r');
    expect(c.last()).toEqual({ wall: 0, logical: 0, replica: '' });
    expect(c.replica()).toBe('r');
  });

  it('orders timestamps totally, ties broken by replica bytewise', () => {
    const ts: Timestamp[] = [];
    for (const wall of [0, 1, 2]) for (const logical of [0, 1]) for (const replica of ['', 'a', 'b', '\uFF21', '\u{1F600}']) ts.push({ wall, logical, replica });
    for (const x of ts) {
      expect(compareTimestamps(x, x)).toBe(0);
      for (const y of ts) {
        expect(compareTimestamps(x, y) + compareTimestamps(y, x)).toBe(0);
        for (const z of ts) {
          if (compareTimestamps(x, y) < 0 && compareTimestamps(y, z) < 0) expect(compareTimestamps(x, z)).toBe(-1);
        }
      }
    }
    expect(compareTimestamps({ wall: 1, logical: 0, replica: '\uFF21' }, { wall: 1, logical: 0, replica: '\u{1F600}' })).toBe(-1);
  });
});

/** A lattice adapter, as laws_prop_test.go has. */
interface Lattice<S> {
  name: string;
  empty(): S;
  join(dst: S, src: S): void;
  clone(s: S): S;
  context(s: S): Context;
  since(s: S, have: Context): S;
  entries(s: S): Map<string, string>;
  read(s: S): string;
  mutate(g: ReturnType<typeof rng>, s: S, r: string, clk: Clock): S | undefined;
}

const testKeys = ['k0', 'k1', 'k2', 'k3'];

function storeEntries<V>(m: DotMap<string, V>): Map<string, string> {
  const out = new Map<string, string>();
  m.range((k, es) => {
    for (const e of es) {
      if (out.has(dk(e.dot))) throw new Error(`dot ${dk(e.dot)} stored twice`);
      out.set(dk(e.dot), `${k}=${JSON.stringify(e.value)}`);
    }
    return true;
  });
  return out;
}

const lwwLattice: Lattice<LWWMap<string, number>> = {
  name: 'LWWMap',
  empty: () => new LWWMap<string, number>(),
  join: (dst, src) => dst.join(src),
  clone: (s) => s.clone(),
  context: (s) => s.context(),
  since: (s, have) => s.deltaSince(have),
  entries: (s) => storeEntries(s.store()),
  read: (s) => testKeys.map((k) => `${k}=${s.get(k)}`).join(' '),
  mutate: (g, s, r, clk) => {
    const k = g.pick(testKeys);
    if (g.int(0, 3) === 0) return s.delete(k, r);
    // A small wall range makes equal (wall, logical) across replicas common,
    // so ties broken by replica id get exercised.
    return s.set(k, g.int(0, 9), clk.now(g.int(0, 6)));
  },
};

const orsetLattice: Lattice<ORSet<string>> = {
  name: 'ORSet',
  empty: () => new ORSet<string>(),
  join: (dst, src) => dst.join(src),
  clone: (s) => s.clone(),
  context: (s) => s.context(),
  since: (s, have) => s.deltaSince(have),
  entries: (s) => storeEntries(s.store()),
  read: (s) => testKeys.map((k) => `${k}:${s.contains(k)}`).join(' '),
  mutate: (g, s, r) => {
    const e = g.pick(testKeys);
    if (g.int(0, 2) === 0) return s.remove(e, r);
    return s.add(e, r);
  },
};

function checkLaws<S>(l: Lattice<S>): void {
  for (const seed of seeds) {
    const g = rng(seed);
    // Three replicas edit and exchange deltas at random.
    const states = testReplicas.map(() => l.empty());
    const clocks = testReplicas.map((r) => new Clock(r));
    const deltas: S[] = [];
    for (let step = 0; step < 30; step++) {
      const i = g.int(0, 2);
      if (g.int(0, 3) === 0) {
        l.join(states[i], l.clone(states[g.int(0, 2)]));
        continue;
      }
      const d = l.mutate(g, states[i], testReplicas[i], clocks[i]);
      if (d !== undefined) deltas.push(d);
    }
    const where = `${l.name} seed ${seed}`;
    const same = (a: S, b: S, what: string) => {
      expect(l.context(a).equal(l.context(b)), `${where}: ${what}: contexts`).toBe(true);
      expect([...l.entries(a)].sort(), `${where}: ${what}: stores`).toEqual([...l.entries(b)].sort());
      expect(l.read(a), `${where}: ${what}: reads`).toBe(l.read(b));
    };
    const joined = (a: S, b: S) => {
      const out = l.clone(a);
      l.join(out, b);
      return out;
    };
    const [a, b, c] = states;
    same(joined(a, b), joined(b, a), 'commutative');
    same(joined(joined(a, b), c), joined(a, joined(b, c)), 'associative');
    same(joined(a, a), a, 'idempotent');
    same(joined(joined(a, b), b), joined(a, b), 'idempotent with b');
    // deltaSince: joining b's delta since a's context into a equals a ⊔ b.
    same(joined(a, l.since(b, l.context(a))), joined(a, b), 'deltaSince');
    same(joined(a, l.since(b, new Context())), joined(a, b), 'deltaSince from empty');
    // Every delta, joined in any order, reaches the join of all states.
    const all = l.empty();
    for (const d of [...deltas].reverse()) l.join(all, d);
    same(all, joined(joined(a, b), c), 'deltas in reverse');
  }
}

describe('lattice laws', () => {
  it('LWWMap: join is commutative, associative, idempotent; deltaSince is exact', () => checkLaws(lwwLattice));
  it('ORSet: join is commutative, associative, idempotent; deltaSince is exact', () => checkLaws(orsetLattice));
});

describe('ORSet', () => {
  it('keeps an add concurrent with a remove (add wins)', () => {
    const a = new ORSet<string>();
    a.add('x', 'a');
    const b = a.clone();
    const rm = a.remove('x', 'a')!;
    const add = b.add('x', 'b');
    a.join(add);
    b.join(rm);
    expect(a.contains('x')).toBe(true);
    expect(b.contains('x')).toBe(true);
    // The remove covered the first add only: one dot remains.
    expect(a.len()).toBe(1);
    expect(a.remove('missing', 'a')).toBeUndefined();
  });

  it('removes what it observed', () => {
    const a = new ORSet<string>();
    const d1 = a.add('x', 'a');
    const b = new ORSet<string>();
    b.join(d1);
    b.join(a.remove('x', 'a')!);
    expect(b.contains('x')).toBe(false);
    expect(b.context().max('a')).toBe(2);
  });
});

describe('LWWMap', () => {
  it('breaks a tie of wall and logical time by replica id', () => {
    const base = new LWWMap<string, string>();
    const a = base.clone();
    const b = base.clone();
    const da = a.set('k', 'from a', { wall: 10, logical: 0, replica: 'a' });
    const db = b.set('k', 'from b', { wall: 10, logical: 0, replica: 'b' });
    a.join(db);
    b.join(da);
    expect(a.get('k')).toBe('from b');
    expect(b.get('k')).toBe('from b');
    expect(a.store().get('k').length).toBe(2);
  });

  it('folds concurrent values into one on the next write, so overwrites do not pile up', () => {
    const m = new LWWMap<string, number>();
    for (let i = 0; i < 100; i++) m.set('k', i, { wall: i, logical: 0, replica: 'a' });
    expect(m.store().numDots()).toBe(1);
    expect(m.get('k')).toBe(99);
    expect(m.context().ranges('a')).toEqual([{ lo: 1, hi: 100 }]);
    const del = m.delete('k', 'a')!;
    expect(m.has('k')).toBe(false);
    expect(del.context().ranges('a')).toEqual([{ lo: 100, hi: 101 }]);
    expect(m.delete('k', 'a')).toBeUndefined();
  });

  it('a concurrent set survives a delete', () => {
    const a = new LWWMap<string, number>();
    a.set('k', 1, { wall: 1, logical: 0, replica: 'a' });
    const b = a.clone();
    const del = a.delete('k', 'a')!;
    const set = b.set('k', 2, { wall: 0, logical: 0, replica: 'b' });
    a.join(set);
    b.join(del);
    expect(a.get('k')).toBe(2);
    expect(b.get('k')).toBe(2);
  });
});

describe('DotMap and winner', () => {
  it('keeps one value per dot and tracks keys by keyOf', () => {
    const m = new DotMap<{ id: string }, number>((k) => k.id);
    expect(m.put({ id: 'x' }, { replica: 'a', counter: 1 }, 1)).toBe(true);
    expect(m.put({ id: 'y' }, { replica: 'a', counter: 1 }, 2)).toBe(false);
    expect(m.put({ id: 'x' }, { replica: 'b', counter: 1 }, 3)).toBe(true);
    expect(m.get({ id: 'x' }).map((e) => e.value)).toEqual([1, 3]);
    expect(m.len()).toBe(1);
    expect(m.numDots()).toBe(2);
    expect(m.keyOfDot({ replica: 'b', counter: 1 })).toEqual({ id: 'x' });
    expect(m.has({ replica: 'c', counter: 1 })).toBe(false);
    const dots: string[] = [];
    m.dots((d) => dots.push(dk(d)));
    expect(dots.sort()).toEqual(['a:1', 'b:1']);
  });

  it('join removes what the other side saw and lacks, and keeps what it never saw', () => {
    const m = new DotMap<string, string>();
    const mc = new Context();
    for (let i = 1; i <= 3; i++) {
      m.put(`k${i}`, { replica: 'a', counter: i }, `v${i}`);
      mc.add({ replica: 'a', counter: i });
    }
    const o = new DotMap<string, string>();
    const oc = new Context();
    oc.addRange('a', { lo: 1, hi: 2 }); // saw a:1 and a:2, holds neither
    o.put('k4', { replica: 'b', counter: 1 }, 'v4');
    oc.add({ replica: 'b', counter: 1 });
    expect(m.join(o, mc, oc)).toBe(3);
    expect(storeEntries(m)).toEqual(new Map([['a:3', 'k3="v3"'], ['b:1', 'k4="v4"']]));
  });

  it('winner picks the greatest timestamp, then the greatest dot', () => {
    const e = (replica: string, counter: number, wall: number, logical: number): Dotted<{ wall: number; logical: number; value: string }> => ({
      dot: { replica, counter },
      value: { wall, logical, value: `${replica}${counter}` },
    });
    expect(winner([])).toBe(-1);
    expect(winner([e('a', 1, 5, 0), e('b', 1, 4, 9)])).toBe(0);
    expect(winner([e('a', 1, 5, 0), e('a', 2, 5, 1)])).toBe(1);
    expect(winner([e('b', 1, 5, 0), e('a', 2, 5, 0)])).toBe(0);
    expect(winner([e('\u{1F600}', 1, 5, 0), e('\uFF21', 2, 5, 0)])).toBe(0);
  });
});

// Regression: Observe(MaxInt64-like walls, MaxUint32) used to borrow a
// millisecond past the top of the domain (Go wrapped to MinInt64). The
// clock now saturates at (MaxWall, MaxLogical), as Go's does.
describe('Clock at the top of the wall domain', () => {
  it('saturates instead of leaving the domain', () => {
    const c = new Clock('a');
    c.observe({ wall: MaxWall, logical: MaxLogical, replica: 'b' }, 1_700_000_000_000);
    let prev = c.last();
    expect(prev.wall).toBe(MaxWall);
    expect(prev.logical).toBe(MaxLogical);
    for (const wall of [0, MaxWall, -MaxWall]) {
      const now = c.now(wall);
      expect(compareTimestamps(now, prev)).toBeGreaterThanOrEqual(0);
      expect(now.wall).toBe(MaxWall);
      prev = now;
    }
    const d = new Clock('a');
    d.observe({ wall: MaxWall - 1, logical: MaxLogical, replica: 'b' }, 0);
    expect(d.last()).toEqual({ wall: MaxWall, logical: 0, replica: 'a' });
    expect(() => new Clock('a').now(2 ** 60)).toThrow(RangeError);
  });
});

// Regression: merging a context whose ranges interleave with this one's
// coalesced them one at a time (quadratic). The result must be the single
// range of the union; Go's TestMergeInterleavedIsLinear bounds the work.
describe('Context.merge of interleaved contexts', () => {
  it('coalesces 40,000 interleaved ranges into one', () => {
    const n = 20_000;
    const even = new Context();
    const odd = new Context();
    for (let i = 1; i <= n; i++) {
      even.add({ replica: 'r', counter: 2 * i });
      odd.add({ replica: 'r', counter: 2 * i + 1 });
    }
    even.merge(odd);
    expect(even.ranges('r')).toEqual([{ lo: 2, hi: 2 * n + 1 }]);
    const a = new Context();
    a.addRange('r', { lo: 1, hi: 3 });
    a.addRange('r', { lo: 10, hi: 12 });
    const b = new Context();
    for (const lo of [5, 7, 14, 20, 30, 40]) b.addRange('r', { lo, hi: lo });
    a.merge(b);
    expect(a.ranges('r')).toEqual([
      { lo: 1, hi: 3 },
      { lo: 5, hi: 5 },
      { lo: 7, hi: 7 },
      { lo: 10, hi: 12 },
      { lo: 14, hi: 14 },
      { lo: 20, hi: 20 },
      { lo: 30, hi: 30 },
      { lo: 40, hi: 40 },
    ]);
  });
});
