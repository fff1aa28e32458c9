// Real flowsync server processes for the client tests (not a test file):
// the Go binary, built once per test file (or FLOWSYNC_BIN), started on a
// free port with its own data directory.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './helpers';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** buildServer returns FLOWSYNC_BIN, or builds ./cmd/flowsync into dir. */
export function buildServer(dir: string): string {
  if (process.env.FLOWSYNC_BIN) return process.env.FLOWSYNC_BIN;
  const bin = path.join(dir, 'flowsync');
  execFileSync('go', ['build', '-o', bin, './cmd/flowsync'], { cwd: repoRoot, stdio: 'inherit' });
  return bin;
}

/** A `flowsync serve` process; start it again after stop to restart it on the same port and data. */
export class TestServer {
  proc: ChildProcess | null = null;
  port = 0;
  log = '';
  readonly dataDir: string;
  bin = '';

  constructor(
    readonly name: string,
    readonly args: string[],
    tmp: string,
  ) {
    this.dataDir = mkdtempSync(path.join(tmp, name + '-'));
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/sync`;
  }

  get httpBase(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** start runs the server and resolves once /readyz answers 200. */
  async start(bin = this.bin): Promise<void> {
    this.bin = bin;
    if (!this.port) this.port = await freePort();
    const p = spawn(bin, ['serve', '--addr', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir, '--log-level', 'warn', ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.stdout!.on('data', (d) => (this.log += d));
    p.stderr!.on('data', (d) => (this.log += d));
    this.proc = p;
    await waitFor(
      `${this.name} ready`,
      async () => {
        if (p.exitCode !== null) throw new Error(`${this.name} exited: ${this.log}`);
        try {
          return (await fetch(`${this.httpBase}/readyz`)).status === 200;
        } catch {
          return false; // not listening yet
        }
      },
      15_000,
    );
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    this.proc = null;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }
}
