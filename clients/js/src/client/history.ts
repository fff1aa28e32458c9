// Undo and redo of this page's own edits: the workflow's UndoManager fed by
// the engine's local edits (never by merged remote deltas), and the
// 'history' event an app binds its undo and redo buttons to.

import type { Timestamp } from '../crdt/hlc';
import type { Doc } from '../workflow/doc';
import { UndoManager, type UndoConfig, type UndoStep } from '../workflow/undo';

/** What the 'history' event carries: whether undo() and redo() would find an entry. */
export interface HistoryState {
  canUndo: boolean;
  canRedo: boolean;
}

/** The undo and redo stacks of one client, and the event that says when they change. */
export class History {
  private readonly m: UndoManager;
  private last: HistoryState = { canUndo: false, canRedo: false };

  constructor(
    cfg: UndoConfig | undefined,
    private readonly emit: (s: HistoryState) => void,
  ) {
    this.m = new UndoManager(cfg);
  }

  get canUndo(): boolean {
    return this.m.canUndo;
  }

  get canRedo(): boolean {
    return this.m.canRedo;
  }

  /** record captures a local edit before it is merged (UndoManager.record). */
  record(doc: Doc, delta: Doc, ts: Timestamp): void {
    this.m.record(doc, delta, ts);
    this.notify();
  }

  /** prepare builds an undo (or redo) step; undefined when there is nothing to do. */
  prepare(doc: Doc, ts: Timestamp, redo: boolean): UndoStep | undefined {
    const s = redo ? this.m.prepareRedo(doc, ts) : this.m.prepareUndo(doc, ts);
    if (s === undefined) this.notify(); // entries with no effect left were dropped
    return s;
  }

  /** committed moves a step's entry once its delta is merged and queued. */
  committed(s: UndoStep): void {
    s.commit();
    this.notify();
  }

  /** transact runs fn with every edit it makes grouped into one entry. */
  transact<T>(fn: () => T): T {
    this.m.begin();
    try {
      return fn();
    } finally {
      this.m.end();
    }
  }

  /** stopCapturing makes the next edit start a new entry. */
  stopCapturing(): void {
    this.m.stopCapturing();
  }

  /** clear empties both stacks: the replica's dots were renamed or the document replaced. */
  clear(): void {
    this.m.clear();
    this.notify();
  }

  private notify(): void {
    const s = { canUndo: this.m.canUndo, canRedo: this.m.canRedo };
    if (s.canUndo !== this.last.canUndo || s.canRedo !== this.last.canRedo) {
      this.last = s;
      this.emit({ ...s });
    }
  }
}
