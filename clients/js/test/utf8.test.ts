// decodeUtf8Go against Go's own output. The expectations were produced by a
// scratch Go 1.26 program: json.Marshal(s), `for range s` and
// strings.ToLower(s) all agree, one U+FFFD per byte utf8.DecodeRune refuses.

import { describe, expect, it } from 'vitest';
import { decodeUtf8, decodeUtf8Go } from '../src/msgpackx/reader';
import { decode as decodeValue } from '../src/msgpackx/value';
import { asEdge, asString } from '../src/workflow/fields';
import { goString } from '../src/workflow/json';
import { normalizeName } from '../src/workflow/state';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/ /g, ''), 'hex'));

// [bytes, Go's string as JSON decodes it]
const goCases: [string, string][] = [
  ['e2 82 41', '\ufffd\ufffdA'],
  ['e2 82', '\ufffd\ufffd'],
  ['61 ff 62', 'a\ufffdb'],
  ['ed a0 80', '\ufffd\ufffd\ufffd'], // a surrogate's encoding
  ['f0 9f 98', '\ufffd\ufffd\ufffd'], // truncated 4-byte sequence
  ['c0 af', '\ufffd\ufffd'], // overlong
  ['f4 90 80 80', '\ufffd\ufffd\ufffd\ufffd'], // above U+10FFFF
  ['41 62 e2 82 43', 'Ab\ufffd\ufffdC'],
  ['ef bb bf 78', '\ufeffx'], // a BOM is kept
  ['f0 9f 98 80 f0 9f', '\u{1f600}\ufffd\ufffd'],
  ['e2 82 ac', '\u20ac'],
  ['80', '\ufffd'],
  ['', ''],
];

describe('decodeUtf8Go matches Go', () => {
  for (const [h, want] of goCases) {
    it(`${h || '(empty)'}`, () => {
      const b = hex(h);
      expect(decodeUtf8Go(b)).toBe(want);
      expect(goString(b)).toBe(want);
      expect(asString(new Uint8Array([0xa0 | b.length, ...b]))).toBe(want);
    });
  }

  it('differs from TextDecoder where Go does', () => {
    expect(new TextDecoder().decode(hex('e2 82 41'))).toBe('\ufffdA');
    expect(decodeUtf8Go(hex('e2 82 41'))).toBe('\ufffd\ufffdA');
  });

  it('handles long strings, ASCII and not', () => {
    const ascii = new Uint8Array(10000).fill(0x61);
    expect(decodeUtf8Go(ascii)).toBe('a'.repeat(10000));
    const mixed = new Uint8Array([...ascii, 0xe2, 0x82, ...ascii]);
    expect(decodeUtf8Go(mixed)).toBe('a'.repeat(10000) + '\ufffd\ufffd' + 'a'.repeat(10000));
  });

  it('the strict decoder keeps a leading BOM and refuses invalid UTF-8', () => {
    expect(decodeUtf8(hex('ef bb bf 78'))).toBe('\ufeffx');
    expect(() => decodeUtf8(hex('78 e2 82'))).toThrow();
  });

  it('normalizes names like strings.ToLower: each invalid byte is U+FFFD', () => {
    // Go: NormalizeName("Ab\xe2\x82C") == "ab\ufffd\ufffdc"
    expect(normalizeName(asString(hex('a5 41 62 e2 82 43')))).toBe('ab\ufffd\ufffdc');
    expect(normalizeName(asString(hex('a2 ff fe')))).toBe(normalizeName(asString(hex('a2 fe ff'))));
  });

  it('reads edge fields with Go’s rule', () => {
    // {"s":"b1","sh":"out\xe2\x82","t":"b2"}
    const v = new Uint8Array([0x83, 0xa1, 0x73, 0xa2, 0x62, 0x31, 0xa2, 0x73, 0x68, 0xa5, 0x6f, 0x75, 0x74, 0xe2, 0x82, 0xa1, 0x74, 0xa2, 0x62, 0x32]);
    expect(asEdge(v)).toMatchObject({ source: 'b1', sourceHandle: 'out\ufffd\ufffd', target: 'b2' });
  });
});

describe('msgpack value decode: strings and map keys as Go renders them', () => {
  it('decodes nested strings with one U+FFFD per invalid byte', () => {
    // ["\xed\xa0\x80", {"k": "\xe2\x82A"}]
    const v = hex('92 a3 ed a0 80 81 a1 6b a3 e2 82 41');
    expect(decodeValue(v)).toEqual(['\ufffd\ufffd\ufffd', { k: '\ufffd\ufffdA' }]);
  });

  it('keeps keys that differ only in invalid bytes; the greatest bytes win, as after Go JSON + JSON.parse', () => {
    // {"a\xff": 3, "a\xef\xbf\xbd": 1, "a\xfe": 2}: Go keeps all three and
    // writes them sorted by bytes; JSON.parse keeps the last, "a\xff" → 3.
    const m = hex('83 a2 61 ff 03 a4 61 ef bf bd 01 a2 61 fe 02');
    expect(decodeValue(m)).toEqual({ 'a\ufffd': 3 });
    const m2 = hex('83 a2 61 fe 02 a4 61 ef bf bd 01 a2 61 ff 03');
    expect(decodeValue(m2)).toEqual({ 'a\ufffd': 3 });
  });

  it('still refuses a key repeated byte for byte', () => {
    expect(() => decodeValue(hex('82 a2 61 ff 01 a2 61 ff 02'))).toThrow(/duplicate/i);
    expect(() => decodeValue(hex('82 a1 61 01 a1 61 02'))).toThrow(/duplicate/i);
  });
});
