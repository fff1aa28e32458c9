#!/usr/bin/env node
// Checks the package as people install it: `npm pack` (which builds dist/
// through prepack), then, in a scratch project in a temporary directory,
// `npm install <tarball>` and use of the installed package
//
//   - from Node as an ES module (open a client offline, edit, read the view),
//   - through a bundler (esbuild, for the browser; the bundle is then run),
//   - from TypeScript: `tsc --noEmit` against the installed declarations,
//     with "moduleResolution" both "nodenext" and "bundler",
//
// and the React bindings (@flowsync/client/react) the same three ways with
// react and react-dom installed beside it (an optional peer dependency: the
// versions this repository tests with, from npm's cache), and that the
// tarball holds what package.json promises and nothing of the sources or
// tests. Offline: the SDK has no runtime dependencies, and `npm ci` has put
// react in the cache.
//
//   node pack-check.mjs            (CI: clients/js/ci.sh)
//   node pack-check.mjs --keep     keep the scratch directory and say where

import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const keep = process.argv.includes('--keep');
const pkg = JSON.parse(await readFile(join(here, 'package.json'), 'utf8'));

function run(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function fail(msg) {
  throw new Error(`pack check: ${msg}`);
}

// What the consumer runs in Node: the public API, offline, end to end.
const nodeApp = `
import { FlowsyncClient, AddBlock, statusLabel, protocol, Code } from '@flowsync/client';
import pkg from '@flowsync/client/package.json' with { type: 'json' };
const client = await FlowsyncClient.open({
  url: 'ws://127.0.0.1:1/v1/sync', token: 't', workflowId: 'wf',
  persistence: 'memory', autoConnect: false, locks: null, tabSessionId: 'tab',
  WebSocket: class NeverDialled {}, // autoConnect false: Node 20 has no global WebSocket
});
client.apply(new AddBlock({ block: { id: 'b1', type: 'agent', name: 'Writer', position: { x: 1, y: 2 } } }));
client.applyWire('update-name', 'block', { id: 'b1', name: 'Editor' });
const view = client.view();
const out = {
  name: view.blocks.b1?.name,
  pending: client.status().pending,
  label: client.status().label,
  saved: statusLabel('live', 0),
  codec: typeof protocol.encodeFrame,
  code: typeof Code,
  version: pkg.version,
};
await client.close();
console.log(JSON.stringify(out));
`;

// What the consumer type-checks: the declarations must describe the API.
const tsApp = `
import { FlowsyncClient, AddBlock, type SyncStatus, type View, FlowsyncError } from '@flowsync/client';
export async function main(): Promise<string> {
  const client: FlowsyncClient = await FlowsyncClient.open({ url: 'ws://x/v1/sync', token: 't', workflowId: 'wf' });
  client.on('status', (s: SyncStatus) => void s.label);
  client.apply(new AddBlock({ block: { id: 'b1', type: 'agent', name: 'W', position: { x: 1, y: 2 } } }));
  const v: View = client.view();
  // @ts-expect-error: an unknown option must not type-check (the types are real, not any)
  await FlowsyncClient.open({ url: 'ws://x', token: 't', workflowId: 'wf', nope: 1 });
  const e: unknown = null;
  if (e instanceof FlowsyncError) return e.kind;
  return v.blocks['b1']?.name ?? '';
}
`;

// The React bindings from Node: render a provider and hooks to a string.
// The client comes from the main entry point: the bindings must take it
// (one copy of the SDK, not a second one inside dist/react.js).
const reactApp = `
import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';
import { FlowsyncClient } from '@flowsync/client';
import { FlowsyncProvider, useBlock, useStatus, useWorkflow } from '@flowsync/client/react';
const client = await FlowsyncClient.open({
  url: 'ws://127.0.0.1:1/v1/sync', token: 't', workflowId: 'wf',
  persistence: 'memory', autoConnect: false, locks: null, tabSessionId: 'tab',
  WebSocket: class NeverDialled {},
});
client.applyWire('add', 'block', { id: 'b1', type: 'agent', name: 'Writer', position: { x: 1, y: 2 } });
function Row({ id }) { return h('li', null, useBlock(id)?.name ?? '?'); }
function App() {
  const order = useWorkflow((v) => v.order);
  const s = useStatus();
  return h('div', null, h('p', null, s.label), h('ul', null, order.map((id) => h(Row, { key: id, id }))));
}
const html = renderToString(h(FlowsyncProvider, { client }, h(App)));
await client.close();
console.log(JSON.stringify({ html }));
`;

const reactTsApp = `
import { FlowsyncClient } from '@flowsync/client';
import { FlowsyncProvider, useBlock, useOperations, usePresence, useStatus, useWorkflow, type FlowsyncStatus } from '@flowsync/client/react';
function Row({ id }: { id: string }) {
  const b = useBlock(id);
  const ops = useOperations();
  const others: number = usePresence((p) => p.others.length);
  return <li onClick={() => ops.applyWire('update-name', 'block', { id, name: 'x' })}>{b?.name}{others}</li>;
}
export function App({ client }: { client: FlowsyncClient }) {
  const order: string[] = useWorkflow((v) => v.order);
  const s: FlowsyncStatus = useStatus();
  // @ts-expect-error: a selector's result is typed (the types are real, not any)
  const wrong: string = useWorkflow((v) => v.order);
  void wrong;
  return <FlowsyncProvider client={client}><p>{s.label}</p>{order.map((id) => <Row key={id} id={id} />)}</FlowsyncProvider>;
}
`;

/** installedVersion reads the version of a package installed in this repository (what the tests ran with). */
async function installedVersion(name) {
  return JSON.parse(await readFile(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
}

async function main() {
  const scratch = await mkdtemp(join(tmpdir(), 'flowsync-pack-'));
  try {
    // 1. Pack (prepack builds dist/).
    // prepack prints the build's summary first.
    const packOut = run('npm', ['pack', '--json', '--silent', '--pack-destination', scratch], here);
    const packed = JSON.parse(packOut.slice(packOut.search(/^\[/m)));
    const info = packed[0];
    const files = info.files.map((f) => f.path).sort();
    const tarball = join(scratch, info.filename);
    for (const want of ['package.json', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/types/index.d.ts', 'dist/react.js', 'dist/types/react/index.d.ts']) {
      if (!files.includes(want)) fail(`the tarball lacks ${want} (has ${files.join(', ')})`);
    }
    const stray = files.filter((f) => !/^(package\.json|README\.md|CHANGELOG\.md|LICENSE|dist\/)/.test(f));
    if (stray.length > 0) fail(`the tarball holds files it should not: ${stray.join(', ')}`);
    if (info.version !== pkg.version) fail(`packed version ${info.version}, package.json says ${pkg.version}`);

    // 2. Install it into a scratch project.
    const app = join(scratch, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], app);
    const installed = JSON.parse(await readFile(join(app, 'node_modules/@flowsync/client/package.json'), 'utf8'));
    if (installed.dependencies && Object.keys(installed.dependencies).length > 0) {
      fail('the package gained runtime dependencies: this check installs offline and must be revisited');
    }

    if (installed.peerDependencies?.react === undefined || installed.peerDependenciesMeta?.react?.optional !== true) {
      fail('react must be an optional peer dependency');
    }
    if (existsSync(join(app, 'node_modules/react'))) fail('installing the package installed react: the peer dependency must be optional');

    // 3. Node, as an ES module.
    await writeFile(join(app, 'node-app.mjs'), nodeApp);
    const got = JSON.parse(run(process.execPath, ['node-app.mjs'], app));
    const want = { name: 'Editor', pending: 2, label: 'offline (2 pending)', saved: 'saved', codec: 'function', code: 'object', version: pkg.version };
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(`node: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);

    // 4. A bundler, for the browser; the bundle runs too (it needs nothing of the browser offline).
    await writeFile(join(app, 'bundle-app.mjs'), nodeApp.replace(/\nimport pkg.*\n/, "\nconst pkg = { version: '" + pkg.version + "' };\n"));
    const bundled = await esbuild.build({
      entryPoints: [join(app, 'bundle-app.mjs')], bundle: true, format: 'esm', platform: 'browser',
      target: 'es2022', write: true, outfile: join(app, 'out/app.js'), absWorkingDir: app, logLevel: 'error',
      metafile: true,
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    if (!inputs.some((p) => p.endsWith('node_modules/@flowsync/client/dist/index.js'))) {
      fail(`the bundler did not take the package's dist/index.js (inputs: ${inputs.join(', ')})`);
    }
    const gotBundle = JSON.parse(run(process.execPath, ['out/app.js'], app));
    if (JSON.stringify(gotBundle) !== JSON.stringify(want)) fail(`bundle: got ${JSON.stringify(gotBundle)}, want ${JSON.stringify(want)}`);
    // Bundlers may drop what an app does not use: a bare import costs
    // nothing ("sideEffects": false), one small function far less than the
    // client (minified sizes).
    const size = async (file, contents) => {
      await writeFile(join(app, file), contents);
      const r = await esbuild.build({
        entryPoints: [join(app, file)], bundle: true, format: 'esm', platform: 'browser', minify: true,
        write: false, absWorkingDir: app, logLevel: 'error',
      });
      return r.outputFiles[0].contents.length;
    };
    const full = await size('full.mjs', await readFile(join(app, 'bundle-app.mjs'), 'utf8'));
    const part = await size('small.mjs', "import { statusLabel } from '@flowsync/client';\nconsole.log(statusLabel('live', 0));\n");
    const bare = await size('bare.mjs', "import '@flowsync/client';\n");
    if (bare > 0) fail(`sideEffects: a bare import of the package bundles to ${bare} bytes, want 0`);
    if (part * 2 > full) fail(`tree shaking: statusLabel alone bundles to ${part} bytes, the client to ${full}`);

    // 5. The React bindings, with react installed (as an app that uses them would).
    const reactPkgs = await Promise.all(['react', 'react-dom', '@types/react'].map(async (n) => `${n}@${await installedVersion(n)}`));
    // The versions the SDK's own install holds: from the cache when it has
    // their metadata, else from the registry (npm ci caches tarballs only, so
    // a fresh machine's cache cannot resolve a name@version offline).
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...reactPkgs], app);
    await writeFile(join(app, 'react-app.mjs'), reactApp);
    const wantHtml = '<div><p>offline (1 pending)</p><ul><li>Writer</li></ul></div>';
    const gotReact = JSON.parse(run(process.execPath, ['react-app.mjs'], app));
    if (gotReact.html !== wantHtml) fail(`react (node): got ${gotReact.html}, want ${wantHtml}`);
    const reactBundle = await esbuild.build({
      entryPoints: [join(app, 'react-app.mjs')], bundle: true, format: 'esm', platform: 'node',
      target: 'es2022', write: true, outfile: join(app, 'out/react-app.js'), absWorkingDir: app, logLevel: 'error',
      metafile: true, define: { 'process.env.NODE_ENV': '"production"' },
      // react-dom/server's Node build requires Node's modules (streams, util).
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const reactInputs = Object.keys(reactBundle.metafile.inputs);
    for (const f of ['dist/index.js', 'dist/react.js']) {
      if (!reactInputs.some((p) => p.endsWith(`node_modules/@flowsync/client/${f}`))) fail(`the bundler did not take the package's ${f} (inputs: ${reactInputs.join(', ')})`);
    }
    const gotReactBundle = JSON.parse(run(process.execPath, ['out/react-app.js'], app));
    if (gotReactBundle.html !== wantHtml) fail(`react (bundle): got ${gotReactBundle.html}, want ${wantHtml}`);

    // 6. TypeScript against the installed declarations (skipLibCheck off: the .d.ts are checked too).
    await writeFile(join(app, 'app.ts'), tsApp);
    await writeFile(join(app, 'react-app.tsx'), reactTsApp);
    const tsc = join(here, 'node_modules/.bin/tsc');
    for (const [module, resolution] of [['nodenext', 'nodenext'], ['esnext', 'bundler']]) {
      await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          target: 'es2022', module, moduleResolution: resolution, strict: true, noEmit: true,
          skipLibCheck: false, lib: ['es2022', 'dom'], types: [], jsx: 'react-jsx',
        },
        files: ['app.ts', 'react-app.tsx'],
      }));
      try {
        run(tsc, ['-p', '.'], app);
      } catch (err) {
        fail(`tsc (moduleResolution ${resolution}) failed on the installed package:\n${err.stdout ?? err.message}`);
      }
    }
    console.log(`pack check ok: ${info.filename} (${files.length} files, ${info.size} bytes packed), ` +
      `installed offline; Node ESM, esbuild (statusLabel alone ${part} of ${full} bytes) and tsc (nodenext, bundler) all use it, ` +
      `and its React bindings (with ${reactPkgs.join(', ')})`);
  } finally {
    if (keep) console.log(`scratch kept: ${scratch}`);
    else await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.message ?? err);
  console.error('pack check FAILED');
  process.exit(1);
});
