// The replica-id lease: the id this tab holds (so that no other tab mints
// the same dots), its retirement after local storage failed, and the check
// that catches a reload of a stale local state.
//
// Why an id is retired: when a storage write fails, storage may lack a
// delta whose dots the server has seen, and a reload restoring the older
// state would mint those dots again with other content, which the server
// drops as duplicates (silent loss). So after a failure the id is retired
// as soon as nothing of it is pending (those deltas can only be sent by a
// session whose Hello names that id), and later edits use a fresh one.

import type { Persistence, ReplicaLease } from '../persist/types';
import { FlowsyncError } from './errors';
import type { Entry } from './outbox';

/** What the lease keeper asks of the client. */
export interface LeaseHost {
  /** The replica id in use now: a retirement overtaken by another id is not retried. */
  replicaId(): string;
  encodeDoc(): Uint8Array;
  closed(): boolean;
  /** How long to wait before retrying a retirement storage refused. */
  retryDelay(): number;
  emitError(e: Error): void;
}

export class LeaseKeeper {
  /**
   * Set when a storage write failed: the replica id is retired (see the
   * client's maybeRetire) as soon as no delta of it is pending.
   */
  retireWanted = false;
  /** Set while a retired id's replacement has not been stored in the lease yet. */
  stale = false;
  private retryTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly lease: ReplicaLease,
    private readonly persistence: Persistence,
    private readonly workflowId: string,
    private readonly host: LeaseHost,
  ) {}

  get replicaId(): string {
    return this.lease.replicaId;
  }

  /**
   * storeRetirement stores a retirement: a snapshot of the document under
   * the new id, then the lease pointed at it, then the old id's state
   * deleted. A crash in between leaves garbage, never an id that a reload
   * could reuse with a stale document (until the lease is stored, a reload
   * is caught by checkRejoin). A refusal is retried until it is stored or
   * the id changes again.
   */
  storeRetirement(old: string, fresh: string, doc: Uint8Array): void {
    this.stale = true;
    const wf = this.workflowId;
    this.persistence
      .saveSnapshot(wf, fresh, doc)
      .then(() => this.lease.replace(fresh))
      .then(() => {
        if (this.host.replicaId() === fresh) this.stale = false;
        return this.persistence.dropReplica(wf, old).catch(() => {}); // garbage at worst
      })
      .catch((e: unknown) => {
        this.host.emitError(e instanceof FlowsyncError ? e : new FlowsyncError('persistence', `flowsync: cannot store the new replica id: ${(e as Error).message}`, { cause: e }));
        if (this.host.closed() || this.host.replicaId() !== fresh) return;
        if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (!this.host.closed() && this.host.replicaId() === fresh && this.stale) this.storeRetirement(old, fresh, this.host.encodeDoc());
        }, this.host.retryDelay());
      });
  }

  /**
   * replace points the lease at the id a reset chose, then deletes the old
   * id's state: stored in that order, so that a crash in between leaves
   * garbage, never a reused id.
   */
  replace(old: string, fresh: string): Promise<void> {
    this.retireWanted = false; // the reset is a retirement
    return this.lease.replace(fresh).then(() => this.persistence.dropReplica(this.workflowId, old));
  }

  /** stop stops retrying a retirement. */
  stop(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** release lets another tab claim the id. */
  release(): void {
    this.lease.release();
  }
}

/** What a Joined's context says about our replica id (see checkRejoin). */
export type RejoinVerdict =
  | { kind: 'ok' }
  /**
   * The server holds dots the page neither loaded nor sent, but none was
   * minted again: catch up, then retire the id. floor, when set, is the
   * server's max counter, above the document's: minting waits for it.
   */
  | { kind: 'behind'; floor?: number }
  /** Edits minted since the load may reuse dots the server holds with other content: reset. */
  | { kind: 'conflict'; first: Entry; message: string };

/**
 * checkRejoin guards against a stale local state (a storage write failed,
 * then the page reloaded an older document): the server holds dots of our
 * replica that this page neither loaded nor sent. If deltas minted here
 * after the load are pending, their dots may be the very ones the server
 * holds with other content (it would drop them as duplicates: silent
 * loss), which is treated like a non-retryable refusal. Otherwise nothing
 * collides yet: the catch-up brings the missing dots, and until it has,
 * minting must wait.
 */
export function checkRejoin(p: {
  replica: string;
  serverMax: number;
  loadMax: number;
  sentMax: number;
  localMax: number;
  /** The pending and recent entries with a dot above loadMax (only asked for when the server is ahead). */
  mintedHere: () => Entry[];
}): RejoinVerdict {
  const known = Math.max(p.loadMax, p.sentMax);
  if (p.serverMax <= known) return { kind: 'ok' };
  const minted = p.mintedHere();
  if (minted.length === 0) return p.serverMax > p.localMax ? { kind: 'behind', floor: p.serverMax } : { kind: 'behind' };
  const message =
    `the server holds dots of replica ${p.replica} up to ${p.serverMax}, beyond the ${known} this client loaded or sent, ` +
    `and ${minted.length} edit(s) minted after loading may reuse them (local storage lost writes)`;
  return { kind: 'conflict', first: minted[0], message };
}
