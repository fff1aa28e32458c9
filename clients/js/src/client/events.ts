// The events a FlowsyncClient emits, the shapes they carry, and the emitter
// that calls the app's listeners.

import type { Anchor } from '../crdt/text';
import type { Point, Role } from '../protocol';
import type { RejectError } from './errors';
import type { HistoryState } from './history';
import type { Doc } from './replica';
import type { RenameEvent } from './renames';
import type { SyncStatus } from './status';

export interface User {
  id: string;
  name: string;
  avatar?: string;
}
export interface PresenceSelection {
  t: 'block' | 'edge' | 'none';
  id?: string;
}
/**
 * A text field: a text sub-block of a block, or the value of a variable
 * whose type is a text.
 */
export type TextField = { blockId: string; subBlockId: string } | { variableId: string };
/**
 * A session's caret, or selected range, inside one text field, as stable
 * positions (PROTOCOL.md §4.13, `txt`): anchor is where the selection
 * started, head where the caret is (the same for a bare caret). Resolve them
 * with the field's text handle (client.text(...).resolve), which keeps them
 * on their characters while others type.
 */
export interface PresenceCaret {
  field: TextField;
  anchor: Anchor;
  head: Anchor;
}
export interface RosterEntry {
  sid: string;
  tab?: string;
  uid: string;
  name?: string;
  avatar?: string;
  role: Role;
  joined: number;
  active: number;
  cur?: Point | null;
  sel?: PresenceSelection;
  caret?: PresenceCaret;
}
export interface PresenceUpdate {
  sid: string;
  uid: string;
  name?: string;
  avatar?: string;
  cur?: Point | null;
  sel?: PresenceSelection;
  caret?: PresenceCaret;
}
export interface DragUpdate {
  sid: string;
  uid: string;
  pos: Record<string, Point>;
}
export interface LifecycleEvent {
  kind: string;
  msg?: string;
  ts: number;
}

/** A Nack as reported by the 'nack' event (every Nack, retryable or not). */
export interface NackInfo {
  opId: string;
  code: number;
  codeName: string;
  message: string;
  retryable: boolean;
}

export interface ClientEvents {
  /** A delta was merged into the local document: a local edit (remote false) or the server's (remote true). */
  change: (delta: Doc, remote: boolean) => void;
  status: (status: SyncStatus) => void;
  roster: (roster: RosterEntry[]) => void;
  presence: (update: PresenceUpdate) => void;
  drag: (update: DragUpdate) => void;
  event: (event: LifecycleEvent) => void;
  reject: (error: RejectError) => void;
  /** Every Nack the server sends (diagnostics): retryable ones are resent, the others end in 'reject'. */
  nack: (nack: NackInfo) => void;
  error: (error: Error) => void;
  /**
   * A block this replica added or named shows under another name after a
   * merge: another replica gave a block the same name concurrently, and the
   * view's rule for concurrent names suffixed ours ("Agent 4" shows as
   * "Agent 4 2"). Emitted once per rename; renaming the block (to the shown
   * name or another free one) settles it.
   */
  rename: (rename: RenameEvent) => void;
  /** canUndo or canRedo changed: an edit, an undo or redo, a reset (bind undo and redo buttons to it). */
  history: (state: HistoryState) => void;
}
export type ClientEventName = keyof ClientEvents;

type Listener = (...args: never[]) => void;

/** Emitter keeps the app's listeners and calls them. */
export class Emitter {
  private readonly listeners = new Map<ClientEventName, Set<Listener>>();

  on<K extends ClientEventName>(event: K, fn: ClientEvents[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as Listener);
    return () => {
      set!.delete(fn as Listener);
    };
  }

  /** Reports whether event has a listener, so costly checks can be skipped. */
  listening(event: ClientEventName): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  emit<K extends ClientEventName>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as unknown as (...a: Parameters<ClientEvents[K]>) => void)(...args);
      } catch (e) {
        // A listener's failure must not break the sync loop.
        if (event !== 'error') this.emit('error', e instanceof Error ? e : new Error(String(e)));
      }
    }
  }
}
