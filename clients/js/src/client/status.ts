// The client's connection and outbox status, the shape an editor's
// "saved / saving / offline / refused" indicator needs.

import { FlowsyncError } from './errors';

/**
 * offline: not connected (before the first connect, between attempts while
 * the backoff runs, or after goOffline). connecting: dialing or exchanging
 * Hello/Welcome. joining: Join sent, waiting for Joined and the catch-up.
 * live: joined and caught up. closed: close() was called, or the server
 * ended the session with a terminal code (see the 'error' event). deleted:
 * the workflow was deleted on the server; the outbox was dropped, edits are
 * refused, and the client does not reconnect.
 */
export type SyncState = 'offline' | 'connecting' | 'joining' | 'live' | 'closed' | 'deleted';

export interface SyncStatus {
  state: SyncState;
  /** Local edits not yet durable on the server (the outbox). */
  pending: number;
  /** Outbox entries the server has not even applied on this connection. */
  unacked: number;
  /**
   * Local edits the server refused for good (see the 'reject' event), kept
   * until reset(): the server will never have them, so the status is never
   * 'saved' while one is kept.
   */
  rejected: number;
  /** Failed connection attempts since the last successful join (0 while live). */
  attempt: number;
  /**
   * 'saved' | 'saving (n)' | '<state> (n pending)' | 'deleted' | the state
   * name, with ', n refused' appended while refused edits are kept.
   */
  label: string;
}

/** statusLabel renders a status as an editor indicator would. */
export function statusLabel(state: SyncState, pending: number, rejected = 0): string {
  if (state === 'deleted') return 'deleted';
  let out: string;
  if (state === 'live' && pending === 0) out = rejected === 0 ? 'saved' : 'live';
  else if (state === 'live') out = `saving (${pending})`;
  else if (pending === 0) out = state;
  else out = `${state} (${pending} pending)`;
  return rejected > 0 ? `${out}, ${rejected} refused` : out;
}

/** refusedError is what whenSaved rejects with while refused edits are kept. */
export function refusedError(n: number): FlowsyncError {
  return new FlowsyncError('rejected', `flowsync: ${n} edit(s) were refused by the server and will never be saved (see rejected(), reset())`);
}

export function sameStatus(a: SyncStatus, b: SyncStatus): boolean {
  return a.state === b.state && a.pending === b.pending && a.unacked === b.unacked && a.rejected === b.rejected && a.attempt === b.attempt;
}

/** The counts a status is computed from, read when it is computed. */
export interface StatusCounts {
  pending: number;
  unacked: number;
  rejected: number;
  attempt: number;
}

/**
 * StatusTracker keeps the connection state, reports each change of the
 * status (and only changes), and settles whenSaved's promises: a status
 * is recomputed from the outbox and the connection whenever either may
 * have changed, so that no count is ever kept twice.
 */
export class StatusTracker {
  private state: SyncState = 'offline';
  private last: SyncStatus;
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(
    private readonly counts: () => StatusCounts,
    private readonly report: (s: SyncStatus) => void,
  ) {
    this.last = this.current();
  }

  get syncState(): SyncState {
    return this.state;
  }

  current(): SyncStatus {
    const c = this.counts();
    return {
      state: this.state,
      pending: c.pending,
      unacked: c.unacked,
      rejected: c.rejected,
      attempt: c.attempt,
      label: statusLabel(this.state, c.pending, c.rejected),
    };
  }

  /** settle takes the current status as already reported (after restoring the outbox, before anyone listens). */
  settle(): void {
    this.last = this.current();
  }

  /**
   * notify settles whenSaved once nothing is pending (resolved, or rejected
   * when edits were refused: they will never be saved) and reports the
   * status if it changed.
   */
  notify(): void {
    const s = this.current();
    if (s.pending === 0 && this.waiters.length > 0) {
      const refused = s.rejected > 0 ? refusedError(s.rejected) : null;
      for (const w of this.waiters.splice(0)) refused ? w.reject(refused) : w.resolve();
    }
    if (sameStatus(s, this.last)) return;
    this.last = s;
    this.report(s);
  }

  set(state: SyncState): void {
    this.state = state;
    this.notify();
  }

  /** whenSaved resolves at the next notify with nothing pending. */
  whenSaved(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** rejectWaiters fails every whenSaved still waiting. */
  rejectWaiters(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
