// The frame vectors written by the Go codec (sync/protocol/vectors_test.go):
// both codecs interpret the same schema tables, so they must write the same
// bytes for every sample frame, and give every input the same verdict: the
// same re-encoding when accepted, the same error kind when refused, and the
// same wording for a missing key or an invalid value. One difference is by
// design: this decoder checks the whole input's msgpack structure before it
// reads a field, Go's reads the schema as it goes, so an input with a schema
// defect (a missing key) before a structural one (a truncated value later
// on) is refused by both, each naming the defect it met first.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FrameDecodeError } from '../src/protocol';
import { parse } from '../src/protocol/msgpack';
import { DefaultMaxDepth, MaxArrayElements, MaxContainers, MaxMapPairs } from '../src/protocol/schema';

// structurallyBroken reports whether b fails the msgpack structure check
// that runs before any field is read.
function structurallyBroken(b: Uint8Array): boolean {
  try {
    parse(b, { maxDepth: DefaultMaxDepth, maxArrayElements: MaxArrayElements, maxMapPairs: MaxMapPairs, maxContainers: MaxContainers });
    return false;
  } catch {
    return true;
  }
}

interface Vectors {
  frames: Array<{ name: string; bytes: string }>;
  decode: Array<{ in: string; kind?: string; detail?: string; bytes?: string }>;
}

const vectors = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../sync/protocol/testdata/frames.json', import.meta.url)), 'utf8'),
) as Vectors;

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

describe('Go frame vectors', () => {
  it('every sample frame decodes and re-encodes to the bytes Go wrote', () => {
    expect(vectors.frames.length).toBeGreaterThan(25);
    for (const v of vectors.frames) {
      expect(toHex(encodeFrame(decodeFrame(hex(v.bytes)))), v.name).toBe(v.bytes);
    }
  });

  it('every input gets the verdict Go gave it', () => {
    const wrong: string[] = [];
    let refused = 0;
    for (const v of vectors.decode) {
      let verdict: string;
      try {
        verdict = `accepted ${toHex(encodeFrame(decodeFrame(hex(v.in))))}`;
      } catch (e) {
        if (!(e instanceof FrameDecodeError)) throw e;
        verdict = `${e.kind}${v.detail !== undefined ? ' ' + e.detail : ''}`;
        refused++;
      }
      const want = v.kind === undefined ? `accepted ${v.bytes ?? v.in}` : `${v.kind}${v.detail !== undefined ? ' ' + v.detail : ''}`;
      const bothRefusedFirstDefect = v.kind !== undefined && !verdict.startsWith('accepted') && structurallyBroken(hex(v.in));
      if (verdict !== want && !bothRefusedFirstDefect) wrong.push(`${v.in}: Go ${want}, TypeScript ${verdict}`);
    }
    expect(wrong.slice(0, 10)).toEqual([]);
    // The vectors exercise both sides of the decoder.
    expect(refused).toBeGreaterThan(100);
    expect(vectors.decode.length - refused).toBeGreaterThan(100);
  });
});
