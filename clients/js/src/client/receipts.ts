// Receipts: deltas the server relayed before they were durable, kept with
// the receipt (a MAC under the deployment's key) they came with until the
// server says they are durable, so that they can be handed back.
//
// Why: a server relays an edit as soon as it is merged, before it is stored.
// If the server (or its node in a cluster) dies in between, the edit's author
// may be gone too, and the clients that received it are the only ones left
// holding it. Another client's edit cannot be re-sent as a Delta (its dots are
// not ours: FORGED_DOT), but with its receipt the server can tell it is an
// edit some node of the deployment admitted, and merge it again (Vouch).
//
// The rules (PROTOCOL.md §9, receipts):
//   - keep every RemoteDelta with a receipt under (epoch, seq), and the
//     CatchUp chunks of a join whose Joined.stable < Joined.seq under
//     (epoch, Joined.seq); frames without a receipt are not kept;
//   - Stable{epoch, seq}, and a Joined of the same epoch with stable >= seq,
//     make them durable: drop them;
//   - a Joined of another epoch means the room was loaded again and may have
//     lost them: drop those its context covers, hand the others back as
//     Vouch (oldest first, before the outbox is resent), and drop each on its
//     Durable or a final Nack;
//   - at most MaxReceiptItems items and MaxReceiptBytes bytes: past that the
//     oldest are dropped and counted, and a crash of the server can then lose
//     another user's edit that was not yet durable.

import type { StoredReceipt, ReceiptKey } from '../persist/types';

/** The bound of what is kept. */
export const MaxReceiptItems = 8192;
export const MaxReceiptBytes = 16 << 20;

/** A kept delta and, while it is being handed back, its Vouch's state. */
export interface KeptReceipt extends StoredReceipt {
  /** Set when a Joined of another epoch asked for it to be handed back. */
  vouch: boolean;
  /** The op id of its Vouch ('' until first sent). */
  opId: string;
  /** The connection generation its Vouch was last sent on. */
  gen: number;
  applied: boolean;
  retries: number;
  retryAt: number;
}

/** What the app can read about the kept receipts (FlowsyncClient.receipts). */
export interface ReceiptStats {
  /** Deltas kept now, and their bytes. */
  items: number;
  bytes: number;
  /** Deltas dropped past the bound since the client opened (each a risk, never a loss by itself). */
  dropped: number;
  /** Deltas handed back that the server made durable, and those it refused (BAD_RECEIPT, …). */
  vouched: number;
  refused: number;
}

export function receiptKey(r: StoredReceipt): ReceiptKey {
  return [r.epoch, r.seq, r.sub];
}

export class Receipts {
  /** In the order they arrived: the oldest are dropped first and handed back first. */
  private items: KeptReceipt[] = [];
  private bytes = 0;
  private dropped = 0;
  private vouched = 0;
  private refused = 0;

  get length(): number {
    return this.items.length;
  }

  stats(): ReceiptStats {
    return { items: this.items.length, bytes: this.bytes, dropped: this.dropped, vouched: this.vouched, refused: this.refused };
  }

  /** all returns what is kept, for storage. */
  all(): StoredReceipt[] {
    return this.items.map(stored);
  }

  /** restore takes what storage kept (a reload hands them back too). */
  restore(rs: StoredReceipt[]): KeptReceipt[] {
    let evicted: KeptReceipt[] = [];
    for (const r of rs) evicted = evicted.concat(this.keep(r));
    return evicted;
  }

  /** keep adds a received delta and returns the oldest ones it pushed past the bound. */
  keep(r: StoredReceipt): KeptReceipt[] {
    const k: KeptReceipt = { ...stored(r), vouch: false, opId: '', gen: 0, applied: false, retries: 0, retryAt: 0 };
    this.items.push(k);
    this.bytes += size(k);
    const evicted: KeptReceipt[] = [];
    while (this.items.length > MaxReceiptItems || this.bytes > MaxReceiptBytes) {
      const old = this.items.shift()!;
      this.bytes -= size(old);
      this.dropped++;
      evicted.push(old);
    }
    return evicted;
  }

  /** stable drops the items of epoch up to seq (they are durable now) and returns them. */
  stable(epoch: string, seq: number): KeptReceipt[] {
    return this.drop((k) => k.epoch === epoch && k.seq <= seq);
  }

  /**
   * joined applies a Joined: items of its epoch up to stable are durable;
   * items of other epochs whose delta the server's context covers are held
   * by the server; the rest are to be handed back. It returns the dropped
   * items. A Joined without an epoch (a server without receipts) changes
   * nothing.
   */
  joined(epoch: string | undefined, stable: number | undefined, covered: (delta: Uint8Array) => boolean): KeptReceipt[] {
    if (epoch === undefined) return [];
    const out = this.drop((k) => (k.epoch === epoch ? k.seq <= (stable ?? 0) : covered(k.delta)));
    for (const k of this.items) {
      // Items of this epoch are still in the room's memory; the others go back.
      k.vouch = k.epoch !== epoch;
      k.opId = ''; // a fresh op id on this connection
      k.gen = 0;
      k.applied = false;
      k.retries = 0;
      k.retryAt = 0;
    }
    return out;
  }

  /** due returns the items to hand back not yet sent on connection gen whose retry time has come. */
  due(gen: number, now: number, later: (ms: number) => void): KeptReceipt[] {
    const out: KeptReceipt[] = [];
    for (const k of this.items) {
      if (!k.vouch || k.gen === gen) continue;
      if (k.retryAt > now) later(k.retryAt - now);
      else out.push(k);
    }
    return out;
  }

  /** awaiting reports whether a Vouch sent on connection gen still waits for its Applied or Nack. */
  awaiting(gen: number): boolean {
    return this.items.some((k) => k.vouch && k.gen === gen && !k.applied);
  }

  byOp(opId: string): KeptReceipt | undefined {
    return opId === '' ? undefined : this.items.find((k) => k.opId === opId);
  }

  /** durable drops the items whose Vouch a Durable named and returns them. */
  durable(opIds: string[]): KeptReceipt[] {
    const set = new Set(opIds);
    const out = this.drop((k) => k.opId !== '' && set.has(k.opId));
    this.vouched += out.length;
    return out;
  }

  /**
   * refuseLarger drops the items to hand back whose delta is larger than
   * limit (the server's lim.delta), counted as refused: the server could
   * only refuse them (TOO_LARGE). It returns them.
   */
  refuseLarger(limit: number): KeptReceipt[] {
    const out = this.drop((k) => k.vouch && k.delta.length > limit);
    this.refused += out.length;
    return out;
  }

  /** refuse drops an item whose Vouch was refused for good. */
  refuse(k: KeptReceipt): void {
    if (this.drop((x) => x === k).length > 0) this.refused++;
  }

  clear(): void {
    this.items = [];
    this.bytes = 0;
  }

  private drop(pred: (k: KeptReceipt) => boolean): KeptReceipt[] {
    const out: KeptReceipt[] = [];
    const kept: KeptReceipt[] = [];
    for (const k of this.items) (pred(k) ? out : kept).push(k);
    if (out.length === 0) return out;
    this.items = kept;
    for (const k of out) this.bytes -= size(k);
    return out;
  }
}

function stored(r: StoredReceipt): StoredReceipt {
  return { epoch: r.epoch, seq: r.seq, sub: r.sub, delta: r.delta, keyId: r.keyId, mac: r.mac };
}

function size(r: StoredReceipt): number {
  return r.delta.length + r.mac.length + r.keyId.length + r.epoch.length;
}
