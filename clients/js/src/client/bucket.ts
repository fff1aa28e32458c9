// A token bucket that keeps the client under the frame rate the server
// announced in Welcome (lim.ops sustained, lim.burst above it), so that the
// client folds its deltas instead of being refused with RATE_LIMITED.

export class TokenBucket {
  private tokens: number;
  private at: number;
  private readonly rate: number;
  private readonly burst: number;

  /** A rate of 0 or undefined means no limit. */
  constructor(opsPerSecond: number | undefined, burst: number | undefined, now: number) {
    // Stay a little under the announced rate: the clocks do not tick together.
    this.rate = opsPerSecond ? opsPerSecond * 0.9 : 0;
    this.burst = Math.max((burst ?? 0) * 0.9, 1);
    this.tokens = this.burst;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
  }

  /** take spends a token if one is available. */
  take(now: number): boolean {
    if (this.rate === 0) return true;
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** wait returns how long until a token is available (ms). */
  wait(now: number): number {
    this.refill(now);
    if (this.rate === 0 || this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}
