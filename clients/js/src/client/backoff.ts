// Capped exponential backoff with full jitter (PROTOCOL.md §6): before retry
// attempt n (from 0) wait a uniformly random time in [0, min(cap, base·2^n)].
// Full jitter spreads a crowd of clients that lost the same server over the
// whole window instead of bunching them at its edge.

export const DefaultBackoffBaseMs = 1000;
export const DefaultBackoffCapMs = 30_000;

export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;

  constructor(opts: { baseMs?: number; capMs?: number } = {}) {
    this.baseMs = opts.baseMs && opts.baseMs > 0 ? opts.baseMs : DefaultBackoffBaseMs;
    const cap = opts.capMs && opts.capMs > 0 ? opts.capMs : DefaultBackoffCapMs;
    this.capMs = Math.max(cap, this.baseMs);
  }

  /** window is the upper bound of the delay before attempt n. */
  window(attempt: number): number {
    let w = this.baseMs;
    for (let i = 0; i < attempt && w < this.capMs; i++) w *= 2;
    return Math.min(w, this.capMs);
  }

  /** delay is uniform in [0, window(n)]; random returns [0, 1) like Math.random. */
  delay(attempt: number, random: () => number = Math.random): number {
    return Math.floor(random() * (this.window(attempt) + 1));
  }
}
