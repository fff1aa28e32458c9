// The import graph of the SDK's sources, for the structure test
// (import_cycles.test.ts). Not a test file.
//
// Type-only imports count as edges: a cycle of types is still two modules
// that cannot be read, changed or moved one without the other, and it turns
// into a runtime cycle (with its half-initialised module) the day one of the
// imports starts carrying a value. TypeScript's own parser is not available
// from JavaScript in the compiler this project uses, so imports are found by
// scanning the text with comments removed.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A module's path relative to the root, with '/' separators (e.g. 'src/workflow/doc.ts'). */
export type ModulePath = string;
export type ImportGraph = Map<ModulePath, ModulePath[]>;

/**
 * stripComments blanks out // and /* comments, leaving string and template
 * literals alone ('ws://host' is not a comment) and every newline in place.
 */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && d === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

const patterns = [
  // import x from '…', import { a, type B } from '…', import type { T } from '…',
  // export { a } from '…', export * from '…', export * as ns from '…', over several lines.
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?[\w$*{}\s,]*?\s*from\s*(['"])([^'"\n]+)\1/g,
  // import '…' (for its side effects)
  /(?:^|[\s;])import\s*(['"])([^'"\n]+)\1/g,
  // import('…') and import type X = import('…')
  /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
];

/** specifiers returns the module specifiers a TypeScript source imports or re-exports from. */
export function specifiers(src: string): string[] {
  const text = stripComments(src);
  const out = new Set<string>();
  for (const re of patterns) {
    for (const m of text.matchAll(re)) out.add(m[2]);
  }
  return [...out];
}

/**
 * buildGraph resolves the relative imports of files (path → source text)
 * among themselves. Package imports ('vitest', 'node:fs') are not edges. A
 * relative import that matches no file throws: an unresolved edge would
 * hide a cycle instead of showing it.
 */
export function buildGraph(files: Map<ModulePath, string>): ImportGraph {
  const g: ImportGraph = new Map();
  for (const [file, src] of files) {
    const deps: ModulePath[] = [];
    for (const spec of specifiers(src)) {
      if (!spec.startsWith('./') && !spec.startsWith('../')) continue;
      const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const stem = base.replace(/\.js$/, '');
      const target = [base, `${stem}.ts`, `${stem}.tsx`, `${stem}/index.ts`].find((c) => files.has(c));
      if (!target) throw new Error(`${file}: cannot resolve import '${spec}'`);
      if (!deps.includes(target)) deps.push(target);
    }
    g.set(file, deps);
  }
  return g;
}

/** readSources reads every .ts and .tsx file under the given directories of root (a file map for buildGraph). */
export function readSources(root: string, dirs: string[]): Map<ModulePath, string> {
  const files = new Map<ModulePath, string>();
  for (const dir of dirs) {
    for (const e of readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !/\.tsx?$/.test(e.name) || e.name.endsWith('.d.ts')) continue;
      const abs = path.join(e.parentPath, e.name);
      files.set(path.relative(root, abs).split(path.sep).join('/'), readFileSync(abs, 'utf8'));
    }
  }
  return files;
}

/**
 * cycles returns one import cycle per strongly connected component of g
 * that has one (Tarjan's algorithm), each as the path a → b → … → a, sorted
 * so that the report is stable.
 */
export function cycles(g: ImportGraph): ModulePath[][] {
  let next = 0;
  const index = new Map<ModulePath, number>();
  const low = new Map<ModulePath, number>();
  const stack: ModulePath[] = [];
  const onStack = new Set<ModulePath>();
  const comps: ModulePath[][] = [];
  const visit = (v: ModulePath) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const comp: ModulePath[] = [];
      let w: ModulePath;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) comps.push(comp);
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return comps.map((comp) => cycleWithin(g, new Set(comp))).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** cycleWithin finds a shortest cycle through the smallest module of a strongly connected component. */
function cycleWithin(g: ImportGraph, comp: Set<ModulePath>): ModulePath[] {
  const start = [...comp].sort()[0];
  const prev = new Map<ModulePath, ModulePath>();
  const queue: ModulePath[] = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of g.get(v) ?? []) {
      if (!comp.has(w)) continue;
      if (w === start) {
        const p = [start];
        for (let x = v; x !== start; x = prev.get(x)!) p.splice(1, 0, x);
        return [...p, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`no cycle through ${start}`); // unreachable for a strongly connected component
}
