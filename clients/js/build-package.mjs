#!/usr/bin/env node
// Builds the publishable package into dist/ (not committed; `npm pack` runs
// it through the prepack script):
//
//   dist/index.js      src/index.ts and everything it imports, one ES module
//                      (not minified; the app's bundler minifies), with a
//                      source map
//   dist/react.js      src/react/index.ts, the React bindings
//                      (@flowsync/client/react): react stays an import (an
//                      optional peer dependency) and so does the SDK, as
//                      './index.js', so that an app importing both entry
//                      points holds one copy of the client's classes
//   dist/types/        the type declarations, one .d.ts per source file
//
// The SDK has no runtime dependencies, so the bundle holds the whole SDK.
// It is one file on purpose: some modules add methods to Doc when they are
// evaluated, which a bundler honouring "sideEffects": false could drop if
// they were separate files that nothing imports by name. Inside one file a
// bundler keeps those statements whenever it keeps the file. package.json
// says "sideEffects": ["./src/**"]: the published files (dist/) have none,
// while builds from the sources in this repository (this one, build.mjs's
// demo) keep every module they import, as before the field existed.
//
// tsc writes the declarations with the sources' extensionless relative
// imports ('./client/client'), which Node's ESM resolution (TypeScript's
// "node16"/"nodenext") refuses, so they are rewritten to the file they
// name ('./client/client.js', './persist/index.js').

import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const typesDir = join(dist, 'types');

async function main() {
  await rm(dist, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: [join(here, 'src/index.ts')],
    outfile: join(dist, 'index.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    charset: 'utf8',
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: here,
  });
  const react = await esbuild.build({
    entryPoints: [join(here, 'src/react/index.ts')],
    outfile: join(dist, 'react.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    charset: 'utf8',
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: here,
    packages: 'external',
    plugins: [sdkAsImport],
    metafile: true,
  });
  const reactDir = join(here, 'src/react');
  const foreign = Object.keys(react.metafile.inputs).filter((p) => !join(here, p).startsWith(reactDir + '/'));
  if (foreign.length > 0) {
    throw new Error(`dist/react.js bundled SDK sources (${foreign.join(', ')}): src/react must import the SDK from '../index' only`);
  }
  const tsc = join(here, 'node_modules/.bin/tsc');
  execFileSync(tsc, ['-p', join(here, 'tsconfig.build.json')], { stdio: 'inherit' });
  const n = await fixDeclarations(typesDir);
  console.log(`built ${relative(process.cwd(), dist) || '.'}: index.js, react.js (and their maps), types/ (${n} declaration files)`);
}

// sdkAsImport keeps src/react's import of the SDK ('../index') an import of
// the package's main bundle, which sits beside dist/react.js.
const sdkAsImport = {
  name: 'sdk-as-import',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/index$/ }, (args) =>
      dirname(args.importer) === join(here, 'src/react') ? { path: './index.js', external: true } : undefined,
    );
  },
};

// fixDeclarations rewrites every relative specifier in the .d.ts files under
// dir to name its .js file and returns how many files it read. A specifier
// that names no declaration file is an error: the types would not resolve.
async function fixDeclarations(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name));
  const spec = /(\bfrom\s*|\bimport\s*\(\s*|\bdeclare\s+module\s*|^\s*import\s*)(['"])(\.{1,2}\/[^'"]*)\2/gm;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const out = text.replace(spec, (_m, lead, q, s) => `${lead}${q}${resolveSpec(file, s)}${q}`);
    if (out !== text) await writeFile(file, out);
  }
  return files.length;
}

function resolveSpec(file, s) {
  if (s.endsWith('.js')) return s;
  const base = join(dirname(file), s);
  if (existsSync(`${base}.d.ts`)) return `${s}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${s.replace(/\/$/, '')}/index.js`;
  throw new Error(`${relative(here, file)}: '${s}' names no declaration file`);
}

main().catch((err) => {
  if (!err?.errors) console.error(err);
  console.error('package build FAILED');
  process.exit(1);
});
