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
