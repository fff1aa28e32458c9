// The value shapes operations write (fields.ts), the readers the view and
// the operations share, and the state.ts rules they read through: exact
// bytes, and the zero value for every other shape, as Go reads them.

import { describe, expect, it } from 'vitest';
import { Doc, KindBlockField } from '../src/workflow/doc';
import {
  asBool,
  asEdge,
  asFloat,
  asPosition,
  asString,
  boolValue,
  edgeValue,
  floatValue,
  positionValue,
  stringValue,
  zeroEdge,
} from '../src/workflow/fields';
import { blockKey, canonicalHandle, fieldKey, isContainer, isReservedName, type Reader } from '../src/workflow/state';
import { protected_ } from '../src/workflow/tree';
import { compareStrings } from '../src/workflow/util';
import { boolOf, edgeOf, isProtected, locked, stringOf } from '../src/workflow/protect';
import type { Key, Value } from '../src/workflow/doc';

const hex = (v: Value): string => Buffer.from(v ?? new Uint8Array()).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

describe('writers', () => {
  it('write Go msgpackx.Append* bytes', () => {
    expect(hex(boolValue(true))).toBe('c3');
    expect(hex(boolValue(false))).toBe('c2');
    expect(hex(stringValue('ab'))).toBe('a26162');
    expect(hex(stringValue(''))).toBe('a0');
    expect(hex(stringValue('x'.repeat(32)))).toBe('d920' + '78'.repeat(32));
    expect(hex(stringValue('é'))).toBe('a2c3a9');
    // Positions are always two 9-byte floats, even when integral.
    expect(hex(positionValue({ x: 1, y: -2.5 }))).toBe('92cb3ff0000000000000cbc004000000000000');
    // Heights are canonical numbers: integral ones as the shortest integer.
    expect(hex(floatValue(10))).toBe('0a');
    expect(hex(floatValue(1.5))).toBe('cb3ff8000000000000');
  });

  it('write edges with sorted keys and empty parts left out', () => {
    const e = { ...zeroEdge(), source: 'a', target: 'b' };
    expect(hex(edgeValue(e))).toBe('82a173a161a174a162');
    const full = { id: 'ignored', source: 'a', sourceHandle: 'x', target: 'b', targetHandle: 'y', type: 'z' };
    expect(hex(edgeValue(full))).toBe('85a173a161a27368a178a174a162a27468a179a27479a17a');
    expect(asEdge(edgeValue(full))).toEqual({ ...full, id: '' });
  });
});

describe('readers', () => {
  it('read booleans strictly', () => {
    expect(asBool(null, true)).toBe(true);
    expect(asBool(bytes('c3'), false)).toBe(true);
    expect(asBool(bytes('c2'), true)).toBe(false);
    expect(asBool(bytes('01'), true)).toBe(true); // another shape: the default
    expect(asBool(bytes('c3c3'), false)).toBe(false);
  });

  it('read strings of every header, "" for other shapes', () => {
    expect(asString(null)).toBe('');
    expect(asString(stringValue('hello'))).toBe('hello');
    expect(asString(stringValue('y'.repeat(300)))).toBe('y'.repeat(300));
    expect(asString(bytes('05'))).toBe('');
    expect(asString(bytes('a161ff'))).toBe(''); // trailing byte
    expect(asString(bytes('a3616263').subarray(0, 3))).toBe(''); // truncated
  });

  it('read any numeric form as a float, [0, false] otherwise', () => {
    expect(asFloat(bytes('05'))).toEqual([5, true]);
    expect(asFloat(bytes('ff'))).toEqual([-1, true]);
    expect(asFloat(bytes('ccff'))).toEqual([255, true]);
    expect(asFloat(bytes('d080'))).toEqual([-128, true]);
    expect(asFloat(bytes('cd0100'))).toEqual([256, true]);
    expect(asFloat(bytes('ca3fc00000'))).toEqual([1.5, true]);
    expect(asFloat(bytes('cb3ff8000000000000'))).toEqual([1.5, true]);
    expect(asFloat(bytes('cbfff8000000000000'))).toEqual([0, false]); // NaN
    expect(asFloat(bytes('a131'))).toEqual([0, false]);
    expect(asFloat(bytes('0505'))).toEqual([0, false]);
    expect(asFloat(null)).toEqual([0, false]);
  });

  it('read positions of compact numbers, the origin otherwise', () => {
    expect(asPosition(positionValue({ x: 3, y: 4.5 }))).toEqual({ x: 3, y: 4.5 });
    expect(asPosition(bytes('9203cb4012000000000000'))).toEqual({ x: 3, y: 4.5 });
    expect(asPosition(bytes('dc00020102'))).toEqual({ x: 1, y: 2 });
    expect(asPosition(bytes('93010203'))).toEqual({ x: 0, y: 0 });
    expect(asPosition(bytes('9201a0'))).toEqual({ x: 0, y: 0 });
    expect(asPosition(null)).toEqual({ x: 0, y: 0 });
  });

  it('read edges, skipping unknown keys, the zero edge otherwise', () => {
    // {s: "a", x: [1, {k: nil}], t: "b"}
    expect(asEdge(bytes('83a173a161a17892018' + '1a16bc0' + 'a174a162'))).toEqual({ ...zeroEdge(), source: 'a', target: 'b' });
    expect(asEdge(bytes('92a161a162'))).toEqual(zeroEdge()); // an array
    expect(asEdge(bytes('81a17305'))).toEqual(zeroEdge()); // a number endpoint
    expect(asEdge(bytes('8101a161'))).toEqual(zeroEdge()); // a non-string key
    expect(asEdge(bytes('81a173a161c0'))).toEqual(zeroEdge()); // trailing bytes
    expect(asEdge(bytes('81a178c1'))).toEqual(zeroEdge()); // 0xc1 is never valid
    expect(asEdge(null)).toEqual(zeroEdge());
    // Invalid UTF-8 is kept (Go keeps the bytes), not an error.
    expect(asEdge(bytes('82a173a1ffa174a162')).target).toBe('b');
  });
});

/**
 * A reader over a fixed map of keys, to build parent cycles directly. Each
 * entry's stamp is its position in the map (later = newer).
 */
function fieldsReader(fields: Record<string, Value>): Reader {
  const id = (k: Key): string => `${k.kind}/${k.id}/${k.sub}`;
  const entries = Object.entries(fields);
  const m = new Map(entries);
  return {
    get: (k) => m.get(id(k)) ?? null,
    has: (k) => m.has(id(k)),
    winner: (k) => {
      const i = entries.findIndex(([key]) => key === id(k));
      if (i < 0) return undefined;
      return { dot: { replica: 'r', counter: i + 1 }, value: { wall: i + 1, logical: 0, value: entries[i][1] } };
    },
  };
}

describe('state rules', () => {
  it('protection follows the effective tree, whose cycles are cut at the newest pointer', () => {
    const f = (id: string, field: string): string => `${KindBlockField}/${id}/${field}`;
    const live = (id: string): Record<string, Value> => ({
      [`${blockKey(id).kind}/${id}/`]: null,
      [f(id, 'type')]: stringValue('loop'),
    });
    const cycle = fieldsReader({
      ...live('a'),
      ...live('b'),
      [f('a', 'parentId')]: stringValue('b'),
      [f('b', 'parentId')]: stringValue('a'), // newest: b is top-level, a in b
    });
    expect(protected_(cycle, 'a')).toBe(false);
    const lockedA = fieldsReader({
      ...live('a'),
      ...live('b'),
      [f('a', 'parentId')]: stringValue('b'),
      [f('b', 'parentId')]: stringValue('a'),
      [f('a', 'locked')]: boolValue(true),
    });
    // b shows at the top level: a lock on a, inside it, does not reach it.
    expect(protected_(lockedA, 'b')).toBe(false);
    expect(protected_(lockedA, 'a')).toBe(true);
    const lockedB = fieldsReader({
      ...live('a'),
      ...live('b'),
      [f('a', 'parentId')]: stringValue('b'),
      [f('b', 'parentId')]: stringValue('a'),
      [f('b', 'locked')]: boolValue(true),
    });
    expect(protected_(lockedB, 'a')).toBe(true);
    expect(protected_(lockedB, 'zz')).toBe(false);
    // A parent that is not a live block is no parent (the orphan rule).
    const orphan = fieldsReader({ ...live('a'), [f('a', 'parentId')]: stringValue('gone'), [f('gone', 'locked')]: boolValue(true) });
    expect(protected_(orphan, 'a')).toBe(false);
    expect(fieldKey('a', 'parentId').kind).toBe(KindBlockField);
  });

  it('exports the protection rules for raw deltas', () => {
    const d = new Doc();
    expect(isProtected(d, 'a')).toBe(false);
    expect(locked(d, 'a')).toBe(false);
    expect(boolOf(boolValue(true), false)).toBe(true);
    expect(stringOf(stringValue('p'))).toBe('p');
    expect(edgeOf(null)).toEqual(zeroEdge());
  });

  it('canonicalizes legacy handles only', () => {
    for (const side of ['top', 'right', 'bottom', 'left']) {
      expect(canonicalHandle(`source-${side}`)).toBe('source');
      expect(canonicalHandle(`target-${side}`)).toBe('target');
    }
    expect(canonicalHandle('loop-start-source')).toBe('loop-start-source');
    expect(canonicalHandle('')).toBe('');
  });

  it('knows containers and reserved names', () => {
    expect(isContainer('loop')).toBe(true);
    expect(isContainer('parallel')).toBe(true);
    expect(isContainer('agent')).toBe(false);
    expect(isReservedName('variable')).toBe(true);
    expect(isReservedName('Loop')).toBe(false); // only normalized names are reserved
  });

  it('orders strings by UTF-8 bytes, as Go sorts keys', () => {
    const astral = '\u{1F600}';
    const privateUse = '\uE000';
    expect(compareStrings(astral, privateUse)).toBeGreaterThan(0); // JS '<' says the opposite
    expect(astral < privateUse).toBe(true);
    expect(compareStrings('a', 'b')).toBeLessThan(0);
    expect(compareStrings('ab', 'a')).toBeGreaterThan(0);
    expect(compareStrings('x', 'x')).toBe(0);
  });
});
