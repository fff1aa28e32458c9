// The replica-id lease: the id this tab holds (so that no other tab mints
// the same dots), and its switch to a fresh id, stored before the lease
// points at it.
//
// Why an id is switched: a replica id must never mint a dot twice with
// different content (the server keeps the first and drops the other as a
// duplicate: silent loss). That can happen when local storage lost writes:
// a reload restores an older document and mints its dots again. So after a
// failed storage write the id is retired as soon as nothing of it is pending
// (those deltas can only be sent by a session whose Hello names that id),
// and when a join shows the server holding dots of the id that this page
// lost (Error REPLICA_BEHIND, or a Joined context beyond what the page loaded
// or sent) the id is switched at once and the unsent edits are re-minted
// under the new one (see the engine's replicaBehind).

import type { Persistence, ReplicaLease, ReplicaState } from '../persist/types';
import { FlowsyncError } from './errors';

/** What the lease keeper asks of the client. */
export interface LeaseHost {
  /** The replica id in use now: a switch overtaken by another is not retried. */
  replicaId(): string;
  /** The whole local state, as it is now, for storing under the new id. */
  replicaState(): ReplicaState;
  closed(): boolean;
  /** How long to wait before retrying a switch storage refused. */
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
  /** The switches in flight, one after another. */
  private chain: Promise<void> = Promise.resolve();

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
   * switchTo stores a switch to a new id: the whole state under the new id
   * (one transaction), then the lease pointed at it, then the old id's
   * state deleted. A crash in between leaves garbage, never an id that a
   * reload could reuse with a stale document (until the lease is stored, a
   * reload finds the old id, and its join is caught as behind again).
   * Switches run one after another, so that the lease ends at the latest;
   * a refusal is retried (with the state as it is then) until it is stored
   * or the id changes again. The promise settles after the first attempt.
   */
  switchTo(old: string, fresh: string): Promise<void> {
    this.stale = true;
    const attempt = (): Promise<void> => {
      if (this.host.closed() || this.host.replicaId() !== fresh) return Promise.resolve();
      const wf = this.workflowId;
      return this.persistence
        .saveReplica(wf, fresh, this.host.replicaState())
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
            if (this.stale) this.chain = this.chain.then(attempt);
          }, this.host.retryDelay());
        });
    };
    this.chain = this.chain.then(attempt);
    return this.chain;
  }

  /**
   * replace points the lease at the id a reset chose, then deletes the old
   * id's state: stored in that order, so that a crash in between leaves
   * garbage, never a reused id.
   */
  replace(old: string, fresh: string): Promise<void> {
    this.retireWanted = false; // the reset is a retirement
    const step = () => this.lease.replace(fresh).then(() => this.persistence.dropReplica(this.workflowId, old));
    const p = this.chain.then(step);
    this.chain = p.catch(() => {});
    return p;
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

/**
 * isBehind reports whether a Joined's context holds a counter of our replica
 * beyond what this page loaded or sent: a write of this id the page never
 * saw, so local storage lost writes and the id was reused. (A page that
 * minted more dots since than the server holds has a Join context covering
 * the server's, so the server cannot see it; only the client can.)
 */
export function isBehind(serverMax: number, loadMax: number, sentMax: number): boolean {
  return serverMax > Math.max(loadMax, sentMax);
}
