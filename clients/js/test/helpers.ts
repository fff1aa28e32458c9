// Helpers shared by the client and persistence tests (not a test file).
import net from 'node:net';
import type { FlowsyncClient } from '../src/index';
import type { LockManagerLike } from '../src/persist';

/** An in-process Web Locks stand-in (Node has no navigator.locks): exclusive, ifAvailable only. */
export class TestLocks implements LockManagerLike {
  readonly held = new Set<string>();
  async request(name: string, opts: { ifAvailable?: boolean }, cb: (lock: unknown) => unknown): Promise<unknown> {
    if (this.held.has(name)) {
      if (!opts.ifAvailable) throw new Error('TestLocks supports ifAvailable only');
      return cb(null);
    }
    this.held.add(name);
    try {
      return await cb({ name });
    } finally {
      this.held.delete(name);
    }
  }
}

/** freePort asks the kernel for a free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * waitFor polls cond (which may be async) every 20 ms until it holds, and
 * fails, naming what, after timeoutMs. It is how a test waits for a real
 * server or process: never a fixed sleep, which is either too short on a
 * busy machine or wasted time on an idle one. (It runs on real timers:
 * under vitest's fake timers, advance them instead.)
 */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** varNames lists the names of the variables in c's view, sorted. */
export const varNames = (c: FlowsyncClient) =>
  Object.values(c.view().variables)
    .map((v) => v.name)
    .sort();
