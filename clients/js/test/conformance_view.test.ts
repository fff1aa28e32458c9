// Go → TypeScript conformance of the view: for every golden case written by
// crdt/workflow/golden_test.go, each replica's final document is decoded
// from Go's bytes, its view computed here and turned into JSON, and that
// JSON must deep-equal Go's json.Marshal(doc.View()) recorded next to it.
// The vectors are required: a missing file fails rather than skips, so the
// check cannot silently stop running.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decode } from '../src/workflow/encode';
import { viewToJSON } from '../src/workflow/json';
import { buildView } from '../src/workflow/view';

const vectorsPath = fileURLToPath(new URL('../../../crdt/workflow/testdata/golden/vectors.json', import.meta.url));

interface GoldenCase {
  name: string;
  replicas: string[];
  final: Record<string, { doc: string; view: unknown }>;
}

function load(): GoldenCase[] {
  let raw: string;
  try {
    raw = readFileSync(vectorsPath, 'utf8');
  } catch (e) {
    throw new Error(`golden vectors missing at ${vectorsPath} (go test -run Golden ./crdt/workflow writes them): ${e}`);
  }
  const file = JSON.parse(raw) as { version: number; cases: GoldenCase[] };
  if (file.version !== 1) throw new Error(`golden vectors version ${file.version}, this test reads version 1`);
  return file.cases;
}

/**
 * The JSON form of the view of Go's final document bytes. It is compared as
 * is, not through JSON.stringify, which would turn a -0 (which Go writes as
 * "-0" and JSON.parse keeps) into 0.
 */
function tsViewJSON(docBase64: string): unknown {
  const doc = decode(new Uint8Array(Buffer.from(docBase64, 'base64')));
  return viewToJSON(buildView(doc));
}

describe('golden vectors: the TypeScript view of Go documents equals Go’s view', () => {
  const cases = load();

  it('has cases with final states', () => {
    expect(cases.length).toBeGreaterThan(0);
    expect(cases.every((c) => Object.keys(c.final ?? {}).length > 0)).toBe(true);
  });

  for (const c of cases) {
    it(c.name, () => {
      for (const [replica, fin] of Object.entries(c.final)) {
        expect(tsViewJSON(fin.doc), `${c.name}: replica ${replica}`).toEqual(fin.view);
      }
    });
  }
});
