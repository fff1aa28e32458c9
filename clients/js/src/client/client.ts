// FlowsyncClient: a full workflow replica in the browser, kept in sync with
// a flowsync server over one websocket. A port of sync/client's behaviour
// (docs/PROTOCOL.md §3 and §9) to the browser's single-threaded event model,
// plus local persistence so that offline edits survive reloads.
//
// This class is the public face only; the work is done by the parts it
// opens, one concern per module, as in sync/client:
//
//   engine.ts      what spans the parts: an edit, a Joined, a delta, a
//                  Durable, a Nack, a reset, retiring a replica id, close
//   connection.ts  the websocket: token, dial, Hello, reconnect with backoff
//   handlers.ts    what each frame from the server does (a handler table)
//   outbox.ts      local deltas until durable, recent durable ones, folding,
//                  edits refused for good
//   receipts.ts    other sessions' deltas kept with receipts until durable
//   writer.ts      what is sent when (bucket.ts: the server's rate)
//   presence.ts    cursor, selection and drag, throttled
//   roster.ts      the room's roster
//   local.ts       the replica id, document and clock
//   store.ts       writes to local storage (deltas, log, snapshots)
//   lease.ts       the replica-id lease, its retirement and replica resets
//   status.ts      the connection state and the status the app sees
//   events.ts      the events and their listeners
//   options.ts     the options and their checks

import type { Point, Role } from '../protocol';
import type { Op } from '../workflow/builder';
import { parseOp } from '../workflow/parse';
import { buildView, type View } from '../workflow/view';
import { Engine } from './engine';
import { FlowsyncError, RejectError } from './errors';
import type { ClientEventName, ClientEvents, PresenceCaret, PresenceSelection, RosterEntry, User } from './events';
import { checkOptions, tabSessionId, type FlowsyncClientOptions } from './options';
import type { Doc } from './replica';
import type { ReceiptStats } from './receipts';
import type { SyncStatus } from './status';
import { openStorage } from './store';
import { TextHandle } from './text';

export { DefaultClientName, DefaultAckTimeoutMs, type FlowsyncClientOptions, type WebSocketConstructor, type WebSocketLike } from './options';
export { PresenceIntervalMs } from './presence';
export { TextHandle, type RemoteCaret, type TextChangeEvent, type TextDelta, type TextHost } from './text';
export { bindTextarea, type TextareaLike } from './text_binding';
export { DefaultMaxFrameBytes, HandshakeTimeoutMs } from './connection';
export { DefaultMaxDeltaBytes } from './engine';
export { DocSaveDelayMs, SnapshotEveryDeltas, SnapshotLogBytes, SnapshotIdleMs } from './store';
export { MaxReceiptItems, MaxReceiptBytes, type ReceiptStats } from './receipts';
export type {
  ClientEventName,
  ClientEvents,
  DragUpdate,
  LifecycleEvent,
  NackInfo,
  PresenceSelection,
  PresenceCaret,
  TextField,
  PresenceUpdate,
  RosterEntry,
  User,
} from './events';

export class FlowsyncClient {
  readonly workflowId: string;
  /** The tab session id sent in Join (a reload replaces its own ghost presence). */
  readonly tabSessionId: string;

  private constructor(private readonly engine: Engine) {
    this.workflowId = engine.workflowId;
    this.tabSessionId = engine.tabSessionId;
  }

  /**
   * open restores the workflow's local document and outbox from storage
   * (so offline edits show immediately after a reload), claims a replica id
   * no other tab is using, and connects unless autoConnect is false.
   * It throws a FlowsyncError of kind 'config' for invalid options and
   * 'persistence' when storage cannot be opened.
   */
  static async open(opts: FlowsyncClientOptions): Promise<FlowsyncClient> {
    const WS = checkOptions(opts);
    const { persistence, owned } = await openStorage(opts);
    let lease;
    let loaded;
    try {
      lease = await persistence.claimReplica(opts.workflowId);
      loaded = await persistence.load(opts.workflowId, lease.replicaId);
    } catch (e) {
      if (owned) await persistence.close().catch(() => {});
      throw new FlowsyncError('persistence', `flowsync: cannot load local state: ${(e as Error).message}`, { cause: e });
    }
    const engine = new Engine(opts, opts.tabSessionId ?? tabSessionId(), persistence, owned, lease, WS);
    engine.restore({ doc: loaded.doc, log: loaded.log ?? [], outbox: loaded.outbox, nextSeq: loaded.nextSeq, receipts: loaded.receipts ?? [] });
    engine.connection.listenOnline();
    if (opts.autoConnect !== false) engine.goOnline();
    return new FlowsyncClient(engine);
  }

  // ---- accessors ---------------------------------------------------------

  /** The replica id this client mints with; it changes after a reset or a retirement. */
  get replicaId(): string {
    return this.engine.replica.id;
  }
  /** The session id from Welcome; '' until then. */
  get sessionId(): string {
    return this.engine.info.sessionId;
  }
  get user(): User | null {
    return this.engine.info.user;
  }
  /** The role from Joined; null until joined. */
  get role(): Role | null {
    return this.engine.info.role;
  }
  /** The local document. Treat it as read-only: edit through apply. */
  get doc(): Doc {
    return this.engine.replica.visible;
  }

  /** view materializes the local document. */
  view(): View {
    return buildView(this.engine.replica.visible);
  }

  status(): SyncStatus {
    return this.engine.status.current();
  }

  /**
   * rejected returns the edits the server refused for good since the last
   * reset (also those refused before a reload), oldest first; status().rejected
   * counts them. The 'reject' event reported each when it happened.
   */
  rejected(): RejectError[] {
    return this.engine.outbox.refused.map((r) => new RejectError(r.entry.id, r.code, r.message, r.entry.delta));
  }

  /**
   * receipts reports the deltas of other sessions kept with their receipts
   * until the server says they are durable (handed back to a server that
   * lost them), and how many were dropped past the bound of 8,192 deltas or
   * 16 MiB: beyond it, a server crash can lose another user's edit that was
   * not yet durable.
   */
  receipts(): ReceiptStats {
    return this.engine.receiptStats();
  }

  roster(): RosterEntry[] {
    return this.engine.roster.list();
  }

  on<K extends ClientEventName>(event: K, fn: ClientEvents[K]): () => void {
    return this.engine.events.on(event, fn);
  }

  // ---- editing -----------------------------------------------------------

  /**
   * apply prepares op against the local document, merges the resulting
   * delta, stores the delta (outbox entry + log entry, one transaction; the
   * whole document is only rewritten as a snapshot now and then), and sends it. It
   * returns the delta. It throws the operation's WorkflowError when the op
   * is refused locally (nothing changes), and a FlowsyncError ('closed',
   * 'workflow-deleted', 'delta-too-large').
   *
   * A read-only session's edit is not refused here: it is sent, and the
   * server's PERMISSION_DENIED refuses it (a 'reject' event, status().rejected;
   * reset() rolls it back). The role can change on the server at any time (a
   * grant re-joins the session), so the server is the one authority; apps
   * should disable editing when role is 'read'.
   */
  apply(op: Op): Doc {
    return this.engine.apply(op);
  }

  /** applyWire parses a reference-protocol operation (name, target, payload) and applies it. */
  applyWire(name: string, target: string, payload: Record<string, unknown>): Doc {
    return this.apply(parseOp(name, target, payload));
  }

  // ---- undo and redo -----------------------------------------------------

  /**
   * undo reverts this page's newest undoable step (an edit, a typing burst
   * within the undo window, or a transact() group) with a new ordinary edit,
   * sent and stored like apply's, and returns its delta; undefined when
   * there is nothing to undo. Only this page's own edits are undone, and a
   * value another user wrote since keeps their value; undoing a delete
   * brings the block back with its sub-blocks, children and the edges whose
   * ends are still there (docs/ARCHITECTURE.md, "Undo and redo"). It throws
   * a FlowsyncError ('closed', 'workflow-deleted', 'delta-too-large').
   */
  undo(): Doc | undefined {
    return this.engine.undoRedo(false);
  }

  /** redo re-applies the newest undone step (cleared by any new edit); undefined when there is none. */
  redo(): Doc | undefined {
    return this.engine.undoRedo(true);
  }

  /** Whether undo() has a step to revert (the 'history' event reports changes). */
  get canUndo(): boolean {
    return this.engine.history.canUndo;
  }

  /** Whether redo() has a step to re-apply. */
  get canRedo(): boolean {
    return this.engine.history.canRedo;
  }

  /**
   * transact runs fn and makes every edit it applies one undo step (a paste,
   * a multi-block drag's drop with its parent changes); transactions nest.
   * It returns what fn returns.
   */
  transact<T>(fn: () => T): T {
    return this.engine.history.transact(fn);
  }

  /** stopCapturing makes the next edit a new undo step even within the undo window (after a blur, a drop). */
  stopCapturing(): void {
    this.engine.history.stopCapturing();
  }

  // ---- presence ----------------------------------------------------------

  /**
   * setPresence updates this session's cursor, selection and/or text caret
   * (an absent key keeps its value; cursor null = off the canvas; selection
   * {t:'none'} = nothing; caret null = no caret in a text). Frames are
   * throttled to one per 33 ms, latest state wins. A text handle's binding
   * sets the caret itself (TextHandle.bind).
   */
  setPresence(p: { cursor?: Point | null; selection?: PresenceSelection; caret?: PresenceCaret | null }): void {
    this.engine.setPresence(p);
  }

  // ---- texts --------------------------------------------------------------

  /**
   * text returns a handle on the text of a sub-block (a prompt, code, a
   * description: sub-blocks of type long-input, code or textarea): UTF-16
   * insert/delete, change events with index deltas, stable positions and
   * carets; bindTextarea(handle, el) binds it to a <textarea>. Close it
   * when done.
   */
  text(blockId: string, subBlockId: string): TextHandle {
    return new TextHandle(this, { blockId, subBlockId });
  }

  /** variableText returns a handle on the value of a variable of type plain or string, as text does for a sub-block. */
  variableText(variableId: string): TextHandle {
    return new TextHandle(this, { variableId });
  }

  /**
   * drag sends live positions of blocks being dragged (throttled, latest
   * position per block wins). They are relayed, never stored: on drop the
   * app applies an update-position op. Ignored while not connected.
   */
  drag(positions: Record<string, Point>): void {
    this.engine.drag(positions);
  }

  // ---- lifecycle ---------------------------------------------------------

  /** goOffline closes the connection and stops reconnecting; edits keep queueing in the outbox. */
  goOffline(): void {
    this.engine.goOffline();
  }

  /** goOnline connects now (resetting the backoff), unless already connected or connecting. */
  goOnline(): void {
    this.engine.goOnline();
  }

  /**
   * whenSaved resolves when every local edit is durable on the server
   * (pending is 0); it rejects (kind 'rejected') when nothing is pending but
   * edits were refused (rejected > 0), and when the client is closed first.
   */
  whenSaved(): Promise<void> {
    return this.engine.whenSaved();
  }

  /**
   * reset discards the local state of the workflow — the document, the
   * outbox and the refused edits — takes a new replica id and rejoins with
   * an empty context; the catch-up rebuilds the document from the server and
   * one 'change' (remote) is emitted when it completes. Call it after a
   * 'reject' to converge with the server (the local document still holds
   * the refused writes); unacknowledged edits are discarded too, so re-apply
   * the ones the user still wants after the 'change'. It throws a
   * FlowsyncError 'closed' or 'workflow-deleted'.
   */
  reset(): void {
    this.engine.reset();
  }

  /** close closes the connection, writes a snapshot of the document (folding the log), waits for storage, and releases the replica id. */
  close(): Promise<void> {
    return this.engine.close();
  }
}
