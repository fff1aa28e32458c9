// Tests of the msgpackx port (src/msgpackx), after crdt/msgpackx/*_test.go,
// plus the canonical rules of PROTOCOL.md §7.6 checked byte by byte.

import { encode as libEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { utf8Length, Writer } from '../src/msgpackx/append';
import { check, MsgpackError, skip, type MsgpackErrorCode } from '../src/msgpackx/check';
import { Reader } from '../src/msgpackx/reader';
import { canonical, decode, ValueLimits } from '../src/msgpackx/value';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/ /g, ''), 'hex'));

function codeOf(fn: () => unknown): MsgpackErrorCode | 'none' | 'other' {
  try {
    fn();
    return 'none';
  } catch (err) {
    return err instanceof MsgpackError ? err.code : 'other';
  }
}

describe('check', () => {
  // These made a naive decoder allocate gigabytes; they must be refused
  // from the header alone.
  const hostile: Record<string, string> = {
    'array32 claiming 134M elements': 'dd07ffffff',
    'bin32 claiming 128 MiB': 'c607ffffff',
    'array32 all ones': 'ddffffffff',
    'map32 claiming 4G entries': 'dfffffffff',
    'str32 claiming 4 GiB': 'dbffffffff',
    'truncated uint64': 'cf01',
    'truncated length header': 'dd00',
    'map16 with too few bytes for its entries': 'de000301',
    'array16 of 3 with 2 elements': 'dc00030102',
  };
  for (const [name, h] of Object.entries(hostile)) {
    it(`refuses ${name} as Truncated`, () => {
      expect(codeOf(() => check(unhex(h)))).toBe('Truncated');
      expect(codeOf(() => decode(unhex(h)))).toBe('Truncated');
    });
  }

  it('refuses deep nesting', () => {
    const deep = new Uint8Array(100_000).fill(0x91);
    expect(['TooDeep', 'Truncated']).toContain(codeOf(() => check(deep)));
    deep[deep.length - 1] = 0xc0;
    expect(codeOf(() => check(deep))).toBe('TooDeep');
  });

  it('counts depth exactly as Go does', () => {
    // n nested one-element arrays around nil: Go refuses when the pending
    // stack would reach maxDepth, i.e. at n >= maxDepth.
    const nested = (n: number) => new Uint8Array([...new Array(n).fill(0x91), 0xc0]);
    expect(codeOf(() => check(nested(31)))).toBe('none');
    expect(codeOf(() => check(nested(32)))).toBe('TooDeep');
    expect(codeOf(() => check(nested(3), { maxDepth: 4 }))).toBe('none');
    expect(codeOf(() => check(nested(4), { maxDepth: 4 }))).toBe('TooDeep');
    // Go's stack holds 64 levels whatever the limit says.
    expect(codeOf(() => check(nested(64), { maxDepth: 100 }))).toBe('none');
    expect(codeOf(() => check(nested(65), { maxDepth: 100 }))).toBe('TooDeep');
  });

  it('refuses trailing bytes, ext types, 0xc1, oversize and empty input', () => {
    expect(codeOf(() => check(unhex('c0c0')))).toBe('Trailing');
    expect(codeOf(() => check(unhex('d40100')))).toBe('BadByte');
    expect(codeOf(() => check(unhex('c70100')))).toBe('BadByte');
    expect(codeOf(() => check(unhex('c1')))).toBe('BadByte');
    expect(codeOf(() => check(new Uint8Array(10), { maxBytes: 5 }))).toBe('TooLarge');
    expect(codeOf(() => check(new Uint8Array(0)))).toBe('Empty');
  });

  it('accepts what a msgpack library encodes', () => {
    const vals: unknown[] = [null, true, false, 0, -1, 127, 128, -33, 2 ** 40, 1.5, '', 'hi', 'x'.repeat(70000),
      new Uint8Array([1, 2, 3]), [1, 'a', []], { a: 1, b: { c: [null] } }, new Array(70000).fill(0), 2n ** 63n];
    for (const v of vals) expect(codeOf(() => check(libEncode(v, { useBigInt64: true })))).toBe('none');
  });

  it('skip returns the end of one value', () => {
    const b = unhex('92 01 a161 c3');
    expect(skip(b, 0)).toBe(4);
    expect(skip(b, 4)).toBe(5);
  });
});

describe('canonical', () => {
  const cases: [unknown, string][] = [
    [null, 'c0'],
    [undefined, 'c0'],
    [true, 'c3'],
    [false, 'c2'],
    [0, '00'],
    [-0, '00'],
    [127, '7f'],
    [128, 'cc80'],
    [255, 'ccff'],
    [256, 'cd0100'],
    [65535, 'cdffff'],
    [65536, 'ce00010000'],
    [4294967295, 'ceffffffff'],
    [4294967296, 'cf0000000100000000'],
    [Number.MAX_SAFE_INTEGER, 'cf001fffffffffffff'],
    [-1, 'ff'],
    [-32, 'e0'],
    [-33, 'd0df'],
    [-128, 'd080'],
    [-129, 'd1ff7f'],
    [-32768, 'd18000'],
    [-32769, 'd2ffff7fff'],
    [-2147483648, 'd280000000'],
    [-2147483649, 'd3ffffffff7fffffff'],
    [2.0, '02'],
    [1.5, 'cb3ff8000000000000'],
    [1e18, 'cf0de0b6b3a7640000'],
    [-(2 ** 63), 'd38000000000000000'],
    [2 ** 63, 'cb43e0000000000000'], // outside int64: float64 (Go's result is platform-defined here)
    [1e300, 'cb7e37e43c8800759c'],
    [2n ** 64n - 1n, 'cfffffffffffffffff'],
    [-(2n ** 63n), 'd38000000000000000'],
    [5n, '05'],
    ['', 'a0'],
    ['é', 'a2c3a9'],
    ['\u{1F600}', 'a4f09f9880'],
    ['x'.repeat(31), 'bf' + '78'.repeat(31)],
    ['x'.repeat(32), 'd920' + '78'.repeat(32)],
    [new Uint8Array([]), 'c400'],
    [new Uint8Array([1, 2]), 'c4020102'],
    [[], '90'],
    [{}, '80'],
    [[undefined], '91c0'],
    [{ a: undefined, b: 1 }, '81a16201'],
    [new Map([['b', 1], ['a', 2]]), '82a16102a16201'],
  ];
  for (const [v, want] of cases) {
    it(`encodes ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)?.slice(0, 30) ?? String(v)} as ${want.slice(0, 24)}`, () => {
      expect(hex(canonical(v))).toBe(want);
    });
  }

  it('sorts keys by UTF-8 bytes, not UTF-16 units', () => {
    // UTF-16 order would be "", a, é, 𝒜 (D835…), Ａ (FF21); UTF-8 puts Ａ (EF…) before 𝒜 (F0…).
    const v = { '\u{1D49C}': 2, '\uFF21': 1, a: 3, '': 4, é: 5 };
    expect(hex(canonical(v))).toBe('85a004a16103a2c3a905a3efbca101a4f09d929c02');
  });

  it('writes lengths beyond the fix forms', () => {
    expect(hex(canonical(new Array(16).fill(0))).slice(0, 6)).toBe('dc0010');
    const m: Record<string, number> = {};
    for (let i = 0; i < 16; i++) m[`k${String(i).padStart(2, '0')}`] = i;
    expect(hex(canonical(m)).slice(0, 6)).toBe('de0010');
    expect(hex(canonical('s'.repeat(256))).slice(0, 6)).toBe('da0100');
    expect(hex(canonical('s'.repeat(65536))).slice(0, 10)).toBe('db00010000');
    expect(hex(canonical(new Uint8Array(256))).slice(0, 6)).toBe('c50100');
  });

  it('refuses what it cannot encode', () => {
    expect(codeOf(() => canonical(() => 1))).toBe('Unsupported');
    expect(codeOf(() => canonical(Symbol('x')))).toBe('Unsupported');
    expect(codeOf(() => canonical(new Date(0)))).toBe('Unsupported');
    expect(codeOf(() => canonical(new Uint16Array(2)))).toBe('Unsupported');
    expect(codeOf(() => canonical(2n ** 64n))).toBe('Unsupported');
    expect(codeOf(() => canonical(new Map([[1, 2]])))).toBe('Unsupported');
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(codeOf(() => canonical(cyclic))).toBe('TooDeep');
  });

  // Regression: NaN and ±Infinity used to encode as float64, and a stored
  // NaN made Go's view fail to marshal. Refused wherever they sit, as Go does.
  it('refuses NaN and infinities with NonFinite', () => {
    for (const v of [NaN, Infinity, -Infinity, [1, NaN], { a: { b: [-Infinity] } }]) {
      expect(codeOf(() => canonical(v)), JSON.stringify(v)).toBe('NonFinite');
    }
  });

  it('normalizes numbers so equal values have equal bytes', () => {
    expect(hex(canonical({ b: 1.0, a: [2.0, 2.5] }))).toBe(hex(canonical({ a: [2, 2.5], b: 1 })));
  });
});

describe('decode', () => {
  it('round-trips canonical bytes, big integers included', () => {
    const values: unknown[] = [null, true, 0, -1, 70000, -70000, 2.5, 'hé', new Uint8Array([0, 255]), [1, [2, [3]]],
      { b: { c: [null, false] }, a: 'x' }, 2n ** 64n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 53n) - 1n];
    for (const v of values) {
      const b = canonical(v);
      const back = decode(b);
      expect(hex(canonical(back))).toBe(hex(b));
    }
    expect(decode(canonical(2n ** 53n + 1n))).toBe(2n ** 53n + 1n);
    expect(decode(canonical(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(canonical(-Number.MAX_SAFE_INTEGER))).toBe(-Number.MAX_SAFE_INTEGER);
    expect(decode(unhex('cf0000000000000005'))).toBe(5);
  });

  it('widens every numeric form to number', () => {
    expect(decode(unhex('94 05 fd ce00011170 cb4004000000000000'))).toEqual([5, -3, 70000, 2.5]);
    expect(decode(unhex('ca3fc00000'))).toBe(1.5);
    expect(decode(unhex('d0df'))).toBe(-33);
    expect(decode(unhex('d1ff7f'))).toBe(-129);
    expect(decode(unhex('d2ffff7fff'))).toBe(-32769);
    expect(decode(unhex('d3ffffffff7fffffff'))).toBe(-2147483649);
  });

  it('decodes bin as a Uint8Array that does not alias the input', () => {
    const input = unhex('c403010203');
    const v = decode(input) as Uint8Array;
    expect(v).toBeInstanceOf(Uint8Array);
    input[2] = 9;
    expect([...v]).toEqual([1, 2, 3]);
    const buf = Buffer.from([0xc4, 0x02, 0x05, 0x06]);
    const w = decode(buf) as Uint8Array;
    buf.fill(0);
    expect([...w]).toEqual([5, 6]);
    expect(Buffer.isBuffer(w)).toBe(false);
  });

  it('reads map keys given as str, bin or nil (as Go does) and refuses others and duplicates', () => {
    expect(decode(unhex('83 a161 01 c40162 02 c0 03'))).toEqual({ a: 1, b: 2, '': 3 });
    expect(codeOf(() => decode(unhex('81 01 02')))).toBe('Type');
    expect(codeOf(() => decode(unhex('82 a161 01 a161 02')))).toBe('DuplicateKey');
  });

  it('keeps a "__proto__" key as data', () => {
    const v = decode(canonical(JSON.parse('{"__proto__":{"polluted":true}}'))) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });

  it('applies ValueLimits by default', () => {
    expect(ValueLimits).toEqual({ maxBytes: 1 << 20, maxDepth: 32 });
    expect(codeOf(() => decode(canonical('x'.repeat(1 << 20))))).toBe('TooLarge');
    expect(codeOf(() => decode(canonical('x'.repeat(1 << 20)), { maxBytes: 2 << 20 }))).toBe('none');
  });
});

describe('Reader and Writer', () => {
  it('read back what the writer appends', () => {
    const w = new Writer(1);
    w.arrayHeader(9).nil().bool(true).uint(300).int(-5).int(-(2n ** 40n)).float(0.5).string('héllo').bin(new Uint8Array([7])).mapHeader(0);
    const r = new Reader(w.bytes());
    expect(r.arrayHeader()).toBe(9);
    expect(r.isNil()).toBe(true);
    expect(r.bool()).toBe(true);
    expect(r.uint()).toBe(300);
    expect(r.int()).toBe(-5);
    expect(r.intBig()).toBe(-(2n ** 40n));
    expect(r.float()).toBe(0.5);
    expect(r.string()).toBe('héllo');
    expect(hex(r.raw())).toBe('c40107');
    expect(r.mapHeader()).toBe(0);
    expect(r.done()).toBe(true);
  });

  it('throws typed errors for wrong types and missing bytes', () => {
    expect(codeOf(() => new Reader(unhex('a161')).uint())).toBe('Type');
    expect(codeOf(() => new Reader(unhex('')).uint())).toBe('Truncated');
    expect(codeOf(() => new Reader(unhex('cd01')).uint())).toBe('Truncated');
    expect(codeOf(() => new Reader(unhex('cfffffffffffffffff')).int())).toBe('Type');
    expect(codeOf(() => new Reader(unhex('a2c328')).string())).toBe('Type'); // invalid UTF-8
    expect(codeOf(() => new Reader(unhex('dd000000ff')).arrayHeader())).toBe('Truncated');
  });

  it('reads uint64 beyond 2^53 exactly as bigint and as a number at least 2^53', () => {
    const r = new Reader(unhex('cf0020000000000001cf0020000000000001'));
    expect(r.uintBig()).toBe(2n ** 53n + 1n);
    expect(r.uint()).toBeGreaterThanOrEqual(2 ** 53);
  });

  it('utf8Length agrees with TextEncoder', () => {
    for (const s of ['', 'abc', 'é', '€', '\u{1F600}', 'a\u{10FFFF}b', '\uD800', 'x\uDC00y']) {
      expect(utf8Length(s), s).toBe(new TextEncoder().encode(s).length);
    }
  });
});
