// Cross-language conformance of the operations: replays every case of the
// Go golden vectors (crdt/workflow/golden_test.go) in TypeScript, parsing each
// operation with parseOp and applying it at the step's timestamp, and checks
// that every delta is byte-identical to Go's (or that the same typed error is
// raised), that merges and deltaSince transfers land the same, and that every
// replica ends with the same encoded document.

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Doc } from '../src/workflow/doc';
import { decode } from '../src/workflow/encode';
import { WorkflowError } from '../src/workflow/errors';
import { apply } from '../src/workflow/builder';
import { operations, parseOp, type Payload } from '../src/workflow/parse';

interface GoldenStep {
  replica?: string;
  ts?: { wall: number; logical: number };
  op?: { name: string; target: string; payload: Payload };
  merge?: { from: string; into: string };
  deltaSince?: { from: string; into: string };
  delta?: string;
  error?: string;
}

interface GoldenCase {
  name: string;
  replicas: string[];
  steps: GoldenStep[];
  final: Record<string, { doc: string; view: unknown }>;
}

const vectorsURL = new URL('../../../crdt/workflow/testdata/golden/vectors.json', import.meta.url);
const cases = (JSON.parse(readFileSync(vectorsURL, 'utf8')) as { cases: GoldenCase[] }).cases;

/**
 * Extra vector files in the same format (comma-separated paths), replayed
 * after the committed ones: how a randomized scenario dump from the Go side
 * is checked against this replica without committing it.
 */
const extraCases: GoldenCase[] = (process.env.FLOWSYNC_OPS_VECTORS ?? '')
  .split(',')
  .filter((f) => f !== '')
  .flatMap((f) => (JSON.parse(readFileSync(f, 'utf8')) as { cases: GoldenCase[] }).cases);

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

const tally = { opSteps: 0, opMatched: 0, deltaSteps: 0, deltaMatched: 0, errorSteps: 0, errorMatched: 0, sinceSteps: 0, sinceMatched: 0, finals: 0, finalsMatched: 0 };

afterAll(() => {
  // The summary the report quotes: how many golden op steps match byte for byte.
  console.log(
    `golden op steps: ${tally.opMatched}/${tally.opSteps} match ` +
      `(deltas ${tally.deltaMatched}/${tally.deltaSteps}, errors ${tally.errorMatched}/${tally.errorSteps}); ` +
      `deltaSince transfers ${tally.sinceMatched}/${tally.sinceSteps}; final documents ${tally.finalsMatched}/${tally.finals}`,
  );
});

describe('golden operation vectors', () => {
  it('covers every operation pair', () => {
    const seen = new Set(cases.flatMap((c) => c.steps.flatMap((s) => (s.op ? [`${s.op.target}/${s.op.name}`] : []))));
    const missing = operations()
      .map(([t, o]) => `${t}/${o}`)
      .filter((k) => !seen.has(k));
    expect(missing).toEqual([]);
  });

  it('notices a delta that differs (the comparison is not vacuous)', () => {
    // Replaying the first successful step one millisecond later must change
    // the bytes: the timestamp is part of every written cell.
    const c = cases[0];
    const i = c.steps.findIndex((s) => s.op !== undefined && s.delta !== undefined);
    const step = c.steps[i];
    const doc = new Doc();
    for (const prev of c.steps.slice(0, i)) {
      if (prev.op !== undefined && prev.delta !== undefined) doc.merge(decode(unb64(prev.delta)));
    }
    const replica = step.replica as string;
    const ts = { wall: step.ts!.wall + 1, logical: step.ts!.logical, replica };
    const delta = apply(doc, ts, parseOp(step.op!.name, step.op!.target, step.op!.payload));
    expect(b64(delta.encode())).not.toBe(step.delta);
  });

  for (const c of [...cases, ...extraCases]) {
    it(c.name, () => {
      const docs = new Map<string, Doc>(c.replicas.map((r) => [r, new Doc()]));
      const mismatches: string[] = [];
      c.steps.forEach((step, i) => {
        const where = `step ${i}`;
        if (step.op !== undefined) {
          tally.opSteps++;
          const replica = step.replica as string;
          const doc = docs.get(replica) as Doc;
          const ts = { wall: step.ts!.wall, logical: step.ts!.logical, replica };
          let delta: Doc | undefined;
          let err: unknown;
          try {
            delta = apply(doc, ts, parseOp(step.op.name, step.op.target, step.op.payload));
          } catch (e) {
            err = e;
          }
          if (err !== undefined && !(err instanceof WorkflowError)) throw err;
          const gotError = err instanceof WorkflowError ? err.code : undefined;
          if (step.error !== undefined) {
            tally.errorSteps++;
            if (gotError === step.error) {
              tally.errorMatched++;
              tally.opMatched++;
            } else {
              mismatches.push(`${where} ${step.op.target}/${step.op.name}: got ${gotError ?? 'a delta'}, want error ${step.error}`);
            }
            return;
          }
          tally.deltaSteps++;
          if (delta !== undefined && b64(delta.encode()) === step.delta) {
            tally.deltaMatched++;
            tally.opMatched++;
            return;
          }
          mismatches.push(
            `${where} ${step.op.target}/${step.op.name} ${JSON.stringify(step.op.payload).slice(0, 200)}: ` +
              (delta === undefined ? `got error ${String(err)}` : `delta ${b64(delta.encode())}\n   want ${step.delta}`),
          );
          // Keep replaying with Go's delta merged too, so one mismatch does not
          // hide the rest (later steps may still diverge because of it).
          doc.merge(decode(unb64(step.delta as string)));
          return;
        }
        if (step.merge !== undefined) {
          const from = docs.get(step.merge.from) as Doc;
          const into = docs.get(step.merge.into) as Doc;
          into.merge(decode(from.encode()));
          return;
        }
        if (step.deltaSince !== undefined) {
          const from = docs.get(step.deltaSince.from) as Doc;
          const into = docs.get(step.deltaSince.into) as Doc;
          const delta = from.deltaSince(into.context());
          tally.sinceSteps++;
          if (b64(delta.encode()) === step.delta) tally.sinceMatched++;
          else mismatches.push(`${where} deltaSince ${step.deltaSince.from}→${step.deltaSince.into}: bytes differ`);
          into.merge(delta);
        }
      });
      for (const r of c.replicas) {
        tally.finals++;
        const got = b64((docs.get(r) as Doc).encode());
        if (got === c.final[r].doc) tally.finalsMatched++;
        else mismatches.push(`final document of ${r} differs`);
      }
      expect(mismatches).toEqual([]);
    });
  }
});
