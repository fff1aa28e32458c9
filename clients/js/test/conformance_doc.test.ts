// Cross-language conformance of the document codec and CRDT: replays the Go
// golden vectors (crdt/workflow/testdata/golden/vectors.json, written by
// crdt/workflow/golden_test.go) and requires byte-identical results. The
// deltas are taken from the file, so this checks decode, encode, merge,
// deltaSince, canonical values, contexts and chunking independently of the
// operations; the view is compared by the view's own conformance test.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Context } from '../src/crdt/context';
import { canonical, decode as decodeValue } from '../src/msgpackx/value';
import { Doc } from '../src/workflow/doc';
import { decode, decodeContext, DeltaCaps, DeltaLimits, DocLimits, encodeContext, type Caps } from '../src/workflow/encode';
import { DecodeError } from '../src/workflow/errors';

interface GoldenStep {
  replica?: string;
  ts?: { wall: number; logical: number };
  op?: { name: string; target: string; payload: Record<string, unknown> };
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

interface GoldenFile {
  version: number;
  cases: GoldenCase[];
  values: { json?: unknown; canonical: string; note?: string }[];
  contexts: { ranges: Record<string, [number, number][]>; bytes: string }[];
  chunks: { doc: string; limit: number; caps?: Caps; chunks: string[] }[];
  decode: { bytes: string; error?: 'FormatVersion' | 'Malformed'; doc?: string }[];
  capDecode: { bytes: string; caps: Caps; reason: string }[];
}

const path = fileURLToPath(new URL('../../../crdt/workflow/testdata/golden/vectors.json', import.meta.url));
const golden = JSON.parse(readFileSync(path, 'utf8')) as GoldenFile;

function bytes(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Compares bytes as hex, so a failure shows where they differ. */
function expectBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  expect(hex(got), what).toBe(hex(want));
}

function docOf(replica: string, docs: Map<string, Doc>): Doc {
  const d = docs.get(replica);
  if (d === undefined) throw new Error(`unknown replica ${replica}`);
  return d;
}

/** Replays a case from the file's deltas; returns the replicas' documents. */
function replay(c: GoldenCase): Map<string, Doc> {
  const docs = new Map(c.replicas.map((r) => [r, new Doc()] as [string, Doc]));
  c.steps.forEach((s, i) => {
    const where = `${c.name} step ${i}`;
    if (s.op !== undefined) {
      if (s.error !== undefined) {
        expect(s.delta, where).toBeUndefined();
        return;
      }
      const raw = bytes(s.delta!);
      const delta = decode(raw, DeltaLimits);
      expectBytes(delta.encode(), raw, `${where}: ${s.op.target}/${s.op.name} delta re-encodes`);
      docOf(s.replica!, docs).merge(delta);
    } else if (s.merge !== undefined) {
      docOf(s.merge.into, docs).merge(docOf(s.merge.from, docs).clone());
    } else if (s.deltaSince !== undefined) {
      const from = docOf(s.deltaSince.from, docs);
      const into = docOf(s.deltaSince.into, docs);
      const raw = bytes(s.delta!);
      expectBytes(from.deltaSince(into.context()).encode(), raw, `${where}: deltaSince ${s.deltaSince.from}→${s.deltaSince.into}`);
      const delta = decode(raw, DocLimits);
      expectBytes(delta.encode(), raw, `${where}: deltaSince delta re-encodes`);
      into.merge(delta);
    } else {
      throw new Error(`${where}: unknown step ${JSON.stringify(s)}`);
    }
  });
  return docs;
}

describe('golden vectors file', () => {
  it('is version 1 and has content', () => {
    expect(golden.version).toBe(1);
    expect(golden.cases.length).toBeGreaterThan(20);
    expect(golden.values.length).toBeGreaterThan(20);
  });
});

describe('golden cases: deltas, merges, deltaSince and final documents', () => {
  for (const c of golden.cases) {
    it(c.name, () => {
      const docs = replay(c);
      for (const r of c.replicas) {
        const want = bytes(c.final[r].doc);
        const d = docOf(r, docs);
        expectBytes(d.encode(), want, `${c.name}: final document of ${r}`);
        const back = decode(want, DocLimits);
        expect(back.equal(d), `${c.name}: decoded final of ${r} equals the replayed state`).toBe(true);
        expectBytes(back.encode(), want, `${c.name}: final of ${r} round-trips`);
      }
    });
  }

  it('merging the same deltas in reverse order reaches the same final documents when the case converged', () => {
    for (const c of golden.cases) {
      // Every delta of the case, joined in reverse into one document, must
      // equal the converged state: merge is commutative and idempotent.
      const finals = c.replicas.map((r) => c.final[r].doc);
      if (!finals.every((f) => f === finals[0])) continue;
      const all = new Doc();
      const deltas = c.steps.filter((s) => s.delta !== undefined).map((s) => decode(bytes(s.delta!), DocLimits));
      for (const d of [...deltas].reverse()) {
        all.merge(d);
        all.merge(d);
      }
      expectBytes(all.encode(), bytes(finals[0]), `${c.name}: reverse-order join`);
    }
  });
});

/** Normalizes what JSON cannot tell apart from what msgpack decode returns: -0 vs 0. */
function normalize(v: unknown): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

function hasBigint(v: unknown): boolean {
  if (typeof v === 'bigint') return true;
  if (Array.isArray(v)) return v.some(hasBigint);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.values(v).some(hasBigint);
  return false;
}

function hasBytes(v: unknown): boolean {
  if (v instanceof Uint8Array) return true;
  if (Array.isArray(v)) return v.some(hasBytes);
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasBytes);
  return false;
}

describe('golden canonical values', () => {
  it('encode from JSON to the same bytes as Go, and decode back to the same bytes', () => {
    for (const v of golden.values) {
      const want = bytes(v.canonical);
      const label = v.note ?? JSON.stringify(v.json)?.slice(0, 60);
      if ('json' in v) {
        expectBytes(canonical(v.json), want, `canonical(${label})`);
      }
      const decoded = decodeValue(want);
      expectBytes(canonical(decoded), want, `canonical(decode(${label}))`);
      if ('json' in v && !hasBigint(decoded)) {
        expect(normalize(decoded), `decode(${label})`).toEqual(normalize(v.json));
      }
      if (v.note !== undefined) {
        // The non-JSON values hold bin or integers beyond 2^53.
        expect(hasBytes(decoded) || hasBigint(decoded), `decode(${label}) holds bin or bigint`).toBe(true);
      }
    }
  });
});

describe('golden contexts', () => {
  it('encode and decode as Go does', () => {
    for (const c of golden.contexts) {
      const ctx = new Context();
      for (const [r, ranges] of Object.entries(c.ranges)) {
        for (const [lo, hi] of ranges) ctx.addRange(r, { lo, hi });
      }
      const want = bytes(c.bytes);
      expectBytes(encodeContext(ctx), want, `context ${JSON.stringify(c.ranges)}`);
      const back = decodeContext(want);
      expect(back.equal(ctx)).toBe(true);
      for (const [r, ranges] of Object.entries(c.ranges)) {
        expect(back.ranges(r).map((x) => [x.lo, x.hi])).toEqual(ranges);
      }
    }
  });
});

describe('golden chunks', () => {
  it('split documents at the same points as Go, and the chunks join to the document', () => {
    for (const c of golden.chunks) {
      const raw = bytes(c.doc);
      const d = decode(raw, DocLimits);
      const got = d.encodeChunks(c.limit, c.caps ?? DeltaCaps);
      expect(got.map(hex), `chunks at limit ${c.limit}, caps ${JSON.stringify(c.caps)}`).toEqual(c.chunks.map((x) => hex(bytes(x))));
      const joined = new Doc();
      for (const ch of [...got].reverse()) joined.merge(decode(ch, DeltaLimits));
      expect(joined.equal(d)).toBe(true);
    }
    expect(golden.chunks.some((c) => c.caps !== undefined)).toBe(true);
  });
});

describe('golden cap verdicts', () => {
  it('admit at each cap and refuse one past it, with the reason Go gives', () => {
    expect(golden.capDecode.length).toBeGreaterThan(8);
    for (const c of golden.capDecode) {
      const raw = bytes(c.bytes);
      let reason = '';
      try {
        expect(hex(decode(raw, DeltaLimits, c.caps).encode())).toBe(hex(raw));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        reason = err.reason ?? `(no reason: ${err.message})`;
      }
      expect(reason, `${c.bytes.slice(0, 40)}… under ${JSON.stringify(c.caps)}`).toBe(c.reason);
      // Without caps every one of them decodes.
      expect(() => decode(raw, DeltaLimits)).not.toThrow();
    }
  });
});

describe('golden decoder verdicts', () => {
  it('accept and refuse exactly the mutated inputs Go does, with the same error class and re-encoding', () => {
    expect(golden.decode.length).toBeGreaterThan(100);
    golden.decode.forEach((v, i) => {
      const input = bytes(v.bytes);
      let got: string;
      try {
        got = `doc ${Buffer.from(decode(input, DocLimits).encode()).toString('base64')}`;
      } catch (err) {
        got = err instanceof DecodeError ? `error ${err.code}` : `throws ${String(err)}`;
      }
      const want = v.error !== undefined ? `error ${v.error}` : `doc ${v.doc}`;
      expect(got, `decode vector ${i}: ${hex(input)}`).toBe(want);
    });
  });
});

// The same cases driven by the TypeScript operations: each op step is parsed
// with parseOp and applied at its timestamp, and the delta must be Go's byte
// for byte (or the refusal Go's error code). The operations are imported
// lazily so that a module mid-edit fails this test only, not the codec
// tests above.
describe('golden cases through the TypeScript operations', () => {
  it('every op step yields Go’s delta bytes or Go’s error code, and every replica ends with Go’s document', async () => {
    const { parseOp } = await import('../src/workflow/parse');
    const { apply } = await import('../src/workflow/builder');
    const { WorkflowError } = await import('../src/workflow/errors');
    const mismatches: string[] = [];
    let opSteps = 0;
    for (const c of golden.cases) {
      const docs = new Map(c.replicas.map((r) => [r, new Doc()] as [string, Doc]));
      c.steps.forEach((s, i) => {
        const where = `${c.name} step ${i}`;
        if (s.op !== undefined) {
          opSteps++;
          const doc = docOf(s.replica!, docs);
          let got: string;
          try {
            const op = parseOp(s.op.name, s.op.target, s.op.payload);
            got = `delta ${Buffer.from(apply(doc, { ...s.ts!, replica: s.replica! }, op).encode()).toString('base64')}`;
          } catch (err) {
            got = err instanceof WorkflowError ? `error ${err.code}` : `throws ${String(err)}`;
          }
          const want = s.error !== undefined ? `error ${s.error}` : `delta ${s.delta}`;
          if (got !== want) {
            mismatches.push(`${where} ${s.op.target}/${s.op.name}: got ${got.slice(0, 80)}, want ${want.slice(0, 80)}`);
            // Continue from Go's state so one mismatch does not cascade.
            if (s.delta !== undefined && !got.startsWith('delta')) doc.merge(decode(bytes(s.delta), DocLimits));
          }
        } else if (s.merge !== undefined) {
          docOf(s.merge.into, docs).merge(docOf(s.merge.from, docs).clone());
        } else if (s.deltaSince !== undefined) {
          const into = docOf(s.deltaSince.into, docs);
          const delta = docOf(s.deltaSince.from, docs).deltaSince(into.context());
          if (Buffer.from(delta.encode()).toString('base64') !== s.delta) mismatches.push(`${where}: deltaSince bytes differ`);
          into.merge(delta);
        }
      });
      for (const r of c.replicas) {
        if (Buffer.from(docOf(r, docs).encode()).toString('base64') !== c.final[r].doc) {
          mismatches.push(`${c.name}: final document of ${r} differs`);
        }
      }
    }
    expect(opSteps).toBeGreaterThan(300);
    expect(mismatches, `${mismatches.length} mismatches over ${opSteps} op steps`).toEqual([]);
  });
});
