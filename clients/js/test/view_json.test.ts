// viewToJSON must give what Go's json.Marshal(doc.View()) gives. These tests
// pin the rules that differ from a naive JSON.stringify: bin values, invalid
// UTF-8, omitempty fields, big integers and the numbers Go refuses.

import { describe, expect, it } from 'vitest';
import { base64, goString, valueToJSON, viewToJSON } from '../src/workflow/json';
import type { BlockView, View } from '../src/workflow/view';

const enc = new TextEncoder();

function block(over: Partial<BlockView> = {}): BlockView {
  return {
    id: 'a',
    type: 'agent',
    name: 'A',
    position: { x: 1, y: 2 },
    subBlocks: {},
    outputs: {},
    enabled: true,
    horizontalHandles: true,
    isWide: false,
    advancedMode: false,
    triggerMode: false,
    errorEnabled: false,
    height: 0,
    locked: false,
    data: {},
    ...over,
  };
}

function viewOf(b: BlockView): View {
  return { blocks: { [b.id]: b }, edges: [], loops: {}, parallels: {}, variables: {}, order: [b.id] };
}

describe('values', () => {
  it('renders a top-level bin as the string of its bytes and a nested one as base64', () => {
    const bin = enc.encode('hello');
    expect(valueToJSON(bin)).toBe('hello');
    expect(valueToJSON([bin])).toEqual(['aGVsbG8=']);
    expect(valueToJSON({ k: bin })).toEqual({ k: 'aGVsbG8=' });
    expect(valueToJSON(new Uint8Array(0))).toBe('');
    expect(valueToJSON([new Uint8Array(0)])).toEqual(['']);
  });

  it('renders big integers as the nearest double, as JSON.parse reads Go output', () => {
    expect(valueToJSON(2n ** 63n - 1n)).toBe(JSON.parse('9223372036854775807'));
    expect(valueToJSON([18446744073709551615n])).toEqual([JSON.parse('18446744073709551615')]);
  });

  it('refuses NaN and infinities as Go json.Marshal does', () => {
    expect(() => valueToJSON(NaN)).toThrow(RangeError);
    expect(() => valueToJSON({ x: [Infinity] })).toThrow(RangeError);
    expect(() => viewToJSON(viewOf(block({ height: -Infinity })))).toThrow(RangeError);
    expect(() => viewToJSON(viewOf(block({ position: { x: Infinity, y: 0 } })))).toThrow(RangeError);
  });

  it('passes JSON-shaped values through', () => {
    const v = { a: [1, 2.5, 'x', true, null, { b: -0.5 }] };
    expect(valueToJSON(v)).toEqual(v);
  });
});

describe('goString (encoding/json on string(bytes))', () => {
  const cases: [string, number[], string][] = [
    ['ASCII', [0x61, 0x62], 'ab'],
    ['two-, three- and four-byte sequences', [...enc.encode('é€😀')], 'é€😀'],
    ['a truncated sequence: one U+FFFD per byte', [0xe2, 0x82, 0x41], '\ufffd\ufffdA'],
    ['a truncated sequence at the end', [0x41, 0xf0, 0x9f, 0x98], 'A\ufffd\ufffd\ufffd'],
    ['an overlong form', [0xc0, 0x80], '\ufffd\ufffd'],
    ['an overlong three-byte form', [0xe0, 0x80, 0x80], '\ufffd\ufffd\ufffd'],
    ['an encoded surrogate', [0xed, 0xa0, 0x80], '\ufffd\ufffd\ufffd'],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], '\ufffd\ufffd\ufffd\ufffd'],
    ['a stray continuation byte', [0x80, 0x61], '\ufffda'],
    ['bytes that never start a sequence', [0xff, 0xf5, 0xc1], '\ufffd\ufffd\ufffd'],
    ['the largest code point', [0xf4, 0x8f, 0xbf, 0xbf], '\u{10FFFF}'],
  ];
  for (const [name, bytes, want] of cases) {
    it(name, () => expect(goString(Uint8Array.from(bytes))).toBe(want));
  }
});

describe('base64', () => {
  it('pads as Go StdEncoding', () => {
    for (const [s, want] of [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
    ] as const) {
      expect(base64(enc.encode(s))).toBe(want);
      expect(base64(enc.encode(s))).toBe(Buffer.from(s).toString('base64'));
    }
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(base64(all)).toBe(Buffer.from(all).toString('base64'));
  });
});

describe('omitempty', () => {
  it('leaves out empty edge handles and type, keeps set ones', () => {
    const v: View = {
      blocks: {},
      edges: [
        { id: 'e1', source: 'a', target: 'b', sourceHandle: '', targetHandle: '', type: '' },
        { id: 'e2', source: 'a', target: 'b', sourceHandle: 'source', targetHandle: 'target', type: 'workflowEdge' },
      ],
      loops: {},
      parallels: {},
      variables: {},
      order: [],
    };
    expect(viewToJSON(v).edges).toEqual([
      { id: 'e1', source: 'a', target: 'b' },
      { id: 'e2', source: 'a', sourceHandle: 'source', target: 'b', targetHandle: 'target', type: 'workflowEdge' },
    ]);
  });

  it('keeps a retry that is present, even null, and leaves out an absent one', () => {
    expect(viewToJSON(viewOf(block())).blocks.a).not.toHaveProperty('retry');
    expect(viewToJSON(viewOf(block({ retry: null }))).blocks.a).toHaveProperty('retry', null);
    expect(viewToJSON(viewOf(block({ retry: { n: 1 } }))).blocks.a.retry).toEqual({ n: 1 });
  });

  it('leaves out empty loop conditions', () => {
    const v: View = {
      blocks: {},
      edges: [],
      loops: {
        l: { id: 'l', nodes: [], iterations: 5, loopType: 'while', forEachItems: '', whileCondition: 'x', doWhileCondition: '' },
      },
      parallels: {},
      variables: {},
      order: [],
    };
    expect(viewToJSON(v).loops.l).toEqual({ id: 'l', nodes: [], iterations: 5, loopType: 'while', forEachItems: '', whileCondition: 'x' });
  });

  it('renders every block field, with sub-block and data values as JSON', () => {
    const b = block({
      subBlocks: { p: { id: 'p', type: 'code', value: enc.encode('x = 1') } },
      data: { blob: enc.encode('raw'), list: [enc.encode('raw')] },
    });
    expect(viewToJSON(viewOf(b)).blocks.a).toEqual({
      id: 'a',
      type: 'agent',
      name: 'A',
      position: { x: 1, y: 2 },
      subBlocks: { p: { id: 'p', type: 'code', value: 'x = 1' } },
      outputs: {},
      enabled: true,
      horizontalHandles: true,
      isWide: false,
      advancedMode: false,
      triggerMode: false,
      errorEnabled: false,
      height: 0,
      locked: false,
      data: { blob: 'raw', list: ['cmF3'] },
    });
  });
});
