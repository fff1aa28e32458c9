#!/usr/bin/env node
// Replays the editing traces of crdt/text/testdata into the flowsync
// TypeScript text replica (clients/js/bench/text.bench.ts, bundled from the
// SDK's sources), Yjs and Loro (npm yjs, loro-crdt, installed here and not
// in the SDK), alternating them within each repetition, so the figures are
// ratios measured in the same run on the same machine.
//
//   cd benchmarks/jstext && npm install && nice node run.mjs [traces] [reps]
//   e.g. nice node run.mjs automerge-paper,seph-blog1 5
//
// Per implementation: apply (every patch as one local edit, in a new
// document), the encoded document's size (with what merging late edits
// needs: flowsync's state, Yjs' update, Loro's snapshot) and load (a new
// document from those bytes, and its text). Every run checks the final
// text against the trace's. Medians of reps; BENCHMARKS.md has the figures.
//
// Positions: both traces hold no character outside the BMP (checked
// below), so UTF-16 indices (Yjs) and code points (flowsync, Loro) agree.

import * as esbuild from 'esbuild';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as Y from 'yjs';
import { LoroDoc } from 'loro-crdt';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const traceDir = join(root, 'crdt', 'text', 'testdata');

const dir = await mkdtemp(join(tmpdir(), 'flowsync-jstext-'));
let fs;
try {
  const out = join(dir, 'text.bench.mjs');
  await esbuild.build({
    entryPoints: [join(root, 'clients', 'js', 'bench', 'text.bench.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    outfile: out,
    logLevel: 'warning',
  });
  fs = await import(pathToFileURL(out).href);
} finally {
  await rm(dir, { recursive: true, force: true });
}

const yjs = {
  name: 'yjs',
  apply(tr) {
    const doc = new Y.Doc();
    const t = doc.getText('t');
    if (tr.startContent !== '') t.insert(0, tr.startContent);
    for (const [pos, del, ins] of tr.patches) {
      if (del > 0) t.delete(pos, del);
      if (ins !== '') t.insert(pos, ins);
    }
    return doc;
  },
  text: (doc) => doc.getText('t').toString(),
  encode: (doc) => Y.encodeStateAsUpdate(doc),
  load(b) {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, b);
    return doc;
  },
};

// Loro groups uncommitted operations into one change; committing after
// every patch (one change per keystroke, as the other two record them)
// is the fair setting and is measured as loro; loro-batch commits once.
function loroAdapter(name, commitEach) {
  return {
    name,
    apply(tr) {
      const doc = new LoroDoc();
      doc.setPeerId(1n);
      const t = doc.getText('t');
      if (tr.startContent !== '') t.insert(0, tr.startContent);
      for (const [pos, del, ins] of tr.patches) {
        if (del > 0) t.delete(pos, del);
        if (ins !== '') t.insert(pos, ins);
        if (commitEach) doc.commit();
      }
      doc.commit();
      return doc;
    },
    text: (doc) => doc.getText('t').toString(),
    encode: (doc) => doc.export({ mode: 'snapshot' }),
    load(b) {
      const doc = new LoroDoc();
      doc.import(b);
      return doc;
    },
  };
}

const adapters = [fs.flowsyncAdapter, yjs, loroAdapter('loro', true), loroAdapter('loro-batch', false)];
const traces = (process.argv[2] ?? 'automerge-paper,seph-blog1').split(',');
const reps = Number(process.argv[3] ?? 5);

console.log(`node ${process.version}, yjs and loro-crdt from benchmarks/jstext/package-lock.json, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const name of traces) {
  const tr = fs.readTrace(join(traceDir, `${name}.json.gz`));
  for (const [, , ins] of tr.patches) {
    for (let i = 0; i < ins.length; i++) {
      const c = ins.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdfff) throw new Error(`${name} has a character outside the BMP: UTF-16 and code point positions differ`);
    }
  }
  const res = new Map(adapters.map((a) => [a.name, { apply: [], load: [], size: 0 }]));
  for (let r = 0; r < reps; r++) {
    // Rotate the order each repetition so no implementation always runs
    // first (cold) or last (after the others' garbage).
    for (let k = 0; k < adapters.length; k++) {
      const a = adapters[(k + r) % adapters.length];
      const x = res.get(a.name);
      globalThis.gc?.();
      const [doc, ms] = fs.time(() => a.apply(tr));
      if (a.text(doc) !== tr.endContent) throw new Error(`${a.name}: ${name} ends with another text`);
      x.apply.push(ms);
      const b = a.encode(doc);
      x.size = b.length;
      const [back, lms] = fs.time(() => a.text(a.load(b)));
      if (back !== tr.endContent) throw new Error(`${a.name}: loaded ${name} has another text`);
      x.load.push(lms);
    }
  }
  const base = fs.median(res.get('yjs').apply);
  console.log(`\n${name}: ${tr.patches.length} patches, final ${tr.endContent.length} chars, ${reps} reps, load average now ${loadavg()[0].toFixed(2)}`);
  console.log('impl          apply ms (median)   vs yjs   load ms   size B');
  for (const a of adapters) {
    const x = res.get(a.name);
    const ap = fs.median(x.apply);
    console.log(
      `${a.name.padEnd(13)} ${ap.toFixed(1).padStart(10)}   ${(ap / base).toFixed(2).padStart(13)}×  ${fs.median(x.load).toFixed(1).padStart(8)}  ${String(x.size).padStart(8)}`,
    );
  }
}
