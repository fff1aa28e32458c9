// share (src/react/share.ts): the structural sharing the React hooks rely on
// to keep unchanged parts of a rebuilt view the same objects.
import { describe, expect, it } from 'vitest';
import { share } from '../src/react';

const rec = (o: Record<string, unknown>) => Object.assign(Object.create(null) as Record<string, unknown>, o);

describe('share', () => {
  it('returns the previous value when the next one is deeply equal', () => {
    const prev = { a: [1, { b: 'x', c: null }], d: rec({ e: new Uint8Array([1, 2]), f: 10n }) };
    const next = { a: [1, { b: 'x', c: null }], d: rec({ e: new Uint8Array([1, 2]), f: 10n }) };
    expect(share(prev, next)).toBe(prev);
  });

  it('keeps the identity of unchanged parts and builds new containers on the changed path', () => {
    const blocks = (nameA: string) =>
      rec({ a: { id: 'a', name: nameA, position: { x: 1, y: 2 } }, b: { id: 'b', name: 'B', position: { x: 3, y: 4 } } });
    const prev = { blocks: blocks('A'), order: ['a', 'b'] };
    const next = { blocks: blocks('A2'), order: ['a', 'b'] };
    const nextCopy = JSON.parse(JSON.stringify(next));
    const out = share(prev, next);
    expect(out).not.toBe(prev);
    expect(out).toEqual(next);
    expect(out.blocks.b).toBe(prev.blocks.b);
    expect(out.order).toBe(prev.order);
    expect(out.blocks.a).not.toBe(prev.blocks.a);
    expect((out.blocks.a as { position: unknown }).position).toBe((prev.blocks.a as { position: unknown }).position);
    // A record without a prototype stays one (ids like "__proto__" are ordinary keys).
    expect(Object.getPrototypeOf(out.blocks)).toBe(null);
    // Neither argument was modified.
    expect(JSON.parse(JSON.stringify(next))).toEqual(nextCopy);
    expect((prev.blocks.a as { name: string }).name).toBe('A');
  });

  it('sees every kind of change: a value, a key, key order, array length, bytes, a prototype', () => {
    const cases: Array<[unknown, unknown]> = [
      [{ a: 1 }, { a: 2 }],
      [{ a: 1 }, { a: 1, b: 2 }],
      [{ a: 1, b: 2 }, { a: 1 }],
      [{ a: 1, b: 2 }, { b: 2, a: 1 }],
      [{ a: 1 }, { b: 1 }],
      [[1, 2], [1, 2, 3]],
      [[1, 2, 3], [1, 2]],
      [new Uint8Array([1, 2]), new Uint8Array([1, 3])],
      [new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])],
      [{ a: 1 }, rec({ a: 1 })],
      [{ a: 1 }, [1]],
      [null, {}],
      [0, -0],
      [1n, 2n],
      [new Map(), new Map()],
    ];
    for (const [i, [prev, next]] of cases.entries()) {
      const out = share(prev, next);
      expect(out, `case ${i}`).not.toBe(prev);
      expect(out).toEqual(next);
    }
    expect(share(NaN, NaN)).toBe(NaN);
  });
});
