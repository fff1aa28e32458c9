// The client's connection and outbox status, the shape an editor's
// "saved / saving / offline" indicator needs.

/**
 * offline: not connected (before the first connect, between attempts while
 * the backoff runs, or after goOffline). connecting: dialing or exchanging
 * Hello/Welcome. joining: Join sent, waiting for Joined and the catch-up.
 * live: joined and caught up. closed: close() was called, or the server
 * ended the session with a terminal code (see the 'error' event).
 */
export type SyncState = 'offline' | 'connecting' | 'joining' | 'live' | 'closed';

export interface SyncStatus {
  state: SyncState;
  /** Local edits not yet durable on the server (the outbox). */
  pending: number;
  /** Outbox entries the server has not even applied on this connection. */
  unacked: number;
  /** Failed connection attempts since the last successful join (0 while live). */
  attempt: number;
  /** 'saved' | 'saving (n)' | '<state> (n pending)' | the state name. */
  label: string;
}

/** statusLabel renders a status as an editor indicator would. */
export function statusLabel(state: SyncState, pending: number): string {
  if (state === 'live') return pending === 0 ? 'saved' : `saving (${pending})`;
  if (pending === 0) return state;
  return `${state} (${pending} pending)`;
}

export function sameStatus(a: SyncStatus, b: SyncStatus): boolean {
  return a.state === b.state && a.pending === b.pending && a.unacked === b.unacked && a.attempt === b.attempt;
}

/** The counts a status is computed from, read when it is computed. */
export interface StatusCounts {
  pending: number;
  unacked: number;
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
    return { state: this.state, pending: c.pending, unacked: c.unacked, attempt: c.attempt, label: statusLabel(this.state, c.pending) };
  }

  /** settle takes the current status as already reported (after restoring the outbox, before anyone listens). */
  settle(): void {
    this.last = this.current();
  }

  /** notify resolves whenSaved once nothing is pending and reports the status if it changed. */
  notify(): void {
    const s = this.current();
    if (s.pending === 0 && this.waiters.length > 0) {
      for (const w of this.waiters.splice(0)) w.resolve();
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
