// Go → TypeScript conformance for string values that are not valid UTF-8.
// crdt/workflow/golden_test.go writes documents whose names, types, sub-block
// values, data, variables and an edge handle hold invalid UTF-8 (cells written
// directly, as a raw delta could), with Go's json.Marshal(doc.View()), Go's
// NormalizeName of every block name, and operations whose name and
// precondition checks read those values. Go turns each byte utf8.DecodeRune
// refuses into one U+FFFD; the TypeScript replica must do the same everywhere.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { apply } from '../src/workflow/builder';
import { decode } from '../src/workflow/encode';
import { WorkflowError } from '../src/workflow/errors';
import { viewToJSON } from '../src/workflow/json';
import { parseOp, type Payload } from '../src/workflow/parse';
import { normalizeName } from '../src/workflow/state';
import { buildView } from '../src/workflow/view';

const vectorsPath = fileURLToPath(new URL('../../../crdt/workflow/testdata/golden/vectors.json', import.meta.url));

interface InvalidCase {
  name: string;
  doc: string;
  view: unknown;
  normalized: Record<string, string>;
  ops: { replica: string; ts: { wall: number; logical: number }; op: { name: string; target: string; payload: Payload }; delta?: string; error?: string }[];
}

const raw = readFileSync(vectorsPath);
const file = JSON.parse(raw.toString('utf8')) as { invalidUtf8?: InvalidCase[] };
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

describe('golden vectors: invalid UTF-8 in values reads as in Go', () => {
  it('the vectors are present and the file itself is valid UTF-8', () => {
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(raw)).not.toThrow();
    expect(file.invalidUtf8?.length ?? 0).toBeGreaterThan(0);
    // The case really holds invalid UTF-8 (inside base64 only).
    const doc = unb64(file.invalidUtf8![0].doc);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(doc)).toThrow();
  });

  for (const c of file.invalidUtf8 ?? []) {
    it(`${c.name}: view JSON equals Go's`, () => {
      const doc = decode(unb64(c.doc));
      expect(b64(doc.encode())).toBe(c.doc); // the raw bytes survive the round trip
      expect(viewToJSON(buildView(doc))).toEqual(c.view);
      // Spot checks that would have failed with TextDecoder's rule.
      const v = c.view as { blocks: Record<string, { name: string }> };
      expect(v.blocks.b1.name).toBe('Ab\ufffd\ufffdC');
      expect(v.blocks.b5.name.startsWith('\ufeff')).toBe(true);
    });

    it(`${c.name}: NormalizeName of every block name equals Go's`, () => {
      const view = buildView(decode(unb64(c.doc)));
      const got: Record<string, string> = {};
      for (const id of Object.keys(view.blocks)) got[id] = normalizeName(view.blocks[id].name);
      expect(got).toEqual(c.normalized);
    });

    it(`${c.name}: operations reading the values give Go's delta or error`, () => {
      expect(c.ops.length).toBeGreaterThan(0);
      for (const step of c.ops) {
        const doc = decode(unb64(c.doc));
        const ts = { wall: step.ts.wall, logical: step.ts.logical, replica: step.replica };
        let got: string;
        try {
          got = b64(apply(doc, ts, parseOp(step.op.name, step.op.target, step.op.payload)).encode());
        } catch (e) {
          if (!(e instanceof WorkflowError)) throw e;
          got = `error ${e.code}`;
        }
        const want = step.error !== undefined ? `error ${step.error}` : step.delta;
        expect(got, `${step.op.target}/${step.op.name} ${JSON.stringify(step.op.payload)}`).toBe(want);
      }
    });
  }
});
