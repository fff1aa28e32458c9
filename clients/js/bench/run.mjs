#!/usr/bin/env node
// Runs bench/ops.bench.ts: bundles it with the SDK sources it imports
// (esbuild, as build.mjs does) into a temporary file and runs that in Node.
//
//   nice node bench/run.mjs [sizes] [reps]      e.g. node bench/run.mjs 1000,10000,50000 3
//
// BENCH_WHOLE=0 leaves out View, encode and decode (whole-document paths).
// BENCH_FILE=react.bench.ts runs the React bindings' benchmark instead,
// BENCH_FILE=text.bench.ts the text replica on the editing traces (its
// arguments: [trace] [reps]; TRACE_DIR defaults to crdt/text/testdata).
//
// The figures and how they were taken are in BENCHMARKS.md.

import * as esbuild from 'esbuild';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'flowsync-bench-'));
process.env.TRACE_DIR ??= join(here, '..', '..', '..', 'crdt', 'text', 'testdata');
try {
  const out = join(dir, 'ops.bench.mjs');
  await esbuild.build({
    entryPoints: [join(here, process.env.BENCH_FILE ?? 'ops.bench.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    outfile: out,
    logLevel: 'warning',
  });
  await import(pathToFileURL(out).href);
} finally {
  await rm(dir, { recursive: true, force: true });
}
