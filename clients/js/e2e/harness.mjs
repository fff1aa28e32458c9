// Infrastructure of the browser end-to-end tests: Chromium, the Go server
// binary and its processes, tokens, waiting, screenshots. The tests
// themselves are in run.mjs.

import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const jsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(jsDir, '../..');
export const resultsDir = join(jsDir, 'test-results');

export const CHROMIUM = process.env.FLOWSYNC_E2E_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const t0 = Date.now();
export function log(...args) {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  console.log(`[${s}s]`, ...args);
}

/** run runs a command to completion, echoing it; throws with its output on failure. */
export function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}:\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

/** ensureChromium installs Debian's chromium with apt-get when it is missing. */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  if (process.env.FLOWSYNC_E2E_CHROMIUM) {
    throw new Error(`FLOWSYNC_E2E_CHROMIUM=${CHROMIUM} does not exist`);
  }
  log(`${CHROMIUM} is missing: installing Debian's chromium package`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const apt = (...a) => {
    const [cmd, ...rest] = [...sudo, 'apt-get', ...a];
    return run(cmd, rest, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  try {
    apt('install', '-y', '--no-install-recommends', 'chromium');
  } catch {
    apt('update');
    apt('install', '-y', '--no-install-recommends', 'chromium');
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} does not exist`);
}

/** buildServer builds cmd/flowsync into dir (or uses FLOWSYNC_E2E_BIN). */
export function buildServer(dir) {
  if (process.env.FLOWSYNC_E2E_BIN) {
    log(`using the server binary FLOWSYNC_E2E_BIN=${process.env.FLOWSYNC_E2E_BIN}`);
    return process.env.FLOWSYNC_E2E_BIN;
  }
  const bin = join(dir, 'flowsync');
  run('go', ['build', '-o', bin, './cmd/flowsync'], { cwd: repoRoot });
  return bin;
}

/**
 * startServer runs `flowsync serve` on a kernel-chosen port of 127.0.0.1
 * and resolves once it reports its address and /readyz answers 200. Its
 * stderr (JSON logs) goes to test-results/server-<name>.log.
 */
export async function startServer(bin, name, extraArgs) {
  const args = ['serve', '--addr', '127.0.0.1:0', '--log-level', 'info', ...extraArgs];
  log(`starting server ${name}: ${bin} ${args.join(' ')}`);
  const logPath = join(resultsDir, `server-${name}.log`);
  const logFile = createWriteStream(logPath);
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const server = { name, proc, logPath, base: '', exited: null };
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  exited.then((e) => (server.exited = e));
  let buffered = '';
  const addr = new Promise((res, rej) => {
    proc.stderr.on('data', (chunk) => {
      logFile.write(chunk);
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const rec = JSON.parse(line);
          if (rec.msg === 'flowsync serving' && rec.addr) res(rec.addr);
        } catch {
          // not a log record (e.g. a flag error): kept in the log file
        }
      }
    });
    proc.stdout.on('data', (chunk) => logFile.write(chunk));
    exited.then((e) => rej(new Error(`server ${name} exited (${e.code ?? e.signal}) before serving; see ${logPath}`)));
  });
  server.stop = () => stopProcess(proc, exited).finally(() => logFile.end());
  try {
    const a = await withTimeout(addr, 20_000, `server ${name} to report its address (log: ${logPath})`);
    server.base = `http://${a}`;
    await waitFor(async () => {
      const r = await fetch(`${server.base}/readyz`).catch(() => null);
      return r?.status === 200;
    }, { timeout: 20_000, what: `server ${name}: /readyz 200` });
  } catch (err) {
    await server.stop();
    throw err;
  }
  log(`server ${name} ready at ${server.base}`);
  return server;
}

async function stopProcess(proc, exited) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    proc.kill('SIGKILL');
    await exited;
  }
}

export function sleep(ms) {
  return new Promise((res) => setTimeout(res, ms));
}

export async function withTimeout(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * waitFor polls cond (sync or async) every 50 ms until it returns a truthy
 * value, which it returns. On timeout it throws, naming what it waited for
 * and the last value of describe() (or the last error cond threw).
 */
export async function waitFor(cond, { timeout = 15_000, what = 'a condition', describe } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
      lastErr = undefined;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      let detail = '';
      if (describe) {
        try {
          detail = `\n  last state: ${await describe()}`;
        } catch (err) {
          detail = `\n  (describing the state failed: ${err.message})`;
        }
      }
      if (lastErr) detail += `\n  last error: ${lastErr.message}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleep(50);
  }
}

// --- JWT (HS256), as docs/PROTOCOL.md §4.1 describes

export function newSecret() {
  return randomBytes(32).toString('hex');
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function mintToken(secret, claims) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ iat: now, exp: now + 15 * 60, ...claims }));
  const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${sig}`;
}

export async function writeSecretFile(dir, name, secret) {
  const path = join(dir, name);
  await writeFile(path, secret + '\n', { mode: 0o600 });
  return path;
}

export async function ensureResultsDir() {
  await mkdir(resultsDir, { recursive: true });
}

/** canonical renders a JSON value with sorted object keys, for comparing views. */
export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
