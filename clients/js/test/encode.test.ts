// Tests of the workflow document codec and Doc (src/workflow/doc.ts,
// encode.ts, split.ts, errors.ts), after crdt/workflow/encode_test.go.

import { describe, expect, it } from 'vitest';
import { Context } from '../src/crdt/context';
import { MaxCounter, type Dot } from '../src/crdt/dot';
import { Writer } from '../src/msgpackx/append';
import { MsgpackError } from '../src/msgpackx/check';
import { canonical } from '../src/msgpackx/value';
import {
  Doc,
  KindBlock,
  KindBlockField,
  KindEdge,
  KindSubBlock,
  KindVariable,
  KindVariableField,
  keyString,
  maxKind,
  sameCellValue,
  type Cell,
  type Key,
  type Kind,
} from '../src/workflow/doc';
import { maxRanges } from '../src/workflow/codec';
import { decode, decodeContext, DeltaLimits, DocLimits, encodeContext, FormatVersion } from '../src/workflow/encode';
import { DecodeError, ErrorCodes, isError, WorkflowError, type AnyErrorCode } from '../src/workflow/errors';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

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
    shuffle: <T>(xs: T[]): T[] => {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [xs[i], xs[j]] = [xs[j], xs[i]];
      }
      return xs;
    },
  };
}

const seeds = Array.from({ length: 40 }, (_, i) => 7000 + i);

interface GenEntry {
  key: Key;
  dot: Dot;
  cell: Cell;
}

/** A random document as writes plus extra context ranges (for removed values). */
function genDoc(seed: number): { entries: GenEntry[]; extra: [string, number, number][] } {
  const g = rng(seed);
  const replicas = ['a', 'b', 'server-1', 'ж', '\u{1F600}', '\uFF21', '9f0c1a2e-77d4-4a55-b1f3-0c3a8f4c2e11'];
  const values: unknown[] = [null, true, 'x', 'héllo', 42, -7, 2.5, 1e18, 2n ** 60n, [1, 'a', { b: null }], { z: 1, a: [2.5] }, new Uint8Array([1, 2])];
  const used = new Set<string>();
  const entries: GenEntry[] = [];
  for (let i = g.int(0, 30); i > 0; i--) {
    const dot = { replica: g.pick(replicas), counter: g.bool() ? g.int(1, 300) : g.int(1, 2 ** 40) };
    if (used.has(`${dot.replica}:${dot.counter}`)) continue;
    used.add(`${dot.replica}:${dot.counter}`);
    const v = g.pick(values);
    const kind = g.int(1, maxKind) as Kind;
    // Membership entries have no sub: the canonical form.
    const sub = kind === KindBlock || kind === KindEdge || kind === KindVariable ? '' : g.pick(['', 'position', 'name', 'data.width', 'code', '\uFF21']);
    entries.push({
      key: { kind, id: g.pick(['', 'b1', 'b2', 'a-much-longer-block-id-0123456789', '\u{1F600}', '\uFF21']), sub },
      dot,
      cell: { wall: g.pick([0, 1, -5, 1_700_000_000_000, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, g.int(-1e9, 1e9)]), logical: g.pick([0, 1, 0xffffffff]), value: v === null ? null : canonical(v) },
    });
  }
  const extra: [string, number, number][] = [];
  for (let i = g.int(0, 6); i > 0; i--) {
    const lo = g.int(1, 2 ** 40);
    extra.push([g.pick(replicas), lo, lo + g.int(0, 1000)]);
  }
  return { entries, extra };
}

function build(spec: ReturnType<typeof genDoc>, g?: ReturnType<typeof rng>): Doc {
  const d = new Doc();
  const extra = g ? g.shuffle([...spec.extra]) : spec.extra;
  const entries = g ? g.shuffle([...spec.entries]) : spec.entries;
  for (const [r, lo, hi] of extra) d.context().addRange(r, { lo, hi });
  for (const e of entries) {
    d.context().add(e.dot);
    d.store().put(e.key, e.dot, e.cell);
  }
  return d;
}

describe('encode and decode', () => {
  it('round-trip random documents', () => {
    for (const seed of seeds) {
      const d = build(genDoc(seed));
      const enc = d.encode();
      const back = decode(enc, DocLimits);
      expect(back.equal(d), `seed ${seed}`).toBe(true);
      expect(hex(back.encode()), `seed ${seed}`).toBe(hex(enc));
    }
  });

  it('are canonical: the same state built in any order encodes to the same bytes', () => {
    for (const seed of seeds) {
      const spec = genDoc(seed);
      const want = hex(build(spec).encode());
      const g = rng(seed * 31);
      for (let k = 0; k < 3; k++) expect(hex(build(spec, g).encode()), `seed ${seed} order ${k}`).toBe(want);
    }
  });

  it('encode the empty document as 01 93 90 90 90', () => {
    expect(hex(new Doc().encode())).toBe('0193909090');
    expect(hex(encodeContext(new Context()))).toBe('0193909090');
    expect(FormatVersion).toBe(1);
  });

  it('write the documented context layout', () => {
    const c = new Context();
    c.addRange('a', { lo: 1, hi: 14 });
    c.add({ replica: 'b', counter: 3 });
    c.add({ replica: 'b', counter: 15 });
    // PROTOCOL.md §7.2: [1,14] → [1, 13]; {3},{15} → [3, 0, 10, 0].
    expect(hex(encodeContext(c))).toBe('019392a161a16292920092010d92019403000a0090');
    expect(decodeContext(encodeContext(c)).equal(c)).toBe(true);
  });

  it('treat an explicit nil value as no value', () => {
    const a = new Doc();
    const b = new Doc();
    const dot = { replica: 'a', counter: 1 };
    for (const d of [a, b]) d.context().add(dot);
    a.store().put({ kind: KindBlock, id: 'b1', sub: '' }, dot, { wall: 1, logical: 0, value: null });
    b.store().put({ kind: KindBlock, id: 'b1', sub: '' }, dot, { wall: 1, logical: 0, value: new Uint8Array([0xc0]) });
    expect(a.equal(b)).toBe(true);
    expect(hex(a.encode())).toBe(hex(b.encode()));
    expect(decode(a.encode()).store().get({ kind: KindBlock, id: 'b1', sub: '' })[0].value.value).toBeNull();
  });

  it('do not alias the input, even a Node Buffer', () => {
    const d = new Doc();
    d.context().add({ replica: 'a', counter: 1 });
    d.store().put({ kind: KindSubBlock, id: 'b', sub: 's' }, { replica: 'a', counter: 1 }, { wall: 1, logical: 0, value: canonical('abc') });
    const buf = Buffer.from(d.encode());
    const back = decode(buf);
    buf.fill(0);
    expect(hex(back.encode())).toBe(hex(d.encode()));
  });

  it('keep values as the exact bytes they arrived in', () => {
    // A position is two float64 even when integral: not canonical, embedded as is.
    const w = new Writer().arrayHeader(2).float(1).float(2);
    const pos = w.bytes();
    const d = new Doc();
    d.context().add({ replica: 'a', counter: 1 });
    d.store().put({ kind: KindBlockField, id: 'b', sub: 'position' }, { replica: 'a', counter: 1 }, { wall: 1, logical: 0, value: pos });
    const back = decode(d.encode());
    expect(hex(back.get({ kind: KindBlockField, id: 'b', sub: 'position' })!)).toBe(hex(pos));
  });
});

/** One entry of a hand-built encoding; each goes in its own group. */
interface RawEntry {
  kind: number | bigint;
  id: string;
  sub: string;
  ridx: number | bigint;
  counter: number | bigint;
  wall: number | bigint;
  logical: number | bigint;
  value: Uint8Array | null;
}

/** Writes an encoding by hand, so tests can break one rule at a time. */
function rawDoc(replicas: string[], ctx: [number | bigint, (number | bigint)[]][], entries: RawEntry[]): Uint8Array {
  const w = new Writer().byte(FormatVersion).arrayHeader(3).arrayHeader(replicas.length);
  for (const r of replicas) w.string(r);
  w.arrayHeader(ctx.length);
  for (const [ridx, nums] of ctx) {
    w.arrayHeader(2).uint(ridx).arrayHeader(nums.length);
    for (const n of nums) w.uint(n);
  }
  w.arrayHeader(entries.length);
  for (const e of entries) {
    w.arrayHeader(3).uint(e.kind).string(e.id).arrayHeader(1).arrayHeader(6).string(e.sub).uint(e.ridx).uint(e.counter).int(e.wall).uint(e.logical);
    if (e.value === null) w.nil();
    else w.raw(e.value);
  }
  return w.bytes();
}

const okEntry = (): RawEntry => ({ kind: KindBlockField, id: 'b1', sub: 'name', ridx: 0, counter: 1, wall: 5, logical: 0, value: canonical('n') });
const okCtx: [number, number[]][] = [[0, [1, 0]]];
const withEntry = (f: (e: RawEntry) => void): RawEntry => {
  const e = okEntry();
  f(e);
  return e;
};
const u64max = 2n ** 64n - 1n;

function decodeError(b: Uint8Array, lim = DocLimits): unknown {
  try {
    decode(b, lim);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('decode refuses invalid input with typed errors', () => {
  it('accepts the hand-built valid document', () => {
    const d = decode(rawDoc(['a'], okCtx, [okEntry()]), DeltaLimits);
    expect(hex(d.get({ kind: KindBlockField, id: 'b1', sub: 'name' })!)).toBe(hex(canonical('n')));
  });

  it('refuses an unknown version as FormatVersion and empty input as Malformed', () => {
    const valid = new Doc().encode();
    for (const v of [0x00, 0x02, 0xff, 0x93]) {
      const err = decodeError(new Uint8Array([v, ...valid.subarray(1)]));
      expect(err).toBeInstanceOf(DecodeError);
      expect(isError(err, 'FormatVersion'), `version 0x${v.toString(16)}`).toBe(true);
    }
    expect(isError(decodeError(new Uint8Array(0)), 'Malformed')).toBe(true);
  });

  const valid = rawDoc(['a'], okCtx, [okEntry()]);
  const bad: Record<string, [Uint8Array, AnyErrorCode?]> = {
    'dot not in context': [rawDoc(['a'], okCtx, [withEntry((e) => (e.counter = 2))])],
    'dot counter zero': [rawDoc(['a'], okCtx, [withEntry((e) => (e.counter = 0))])],
    'duplicate dot': [rawDoc(['a'], okCtx, [okEntry(), withEntry((e) => (e.sub = 'type'))])],
    'entry replica index': [rawDoc(['a'], okCtx, [withEntry((e) => (e.ridx = 1))])],
    'context replica index': [rawDoc(['a'], [[1, [1, 0]]], [])],
    'huge replica index': [rawDoc(['a'], [[2n ** 63n, [1, 0]]], [])],
    'unsorted replica table': [rawDoc(['b', 'a'], okCtx, [okEntry()])],
    'replica table sorted by UTF-16, not UTF-8': [rawDoc(['\u{1D49C}', '\uFF5A'], [[0, [1, 0]]], [])],
    'duplicate replica': [rawDoc(['a', 'a'], okCtx, [okEntry()])],
    'empty replica id': [rawDoc([''], okCtx, [])],
    'replica twice in context': [rawDoc(['a'], [[0, [1, 0]], [0, [5, 0]]], [])],
    'odd range numbers': [rawDoc(['a'], [[0, [1]]], [])],
    'no range numbers': [rawDoc(['a'], [[0, []]], [])],
    'range starting at zero (lo=0)': [rawDoc(['a'], [[0, [0, 3]]], [])],
    'range length overflows': [rawDoc(['a'], [[0, [2, u64max]]], [])],
    'gap overflows': [rawDoc(['a'], [[0, [1, 0, u64max, 0]]], [])],
    'gap wraps onto the prefix': [rawDoc(['a'], [[0, [1, u64max - 3n, u64max, 0]]], [])],
    'range beyond MaxCounter': [rawDoc(['a'], [[0, [1, MaxCounter]]], [])],
    'unknown kind 0': [rawDoc(['a'], okCtx, [withEntry((e) => (e.kind = 0))])],
    'unknown kind 9': [rawDoc(['a'], okCtx, [withEntry((e) => (e.kind = maxKind + 1))])],
    'huge kind': [rawDoc(['a'], okCtx, [withEntry((e) => (e.kind = u64max))])],
    'logical out of range': [rawDoc(['a'], okCtx, [withEntry((e) => (e.logical = 2 ** 32))])],
    'wall beyond 2^53': [rawDoc(['a'], okCtx, [withEntry((e) => (e.wall = 2n ** 60n))])],
    'invalid UTF-8 id': [
      (() => {
        const b = rawDoc(['a'], okCtx, [withEntry((e) => (e.id = 'bX'))]);
        b[b.indexOf(0x58)] = 0xff; // 'X' → 0xff
        return b;
      })(),
      'Type',
    ],
    'trailing bytes': [new Uint8Array([...valid, 0xc0]), 'Trailing'],
    truncated: [valid.subarray(0, valid.length - 1), 'Truncated'],
    'top level not an array': [new Uint8Array([FormatVersion, 0xc0]), 'Type'],
    'top level of 4': [new Uint8Array([FormatVersion, 0x94, 0x90, 0x90, 0x90, 0x90])],
    '100k nested arrays': [new Uint8Array([FormatVersion, ...new Array(100_000).fill(0x91)])],
    'ext type value': [rawDoc(['a'], okCtx, [withEntry((e) => (e.value = new Uint8Array([0xd4, 0x01, 0x02])))]), 'BadByte'],
    'array32 after version': [new Uint8Array([FormatVersion, 0xdd, 0x07, 0xff, 0xff, 0xff]), 'Truncated'],
    'bin32 in the value slot': [rawDoc(['a'], okCtx, [withEntry((e) => (e.value = new Uint8Array([0xc6, 0x07, 0xff, 0xff, 0xff])))]), 'Truncated'],
    'value nested 33 deep': [rawDoc(['a'], okCtx, [withEntry((e) => (e.value = new Uint8Array([...new Array(33).fill(0x91), 0xc0])))]), 'TooDeep'],
    'entry of 5': [
      (() => {
        const b = new Uint8Array(valid);
        b[b.indexOf(0x96)] = 0x95;
        return b;
      })(),
    ],
  };
  for (const [name, [input, cause]] of Object.entries(bad)) {
    it(`refuses ${name}`, () => {
      const err = decodeError(input);
      expect(err, 'decode accepted it').toBeInstanceOf(DecodeError);
      expect(isError(err, 'Malformed')).toBe(true);
      if (cause !== undefined) {
        expect(isError(err, cause), `wraps ${cause}: ${(err as Error).message}`).toBe(true);
        expect((err as DecodeError).cause).toBeInstanceOf(MsgpackError);
      }
    });
  }

  /** Writes an encoding with groups of several entries. */
  const rawGroups = (replicas: string[], ctx: [number, number[]][], groups: [number, string, RawEntry[]][]): Uint8Array => {
    const w = new Writer().byte(FormatVersion).arrayHeader(3).arrayHeader(replicas.length);
    for (const r of replicas) w.string(r);
    w.arrayHeader(ctx.length);
    for (const [ridx, nums] of ctx) {
      w.arrayHeader(2).uint(ridx).arrayHeader(nums.length);
      for (const n of nums) w.uint(n);
    }
    w.arrayHeader(groups.length);
    for (const [kind, id, es] of groups) {
      w.arrayHeader(3).uint(kind).string(id).arrayHeader(es.length);
      for (const e of es) {
        w.arrayHeader(6).string(e.sub).uint(e.ridx).uint(e.counter).int(e.wall).uint(e.logical);
        if (e.value === null) w.nil();
        else w.raw(e.value);
      }
    }
    return w.bytes();
  };
  const ab: [number, number[]][] = [
    [0, [1, 1]],
    [1, [1, 0]],
  ];
  const e1 = withEntry((e) => (e.sub = 'name'));
  const e2 = withEntry((e) => ((e.sub = 'type'), (e.counter = 2)));
  const e3 = withEntry((e) => ((e.sub = 'type'), (e.ridx = 1), (e.counter = 1)));
  const canonicalDoc = rawGroups(['a', 'b'], ab, [[KindBlockField, 'b1', [e1, e2, e3]]]);
  const widened = (from: number[], to: number[]): Uint8Array => {
    const b = Array.from(canonicalDoc);
    for (let i = 0; i + from.length <= b.length; i++) {
      if (from.every((x, j) => b[i + j] === x)) return new Uint8Array([...b.slice(0, i), ...to, ...b.slice(i + from.length)]);
    }
    throw new Error('pattern not found');
  };

  it('accepts the hand-built canonical document and re-encodes it to itself', () => {
    expect(hex(decode(canonicalDoc).encode())).toBe(hex(canonicalDoc));
  });

  // Regression: each form used to decode and re-encode to other bytes. The
  // same forms are refused by Go (canonical_test.go); the golden decode
  // vectors check the two decoders agree on thousands of mutants.
  const nonCanonical: Record<string, Uint8Array> = {
    'groups out of order': rawGroups(['a', 'b'], ab, [
      [KindBlockField, 'b2', [e1]],
      [KindBlockField, 'b1', [e2, e3]],
    ]),
    'one key split across groups': rawGroups(['a', 'b'], ab, [
      [KindBlockField, 'b1', [e1]],
      [KindBlockField, 'b1', [e2, e3]],
    ]),
    'entries out of order (sub)': rawGroups(['a', 'b'], ab, [[KindBlockField, 'b1', [e2, e1, e3]]]),
    'entries out of order (replica)': rawGroups(['a', 'b'], ab, [[KindBlockField, 'b1', [e1, e3, e2]]]),
    'empty group': rawGroups(['a', 'b'], ab, [
      [KindBlockField, 'b1', [e1, e2, e3]],
      [KindVariableField, 'v', []],
    ]),
    'unused replica in the table': rawGroups(['a', 'b', 'c'], ab, [[KindBlockField, 'b1', [e1, e2, e3]]]),
    'context entries out of order': rawGroups(
      ['a', 'b'],
      [
        [1, [1, 0]],
        [0, [1, 1]],
      ],
      [[KindBlockField, 'b1', [e1, e2, e3]]],
    ),
    'sub on block membership': rawGroups(['a'], okCtx, [[KindBlock, 'b1', [withEntry((e) => ((e.sub = 'x'), (e.value = null)))]]]),
    'sub on edge membership': rawGroups(['a'], okCtx, [[KindEdge, 'e1', [withEntry((e) => (e.sub = 'x'))]]]),
    'uint in a longer form': widened([0x92, 0x00, 0x92, 0x01, 0x01], [0x92, 0x00, 0x92, 0xcc, 0x01, 0x01]),
    'array in a longer form': widened([0x93, 0x92], [0xdc, 0x00, 0x03, 0x92]),
    'string in a longer form': widened([0xa4, 0x6e, 0x61, 0x6d, 0x65], [0xd9, 0x04, 0x6e, 0x61, 0x6d, 0x65]),
    'wall in a signed form': widened([0x01, 0x05, 0x00], [0x01, 0xd0, 0x05, 0x00]),
    'value with unsorted keys': rawDoc(['a'], okCtx, [withEntry((e) => (e.value = new Uint8Array([0x82, 0xa1, 0x62, 0x01, 0xa1, 0x61, 0x02])))]),
    'value with a uint8 below 128': rawDoc(['a'], okCtx, [withEntry((e) => (e.value = new Uint8Array([0xcc, 0x01])))]),
    'value as float32': rawDoc(['a'], okCtx, [withEntry((e) => (e.value = new Uint8Array([0xca, 0x3f, 0x80, 0, 0])))]),
  };
  for (const [name, input] of Object.entries(nonCanonical)) {
    it(`refuses a non-canonical form: ${name}`, () => {
      const err = decodeError(input);
      expect(err, 'decode accepted it').toBeInstanceOf(DecodeError);
      expect(isError(err, 'Malformed') && isError(err, 'NotCanonical'), (err as Error).message).toBe(true);
    });
  }

  // Regression: a wall of -2^60 and NaN values were accepted by Go (and NaN
  // by TypeScript); both decoders now refuse them as out of the domain.
  it('refuses walls beyond ±(2^53-1) and NaN or infinite values as OutOfDomain', () => {
    for (const wall of [-(2n ** 60n), 2n ** 60n, 2n ** 53n, -(2n ** 53n)]) {
      const err = decodeError(rawDoc(['a'], okCtx, [withEntry((e) => (e.wall = wall))]));
      expect(isError(err, 'Malformed') && isError(err, 'OutOfDomain'), `wall ${wall}`).toBe(true);
    }
    for (const wall of [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      expect(decodeError(rawDoc(['a'], okCtx, [withEntry((e) => (e.wall = wall))]))).toBeUndefined();
    }
    for (const v of [
      [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1],
      [0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
      [0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0],
      [0x92, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
    ]) {
      const err = decodeError(rawDoc(['a'], okCtx, [withEntry((e) => (e.value = new Uint8Array(v)))]));
      expect(isError(err, 'OutOfDomain') && isError(err, 'NonFinite'), hex(new Uint8Array(v))).toBe(true);
    }
  });

  it('caps context ranges at maxRanges(lim) with TooManyRanges', () => {
    const lim = { maxBytes: 4096, maxDepth: 40 };
    const cap = maxRanges(lim);
    const interleaved = (n: number): Uint8Array => {
      const c = new Context();
      for (let i = 0; i < n; i++) c.add({ replica: 'a', counter: 2 * i + 2 });
      return encodeContext(c);
    };
    expect(decodeError(interleaved(cap), lim)).toBeUndefined();
    const err = decodeError(interleaved(cap + 1), lim);
    expect(isError(err, 'Malformed') && isError(err, 'TooManyRanges')).toBe(true);
    expect(maxRanges(DeltaLimits)).toBe(262_144);
  });

  it('respects the size limit: a 2 MiB delta is refused, a 2 MiB document accepted', () => {
    const d = new Doc();
    const dot = { replica: 'a', counter: 1 };
    d.context().add(dot);
    d.store().put({ kind: KindSubBlock, id: 'b1', sub: 'code' }, dot, { wall: 0, logical: 0, value: canonical('x'.repeat(2 << 20)) });
    const enc = d.encode();
    const err = decodeError(enc, DeltaLimits);
    expect(isError(err, 'Malformed') && isError(err, 'TooLarge')).toBe(true);
    expect(decodeError(enc, DocLimits)).toBeUndefined();
    expect(decode(enc).equal(d)).toBe(true); // DocLimits by default
    expect(isError(decodeError(enc, DeltaLimits), 'TooLarge')).toBe(true);
    expect(() => decodeContext(enc)).toThrow(DecodeError); // contexts default to DeltaLimits
  });

  it('accepts a context exactly at MaxCounter', () => {
    const ok = new Doc();
    ok.context().addRange('r', { lo: 1, hi: MaxCounter });
    expect(decode(ok.encode(), DeltaLimits).context().max('r')).toBe(MaxCounter);
  });
});

describe('Doc', () => {
  const k = (kind: Kind, id: string, sub = ''): Key => ({ kind, id, sub });

  it('get, has and winner resolve concurrent values by hybrid time then dot', () => {
    const d = new Doc();
    const key = k(KindVariableField, 'v', 'name');
    expect(d.get(key)).toBeNull();
    expect(d.has(key)).toBe(false);
    expect(d.winner(key)).toBeUndefined();
    const put = (replica: string, counter: number, wall: number, v: string) => {
      d.context().add({ replica, counter });
      d.store().put(key, { replica, counter }, { wall, logical: 0, value: canonical(v) });
    };
    put('a', 1, 10, 'a10');
    put('b', 1, 10, 'b10');
    put('\u{1F600}', 1, 10, 'emoji'); // greatest replica bytewise at the same time
    put('\uFF21', 1, 10, 'fullwidth');
    expect(hex(d.get(key)!)).toBe(hex(canonical('emoji')));
    expect(d.winner(key)!.dot).toEqual({ replica: '\u{1F600}', counter: 1 });
    put('a', 2, 11, 'later');
    expect(hex(d.get(key)!)).toBe(hex(canonical('later')));
    expect(d.has(key)).toBe(true);
  });

  it('merge removes what a delta saw and keeps concurrent writes; deltaSince carries removals', () => {
    const a = new Doc();
    const key = k(KindBlock, 'b1');
    a.context().add({ replica: 'a', counter: 1 });
    a.store().put(key, { replica: 'a', counter: 1 }, { wall: 1, logical: 0, value: null });
    const b = a.clone();
    // a removes b1: a fresh dot plus the removed one, no entry.
    const removal = new Doc();
    removal.context().addRange('a', { lo: 1, hi: 2 });
    expect(a.merge(removal)).toBe(1);
    expect(a.has(key)).toBe(false);
    // b, which has not seen the removal, learns it from deltaSince.
    const delta = a.deltaSince(b.context());
    expect(delta.store().numDots()).toBe(0);
    expect(delta.context().ranges('a')).toEqual([{ lo: 1, hi: 2 }]);
    b.merge(delta);
    expect(b.equal(a)).toBe(true);
    expect(hex(b.encode())).toBe(hex(a.encode()));
    // Idempotent.
    expect(b.merge(delta)).toBe(0);
    // Against its own context a replica sends no values; the context still
    // names the removal's dots (Go: every dot except those of held values).
    const self = a.deltaSince(a.context());
    expect(self.store().numDots()).toBe(0);
    expect(self.context().equal(a.context())).toBe(true);
  });

  it('clone is independent, and isEmpty means no values and no context', () => {
    const a = new Doc();
    expect(a.isEmpty()).toBe(true);
    a.context().add({ replica: 'a', counter: 1 });
    expect(a.isEmpty()).toBe(false);
    const c = a.clone();
    c.context().add({ replica: 'a', counter: 2 });
    expect(a.context().max('a')).toBe(1);
    expect(a.equal(c)).toBe(false);
  });

  it('keyString is unambiguous', () => {
    const keys: Key[] = [k(KindBlockField, 'a', 'bc'), k(KindBlockField, 'ab', 'c'), k(KindBlockField, 'a:1', ''), k(KindBlockField, 'a', ':1'), k(KindSubBlock, 'a', 'bc')];
    expect(new Set(keys.map(keyString)).size).toBe(keys.length);
  });

  it('sameCellValue treats nil and empty as no value', () => {
    expect(sameCellValue(null, new Uint8Array([0xc0]))).toBe(true);
    expect(sameCellValue(new Uint8Array(0), null)).toBe(true);
    expect(sameCellValue(null, canonical(1))).toBe(false);
    expect(sameCellValue(canonical('x'), canonical('x'))).toBe(true);
    expect(sameCellValue(canonical('x'), canonical('y'))).toBe(false);
  });
});

describe('encodeChunks', () => {
  it('returns nothing for an empty document and the whole encoding when it fits', () => {
    expect(new Doc().encodeChunks(100)).toEqual([]);
    const d = build(genDoc(7001));
    if (!d.isEmpty()) expect(d.encodeChunks(1 << 20).map(hex)).toEqual([hex(d.encode())]);
  });

  it('splits large documents into valid deltas that join, in any order, to the document', () => {
    for (const seed of seeds.slice(0, 15)) {
      const d = build(genDoc(seed));
      const removed = new Doc();
      removed.context().addRange('zz', { lo: 1, hi: 5 });
      d.merge(removed);
      for (const limit of [64, 200, 500]) {
        const chunks = d.encodeChunks(limit);
        const docs = chunks.map((c) => decode(c, DeltaLimits));
        const g = rng(seed + limit);
        const joined = new Doc();
        for (const c of g.shuffle([...docs])) joined.merge(c);
        expect(joined.equal(d), `seed ${seed} limit ${limit}`).toBe(true);
        // No chunk's context holds the dot of another chunk's entry.
        docs.forEach((c, i) =>
          docs.forEach((o, j) => {
            if (i === j) return;
            o.store().dots((dot) => expect(c.context().contains(dot), `seed ${seed}: chunk ${i} covers a dot of chunk ${j}`).toBe(false));
          }),
        );
      }
    }
  });
});

describe('errors', () => {
  it('WorkflowError carries the Go sentinel name and message', () => {
    const e = new WorkflowError('UnknownBlock', 'block "a"');
    expect(e.message).toBe('workflow: unknown block: block "a"');
    expect(isError(e, 'UnknownBlock')).toBe(true);
    expect(isError(e, 'Locked')).toBe(false);
    expect(isError(new Error('x', { cause: e }), 'UnknownBlock')).toBe(true);
    expect(isError(undefined, 'Invalid')).toBe(false);
    expect(ErrorCodes).toHaveLength(11);
    for (const c of ErrorCodes) expect(new WorkflowError(c).message).toMatch(/^workflow: /);
  });
});

describe('Doc merge laws on random replica histories', () => {
  const keys: Key[] = [
    { kind: KindBlock, id: 'b1', sub: '' },
    { kind: KindBlockField, id: 'b1', sub: 'name' },
    { kind: KindBlockField, id: '\u{1F600}', sub: 'name' },
    { kind: KindSubBlock, id: 'b1', sub: '\uFF21' },
    { kind: KindVariableField, id: 'v', sub: 'value' },
  ];
  const replicas = ['a', 'b', '\u{1D49C}'];

  /** One write (or removal) by replica on d, as an operation would make it: returns the delta. */
  function write(g: ReturnType<typeof rng>, d: Doc, replica: string): Doc {
    const key = g.pick(keys);
    const delta = new Doc();
    const dot = { replica, counter: d.context().max(replica) + 1 };
    delta.context().add(dot);
    for (const e of d.store().get(key)) delta.context().add(e.dot);
    if (g.int(0, 3) !== 0) delta.store().put(key, dot, { wall: g.int(0, 5), logical: g.int(0, 1), value: canonical(g.int(0, 9)) });
    d.merge(delta);
    return delta;
  }

  it('join is commutative, associative and idempotent, and deltaSince is exact, in bytes', () => {
    for (const seed of seeds.slice(0, 25)) {
      const g = rng(seed);
      const docs = replicas.map(() => new Doc());
      const deltas: Doc[] = [];
      for (let step = 0; step < 40; step++) {
        const i = g.int(0, 2);
        const j = g.int(0, 2);
        switch (g.int(0, 4)) {
          case 0:
            docs[i].merge(docs[j].clone());
            break;
          case 1:
            docs[i].merge(docs[j].deltaSince(docs[i].context()));
            break;
          default:
            deltas.push(write(g, docs[i], replicas[i]));
        }
      }
      const where = `seed ${seed}`;
      const joined = (x: Doc, y: Doc) => {
        const out = x.clone();
        out.merge(y);
        return out;
      };
      const bytesOf = (d: Doc) => hex(d.encode());
      const [a, b, c] = docs;
      expect(bytesOf(joined(a, b)), `${where}: commutative`).toBe(bytesOf(joined(b, a)));
      expect(bytesOf(joined(joined(a, b), c)), `${where}: associative`).toBe(bytesOf(joined(a, joined(b, c))));
      expect(bytesOf(joined(a, a)), `${where}: idempotent`).toBe(bytesOf(a));
      expect(bytesOf(joined(a, b.deltaSince(a.context()))), `${where}: deltaSince`).toBe(bytesOf(joined(a, b)));
      const all = new Doc();
      for (const d of g.shuffle([...deltas])) all.merge(decode(d.encode(), DeltaLimits));
      expect(bytesOf(all), `${where}: every delta in a random order`).toBe(bytesOf(joined(joined(a, b), c)));
    }
  });
});
