// The client as external stores React can subscribe to: the view, the
// status and the presence, each a topic with its own listeners, so that a
// cursor moving in another window does not wake the components that render
// the document.

import { type ClientEventName, type FlowsyncClient, type RosterEntry, type SyncStatus, type User, type View, type Role, type HistoryState } from '../index';
import { share } from './share';

/** What useStatus returns: the client's status and the session it is in. */
export interface FlowsyncStatus extends SyncStatus {
  /** Joined and caught up (state 'live'): edits reach the server as they are made. */
  online: boolean;
  /** Live with local edits not yet durable (pending > 0). */
  syncing: boolean;
  /** Live, nothing pending, nothing refused: every edit is durable on the server. */
  saved: boolean;
  /** The role from Joined; null until joined. */
  role: Role | null;
  /** The user from Welcome; null until then. */
  user: User | null;
}

/** What usePresence returns: who is in the room, as the server last said. */
export interface FlowsyncPresence {
  /** This session's id ('' until Welcome): its entry in roster is the local user. */
  sessionId: string;
  /** Every session present, this one included, with cursor and selection. Empty while not connected. */
  roster: RosterEntry[];
  /** The roster without this session. */
  others: RosterEntry[];
}

/**
 * Topic is one external store over the client. It listens to the client's
 * events while a component listens to it, and for the rest of the task in
 * which its value was read without one (the first render reads before React
 * subscribes): so a change is never missed, an unmounted tree leaves no
 * listener behind, and the value is computed at most once per change
 * however many components read it. Each value shares structure with the
 * previous one, so it is the same object until something in it changed.
 */
export class Topic<T> {
  private readonly listeners = new Set<() => void>();
  private offs: Array<() => void> = [];
  private value: T | undefined;
  private computed = false;
  private dirty = true;
  /** How many times the value was recomputed (tests bound the work with it). */
  computations = 0;

  constructor(
    private readonly client: FlowsyncClient,
    private readonly events: readonly ClientEventName[],
    private readonly compute: () => T,
  ) {}

  /** subscribe is useSyncExternalStore's subscribe: fn is called after every change. */
  readonly subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    this.watch();
    return () => {
      if (this.listeners.delete(fn) && this.listeners.size === 0) this.unwatch();
    };
  };

  /** get is useSyncExternalStore's getSnapshot: the current value, the same object while nothing changed. */
  readonly get = (): T => {
    if (this.offs.length === 0 && this.events.length > 0) {
      this.watch();
      // Read outside a subscription: watch until the end of the task, when
      // React has subscribed (or the reader did not need it).
      queueMicrotask(() => {
        if (this.listeners.size === 0) this.unwatch();
      });
    }
    if (this.dirty) {
      const next = this.compute();
      this.computations++;
      this.value = this.computed ? share(this.value, next) : next;
      this.computed = true;
      this.dirty = false;
    }
    return this.value as T;
  };

  /** listening reports how many components (or other subscribers) listen. */
  get listening(): number {
    return this.listeners.size;
  }

  /** watching reports whether the topic has listeners on the client. */
  get watching(): boolean {
    return this.offs.length > 0;
  }

  private watch(): void {
    if (this.offs.length > 0) return;
    // What happened while nothing watched is unknown: recompute (sharing
    // keeps the value's identity if nothing changed).
    this.dirty = true;
    this.offs = this.events.map((e) => this.client.on(e, this.changed));
  }

  private unwatch(): void {
    for (const off of this.offs) off();
    this.offs = [];
  }

  private readonly changed = (): void => {
    this.dirty = true;
    for (const fn of [...this.listeners]) fn();
  };
}

/** FlowsyncStore holds the topics of one client; FlowsyncProvider makes one per client. */
export class FlowsyncStore {
  /** The materialized document, rebuilt after each change (a local edit, a remote delta, a reset). */
  readonly view: Topic<View>;
  readonly status: Topic<FlowsyncStatus>;
  readonly presence: Topic<FlowsyncPresence>;
  /** Whether undo and redo have a step (the client's 'history' event). */
  readonly history: Topic<HistoryState>;

  constructor(readonly client: FlowsyncClient) {
    this.view = new Topic(client, ['change'], () => client.view());
    // Joined (role) comes with a roster; Welcome (user) with a state change.
    this.status = new Topic(client, ['status', 'roster'], () => statusOf(client));
    this.presence = new Topic(client, ['roster', 'presence'], () => presenceOf(client));
    this.history = new Topic(client, ['history'], () => ({ canUndo: client.canUndo, canRedo: client.canRedo }));
  }
}

function statusOf(client: FlowsyncClient): FlowsyncStatus {
  const s = client.status();
  const online = s.state === 'live';
  return {
    ...s,
    online,
    syncing: online && s.pending > 0,
    saved: online && s.pending === 0 && s.rejected === 0,
    role: client.role,
    user: client.user,
  };
}

function presenceOf(client: FlowsyncClient): FlowsyncPresence {
  const sessionId = client.sessionId;
  const roster = client.roster();
  return { sessionId, roster, others: roster.filter((r) => r.sid !== sessionId) };
}

