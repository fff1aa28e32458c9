// The writer: what is sent on a joined connection, and when. Every change
// that may make something due (an edit, presence, a Joined, a retryable
// Nack) calls flush; flush sends what is due now — kept deltas to hand back
// (Vouch) first, then outbox entries not yet sent on this connection
// (coalesced by merging), both paced by the server's announced rate, then
// presence and drag (throttled) — and arms one timer for the earliest thing
// that is not due yet.

import { FrameType } from '../protocol';
import type { Connection } from './connection';
import type { LocalReplica } from './local';
import type { Outbox } from './outbox';
import type { PresenceSender } from './presence';
import type { Receipts } from './receipts';

/** What the writer asks of the client. */
export interface WriterHost {
  readonly workflowId: string;
  closed(): boolean;
  now(): number;
  /** The largest delta the server accepts. */
  maxDelta(): number;
  notifyStatus(): void;
}

export class Writer {
  private timer?: ReturnType<typeof setTimeout>;
  private timerAt = 0;

  constructor(
    private readonly host: WriterHost,
    private readonly connection: Connection,
    private readonly outbox: Outbox,
    private readonly receipts: Receipts,
    private readonly presence: PresenceSender,
    private readonly replica: LocalReplica,
  ) {}

  flush(): void {
    const cn = this.connection.joinedConn();
    if (!cn || this.host.closed()) return;
    const now = this.host.now();
    let wait = 0;
    const later = (d: number) => {
      d = Math.max(1, d);
      if (wait === 0 || d < wait) wait = d;
    };
    // Deltas a new room may have lost go back before our own edits, which
    // may build on them.
    let paced = false;
    const take = () => {
      if (!cn.bucket || cn.bucket.take(now)) return true;
      later(cn.bucket.wait(now));
      paced = true;
      return false;
    };
    for (const k of this.receipts.due(cn.gen, now, later)) {
      if (!take()) break;
      if (k.opId === '') k.opId = this.outbox.newId();
      const vouch = { type: FrameType.Vouch, workflowId: this.host.workflowId, opId: k.opId, delta: k.delta, receiptKeyId: k.keyId, receiptMac: k.mac } as const;
      if (!this.connection.send(cn, vouch)) return;
      k.gen = cn.gen;
      k.applied = false;
      this.connection.armWatchdog(cn);
    }
    let due = paced ? [] : this.outbox.due(cn.gen, now, later);
    if (due.length > 1) due = this.outbox.coalesce(due, this.host.maxDelta());
    for (const e of due) {
      if (!take()) break;
      if (!this.connection.send(cn, { type: FrameType.Delta, workflowId: this.host.workflowId, opId: e.id, delta: e.enc })) return;
      this.replica.sent(e.delta);
      e.gen = cn.gen;
      e.applied = false;
      this.connection.armWatchdog(cn);
    }
    for (const f of this.presence.collect(now, later)) {
      if (!this.connection.send(cn, f)) break;
    }
    this.host.notifyStatus();
    if (wait > 0) this.wakeIn(now, wait);
  }

  /** wakeIn arms the timer for a flush wait ms after now, unless one is armed for sooner. */
  private wakeIn(now: number, wait: number): void {
    const at = now + wait;
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
