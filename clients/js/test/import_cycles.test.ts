// The structure of the SDK's sources: no import cycles (type-only imports
// included), and the directories of src/ import only the layers below them,
// as the Go packages they port do. A cycle makes modules that can only be
// understood, changed and loaded together (and a runtime cycle hands one of
// them a half-initialised module); an upward import is how cycles start.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildGraph, cycles, readSources, specifiers, type ImportGraph } from './importgraph';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * What each directory of src/ may import besides itself. The order follows
 * the Go layers: crdt ← msgpackx ← workflow, msgpackx ← protocol, and the
 * client on top of everything; persist stores bytes and needs none of them.
 * The React bindings import the SDK through its entry point (src/index.ts,
 * layer '') only, as the published dist/react.js imports dist/index.js.
 */
const layers: Record<string, string[]> = {
  crdt: [],
  // The text CRDT encodes its own deltas, as Go's crdt/text does.
  'crdt/text': ['crdt', 'msgpackx'],
  msgpackx: ['crdt'],
  // Texts in the document are crdt/text replicas, as in Go's crdt/workflow.
  workflow: ['crdt', 'crdt/text', 'msgpackx'],
  protocol: ['crdt', 'msgpackx'],
  persist: [],
  client: ['crdt', 'crdt/text', 'msgpackx', 'workflow', 'protocol', 'persist'],
  react: [''],
};

/** layerOf names the directory of src/ a module belongs to ('' for src/index.ts and modules outside src/). */
function layerOf(m: string): string {
  const parts = m.split('/');
  if (parts[0] === 'src' && parts[1] === 'crdt' && parts[2] === 'text' && parts.length > 3) return 'crdt/text';
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : '';
}

function upwardImports(g: ImportGraph): string[] {
  const bad: string[] = [];
  for (const [from, deps] of g) {
    const l = layerOf(from);
    if (l === '') continue;
    const allowed = layers[l];
    if (!allowed) {
      bad.push(`${from}: directory src/${l} has no entry in the layer table`);
      continue;
    }
    for (const to of deps) {
      const t = layerOf(to);
      if (t !== l && !allowed.includes(t)) bad.push(`${from} → ${to}`);
    }
  }
  return bad.sort();
}

const show = (cs: string[][]) => cs.map((c) => c.join(' → '));

describe('import graph of the sources', () => {
  const graph = buildGraph(readSources(root, ['src', 'demo']));

  it('reads every source file', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('src/index.ts')).toContain('src/client/client.ts');
    expect(graph.get('demo/main.ts')).toContain('src/index.ts');
    expect(graph.get('demo/react/main.tsx')).toContain('src/react/index.ts');
    expect(graph.get('demo/react/main.tsx')).toContain('demo/react/app.tsx');
  });

  it('has no import cycle', () => {
    expect(show(cycles(graph))).toEqual([]);
  });

  it('imports point down the layers', () => {
    expect(upwardImports(graph)).toEqual([]);
  });
});

describe('the import scanner and cycle finder', () => {
  const files = (m: Record<string, string>) => buildGraph(new Map(Object.entries(m)));

  it('finds every form of import and ignores comments and strings that look like them', () => {
    const src = [
      "import { a, type B } from './a';",
      "import type {\n  C,\n  D,\n} from './b';",
      "import './side-effect';",
      "export * from './c';",
      "export * as ns from './d';",
      "export { e } from './e';",
      "type F = import('./f').F;",
      "// import { x } from './commented';",
      "/* import { y } from './block-comment'; */",
      "const url = 'ws://host/v1'; import z from 'package';",
    ].join('\n');
    expect(specifiers(src).sort()).toEqual(['./a', './b', './c', './d', './e', './f', './side-effect', 'package']);
  });

  it('reports a cycle of type-only imports, with its path', () => {
    const g = files({
      'src/x/a.ts': "import { b } from './b';",
      'src/x/b.ts': "import type { C } from './c';",
      'src/x/c.ts': "export type C = 1;\nimport { a } from './a';",
      'src/x/d.ts': "import { a } from './a';",
    });
    expect(show(cycles(g))).toEqual(['src/x/a.ts → src/x/b.ts → src/x/c.ts → src/x/a.ts']);
  });

  it('reports each cycle once, self-imports included, and nothing for a DAG', () => {
    const g = files({
      'a.ts': "import './b';",
      'b.ts': "import './a';",
      'c.ts': "import './c';",
      'd.ts': "import './e';",
      'e.ts': 'export {};',
    });
    expect(show(cycles(g))).toEqual(['a.ts → b.ts → a.ts', 'c.ts → c.ts']);
    expect(cycles(files({ 'd.ts': "import './e';", 'e.ts': '' }))).toEqual([]);
  });

  it('resolves directories to their index and refuses an unresolved relative import', () => {
    const g = files({ 'src/a.ts': "import { p } from './p';", 'src/p/index.ts': '' });
    expect(g.get('src/a.ts')).toEqual(['src/p/index.ts']);
    expect(() => files({ 'src/a.ts': "import { q } from './missing';" })).toThrow(/cannot resolve/);
  });

  it('flags an upward import between layers', () => {
    const g = files({
      'src/crdt/dot.ts': "import { Doc } from '../workflow/doc';",
      'src/workflow/doc.ts': "import { Dot } from '../crdt/dot';",
    });
    expect(upwardImports(g)).toEqual(['src/crdt/dot.ts → src/workflow/doc.ts']);
  });
});
