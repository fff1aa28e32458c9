// FlowsyncClient: a full workflow replica in the browser, kept in sync with
// a flowsync server over one websocket. A port of sync/client's behaviour
// (docs/PROTOCOL.md §3 and §9) to the browser's single-threaded event model,
// plus local persistence so that offline edits survive reloads.
//
// The rules it follows, and why:
//   - Outbox: every local delta is kept (in memory and in storage) until a
//     Durable names it. Applied alone survives nothing on the server.
//   - After every (re)connect: Join with the local causal context, merge the
//     catch-up, then resend the outbox. Merging is idempotent, so a delta the
//     server already has costs bytes, never correctness.
//   - Recent durable deltas are kept for a while and resent when a rejoined
//     server's context lacks their dots (a cluster node can make a delta
//     durable and die before its peers hear it).
//   - Deltas waiting together are coalesced by merging, never by dropping.
//   - Nack NOT_JOINED: the server no longer counts this connection in the
//     room; reconnect and rejoin. Other retryable Nacks: resend the same op
//     after backoff. Non-retryable Nacks: reset (§9) — see reset().
//   - Reconnect with capped exponential backoff and full jitter (base 1 s,
//     cap 30 s); terminal close codes (4500–4999, 1008, 1009) stop it.
//   - Presence and drag frames are throttled to one per 33 ms, latest wins.

import {
  closeReason,
  encodeFrame,
  decodeFrame,
  FrameDecodeError,
  FrameType,
  Code,
  codeName,
  ProtocolVersion,
  shouldReconnect,
  MaxIDBytes,
  type Frame,
  type Point,
  type RosterEntry as WireRosterEntry,
  type Selection,
  type ServerLimits,
  type ClientFrame,
  type Role,
} from '../protocol';
import { utf8Length } from '../protocol/msgpack';
import { MemoryPersistence } from '../persist/memory';
import { IndexedDBPersistence } from '../persist/indexeddb';
import { newReplicaId, type LockManagerLike, type Persistence, type ReplicaLease } from '../persist/types';
import { Clock } from '../crdt/hlc';
import { parseOp } from '../workflow/parse';
import type { Op } from '../workflow/builder';
import '../workflow/builder'; // adds Doc.prototype.prepare
import { buildView, type View } from '../workflow/view';
import { Backoff } from './backoff';
import { CloseError, FlowsyncError, RejectError, ServerError } from './errors';
import { decodeDoc, emptyDoc, encodeContextOf, mergeAll, ownDotsCovered, type Doc } from './replica';
import { latestWrite } from './scan';
import { sameStatus, statusLabel, type SyncState, type SyncStatus } from './status';

/** The client name sent in Hello unless overridden. */
export const DefaultClientName = 'flowsync-js';
/** Presence and Drag frames are sent at most this often (PROTOCOL.md §4.13). */
export const PresenceIntervalMs = 33;
/** Largest frame the client reads (a relayed, joined delta can exceed the server's own 1 MiB read limit). */
export const DefaultMaxFrameBytes = 2 << 20;
/** Bound of one delta when Welcome does not announce lim.delta. */
export const DefaultMaxDeltaBytes = 1 << 20;
/** Hello → Joined must complete within this, or the attempt is dropped and retried. */
export const HandshakeTimeoutMs = 10_000;
/** Default of FlowsyncClientOptions.ackTimeoutMs. */
export const DefaultAckTimeoutMs = 20_000;
/** Remote changes are written to the storage log at most this often (batched). */
export const DocSaveDelayMs = 250;
/** The snapshot is rewritten after this many log entries (or SnapshotLogBytes)... */
export const SnapshotEveryDeltas = 256;
export const SnapshotLogBytes = 4 << 20;
/** ...or once the document has been idle this long, and on close. */
export const SnapshotIdleMs = 5_000;
const maxRecentDeltas = 4096;
const maxRecentBytes = 8 << 20;

/** The minimal websocket the client needs: the browser's, or the 'ws' package's. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null; // eslint-disable-line @typescript-eslint/no-explicit-any
  onmessage: ((ev: any) => void) | null; // eslint-disable-line @typescript-eslint/no-explicit-any
  onclose: ((ev: any) => void) | null; // eslint-disable-line @typescript-eslint/no-explicit-any
  onerror: ((ev: any) => void) | null; // eslint-disable-line @typescript-eslint/no-explicit-any
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface FlowsyncClientOptions {
  /** The server's websocket URL, e.g. ws://localhost:8080/v1/sync. */
  url: string;
  /** The access token (a JWT, or "user:Name" against a --dev server). */
  token: string;
  /**
   * Called before every connection attempt for a fresh token (JWTs are
   * short-lived; at expiry the server closes with 4004 and the client
   * reconnects). When absent, `token` is used every time.
   */
  getToken?: () => string | Promise<string>;
  workflowId: string;
  /**
   * Where the document and outbox are kept. Default 'indexeddb' when
   * globalThis.indexedDB exists, else 'memory'. A Persistence instance may
   * be passed (tests share one MemoryPersistence to simulate a reload).
   */
  persistence?: 'indexeddb' | 'memory' | Persistence;
  /** IndexedDB database name. Default 'flowsync'. */
  dbName?: string;
  clientName?: string;
  clientVersion?: string;
  /** Reconnect and retry backoff. Default base 1000 ms, cap 30000 ms. */
  backoff?: { baseMs?: number; capMs?: number };
  /** Wall clock in Unix ms, fed to the HLC. Default Date.now. */
  now?: () => number;
  /** The websocket implementation. Default globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Connect as soon as open returns. Default true. */
  autoConnect?: boolean;
  /** The Web Locks API used to pool replica ids between tabs. Default navigator.locks. */
  locks?: LockManagerLike | null;
  /** The tab session id (survives reloads). Default: kept in sessionStorage. */
  tabSessionId?: string;
  /**
   * A live connection on which a sent edit has had no answer (Applied or
   * Nack) and no frame of any kind arrived for this long is treated as dead
   * and replaced. Browsers do not expose websocket pings, so without this a
   * silently dropped connection (a laptop waking from sleep, a NAT or proxy
   * timing out) would hold edits until TCP gives up, which takes minutes.
   * Default 20000 ms; 0 turns it off.
   */
  ackTimeoutMs?: number;
}

export interface User {
  id: string;
  name: string;
  avatar?: string;
}
export interface PresenceSelection {
  t: 'block' | 'edge' | 'none';
  id?: string;
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
}
export interface PresenceUpdate {
  sid: string;
  uid: string;
  name?: string;
  avatar?: string;
  cur?: Point | null;
  sel?: PresenceSelection;
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
}
export type ClientEventName = keyof ClientEvents;

/** One local delta the server has not yet made durable. */
interface Entry {
  id: string;
  delta: Doc;
  enc: Uint8Array;
  /** The storage seqs this entry stands for (several after coalescing). */
  seqs: number[];
  /** The connection generation it was last sent on; another gen means "due". */
  gen: number;
  applied: boolean;
  retries: number;
  retryAt: number;
}

/** A token bucket that keeps the client under the server's announced frame rate. */
class TokenBucket {
  private tokens: number;
  private at: number;
  private readonly rate: number;
  private readonly burst: number;
  constructor(opsPerSecond: number | undefined, burst: number | undefined, now: number) {
    // Stay a little under the announced rate: the clocks do not tick together.
    this.rate = opsPerSecond ? opsPerSecond * 0.9 : 0;
    this.burst = Math.max((burst ?? 0) * 0.9, 1);
    this.tokens = this.burst;
    this.at = now;
  }
  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
  }
  take(now: number): boolean {
    if (this.rate === 0) return true;
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
  wait(now: number): number {
    this.refill(now);
    if (this.rate === 0 || this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}

/** One websocket, from dial to close. */
interface Conn {
  ws: WebSocketLike;
  phase: 'hello' | 'join' | 'joined';
  /** Connection generation, assigned at Joined. */
  gen: number;
  chunks: number;
  got: number;
  lastError?: ServerError;
  bucket?: TokenBucket;
  handshakeTimer?: ReturnType<typeof setTimeout>;
  /** Set when we close it ourselves; its close event is then not a failure. */
  intentional: boolean;
  /** When the last frame arrived (Date.now), for the ack watchdog. */
  lastRx: number;
  watchdog?: ReturnType<typeof setTimeout>;
}

function randomHex(bytes: number): string {
  const b = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** tabSessionId returns this tab's id, kept in sessionStorage so that it survives reloads. */
function tabSessionId(): string {
  const key = 'flowsync:tab';
  try {
    const ss = (globalThis as { sessionStorage?: Storage }).sessionStorage;
    if (ss) {
      let id = ss.getItem(key);
      if (!id) {
        id = 'tab-' + randomHex(8);
        ss.setItem(key, id);
      }
      return id;
    }
  } catch {
    // sessionStorage can throw (disabled storage, sandboxed iframes).
  }
  return 'tab-' + randomHex(8);
}

function checkId(what: string, v: unknown): string {
  if (typeof v !== 'string' || v === '' || utf8Length(v) > MaxIDBytes) {
    throw new FlowsyncError('config', `flowsync: ${what} must be a string of 1 to ${MaxIDBytes} bytes`);
  }
  return v;
}

function finitePoint(what: string, p: unknown): Point {
  const q = p as Point;
  if (!q || typeof q !== 'object' || !Number.isFinite(q.x) || !Number.isFinite(q.y)) {
    throw new FlowsyncError('invalid-argument', `flowsync: ${what} must be {x, y} with finite numbers`);
  }
  return { x: q.x, y: q.y };
}

function fromWireSelection(s: Selection | undefined): PresenceSelection | undefined {
  if (!s) return undefined;
  return s.id !== undefined ? { t: s.type, id: s.id } : { t: s.type };
}

function fromWireRoster(es: WireRosterEntry[]): RosterEntry[] {
  return es.map((e) => {
    const r: RosterEntry = {
      sid: e.sessionId,
      uid: e.userId,
      role: e.role,
      joined: e.joinedAtMs,
      active: e.lastActivityMs,
      cur: e.cursor ? { ...e.cursor } : null,
    };
    if (e.tabSessionId) r.tab = e.tabSessionId;
    if (e.name) r.name = e.name;
    if (e.avatar) r.avatar = e.avatar;
    const sel = fromWireSelection(e.selection);
    if (sel) r.sel = sel;
    return r;
  });
}

export class FlowsyncClient {
  readonly workflowId: string;
  /** The tab session id sent in Join (a reload replaces its own ghost presence). */
  readonly tabSessionId: string;

  private readonly url: string;
  private token: string;
  private readonly getToken?: () => string | Promise<string>;
  /** A getToken call is in flight (the dial follows it). */
  private fetchingToken = false;
  private readonly clientName: string;
  private readonly clientVersion: string;
  private readonly backoff: Backoff;
  private readonly ackTimeoutMs: number;
  private readonly nowFn: () => number;
  private readonly WS: WebSocketConstructor;
  private readonly persistence: Persistence;
  private readonly ownsPersistence: boolean;
  private readonly lease: ReplicaLease;
  private readonly opPrefix = randomHex(6);
  private opSeq = 0;
  private nextSeq: number;

  private _replicaId: string;
  private _doc: Doc;
  private clock: Clock;
  private outbox: Entry[] = [];
  private recent: Entry[] = [];
  private recentBytes = 0;

  private state: SyncState = 'offline';
  private attempt = 0;
  private closed = false;
  private deleted = false;
  private wantOnline = false;
  private conn: Conn | null = null;
  private gen = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private flushTimer?: ReturnType<typeof setTimeout>;
  private flushAt = 0;
  private saveTimer?: ReturnType<typeof setTimeout>;
  /** Remote deltas merged but not yet written to the storage log (written every DocSaveDelayMs). */
  private pendingLog: Uint8Array[] = [];
  /** Log entries (and their bytes) written since the last snapshot. */
  private logCount = 0;
  private logBytes = 0;
  private snapshotTimer?: ReturnType<typeof setTimeout>;
  /**
   * Set when a storage write failed: storage may now lack deltas whose dots
   * the server has seen, so a reload could mint those dots again with other
   * content. The replica id is retired (retire()) as soon as no delta of it
   * is pending.
   */
  private retireWanted = false;
  /** Set while the retired id's replacement has not been stored in the lease yet. */
  private leaseStale = false;
  private retryLeaseTimer?: ReturnType<typeof setTimeout>;
  /** Our replica's max counter when the document was loaded (or the id was changed). */
  private loadMax = 0;
  /** The greatest own counter this page has sent. */
  private sentMax = 0;
  /**
   * The server's max counter of our replica, when a Joined showed it ahead
   * of the local document: until the catch-up brings those dots, minting
   * would reuse them (see apply).
   */
  private ownFloor = 0;
  /** Set by reset(): the catch-up that follows rebuilds the document; one 'change' is emitted when it completes. */
  private resetting = false;
  /**
   * While resetting, doc and view() keep showing the document as it was
   * (refused edit included) instead of the half-rebuilt one, so that the
   * canvas does not flash empty; the 'change' at the end of the catch-up
   * switches to the server's state.
   */
  private shownDoc: Doc | null = null;
  private unlistenOnline: () => void = () => {};

  private _sessionId = '';
  private _user: User | null = null;
  private _role: Role | null = null;
  private limits: ServerLimits = {};
  private _roster: RosterEntry[] = [];
  private cursor: Point | null = null;
  private selection: PresenceSelection | undefined;
  private presDirty = false;
  private lastPresence = 0;
  private dragPending: Record<string, Point> | null = null;
  private lastDrag = 0;

  private lastStatus: SyncStatus;
  private readonly listeners = new Map<ClientEventName, Set<(...args: never[]) => void>>();
  private savedWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  private constructor(
    opts: FlowsyncClientOptions,
    persistence: Persistence,
    ownsPersistence: boolean,
    lease: ReplicaLease,
    WS: WebSocketConstructor,
  ) {
    this.url = opts.url;
    this.token = opts.token;
    this.getToken = opts.getToken;
    this.workflowId = opts.workflowId;
    this.clientName = opts.clientName ?? DefaultClientName;
    this.clientVersion = opts.clientVersion ?? '';
    this.backoff = new Backoff(opts.backoff);
    this.ackTimeoutMs = opts.ackTimeoutMs ?? DefaultAckTimeoutMs;
    this.nowFn = opts.now ?? Date.now;
    this.WS = WS;
    this.persistence = persistence;
    this.ownsPersistence = ownsPersistence;
    this.lease = lease;
    this.tabSessionId = opts.tabSessionId ?? tabSessionId();
    this._replicaId = lease.replicaId;
    this._doc = emptyDoc();
    this.clock = new Clock(this._replicaId);
    this.nextSeq = 1;
    this.lastStatus = this.computeStatus();
  }

  /**
   * open restores the workflow's local document and outbox from storage
   * (so offline edits show immediately after a reload), claims a replica id
   * no other tab is using, and connects unless autoConnect is false.
   * It throws a FlowsyncError of kind 'config' for invalid options and
   * 'persistence' when storage cannot be opened.
   */
  static async open(opts: FlowsyncClientOptions): Promise<FlowsyncClient> {
    if (!opts || typeof opts !== 'object') throw new FlowsyncError('config', 'flowsync: options are required');
    if (typeof opts.url !== 'string' || !/^wss?:\/\//i.test(opts.url)) {
      throw new FlowsyncError('config', 'flowsync: url must be a ws:// or wss:// URL');
    }
    if (typeof opts.token !== 'string') throw new FlowsyncError('config', 'flowsync: token must be a string');
    if (opts.getToken !== undefined && typeof opts.getToken !== 'function') throw new FlowsyncError('config', 'flowsync: getToken must be a function');
    checkId('workflowId', opts.workflowId);
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) {
      throw new FlowsyncError('config', 'flowsync: no WebSocket implementation (pass options.WebSocket outside browsers)');
    }
    let persistence: Persistence;
    let owns = true;
    const kind = opts.persistence ?? ((globalThis as { indexedDB?: unknown }).indexedDB ? 'indexeddb' : 'memory');
    try {
      if (typeof kind === 'object') {
        persistence = kind;
        owns = false;
      } else if (kind === 'indexeddb') {
        persistence = await IndexedDBPersistence.open({ dbName: opts.dbName, locks: opts.locks });
      } else if (kind === 'memory') {
        persistence = new MemoryPersistence();
      } else {
        throw new FlowsyncError('config', `flowsync: persistence must be 'indexeddb' or 'memory', not ${JSON.stringify(kind)}`);
      }
    } catch (e) {
      if (e instanceof FlowsyncError) throw e;
      throw new FlowsyncError('persistence', `flowsync: cannot open local storage: ${(e as Error).message}`, { cause: e });
    }
    let lease: ReplicaLease;
    let loaded;
    try {
      lease = await persistence.claimReplica(opts.workflowId);
      loaded = await persistence.load(opts.workflowId, lease.replicaId);
    } catch (e) {
      if (owns) await persistence.close().catch(() => {});
      throw new FlowsyncError('persistence', `flowsync: cannot load local state: ${(e as Error).message}`, { cause: e });
    }
    const c = new FlowsyncClient(opts, persistence, owns, lease, WS);
    c.restore(loaded.doc, loaded.log ?? [], loaded.outbox, loaded.nextSeq);
    c.listenOnline();
    if (opts.autoConnect !== false) c.goOnline();
    return c;
  }

  /** restore rebuilds the document from storage: the snapshot, merged with every log and outbox delta. */
  private restore(docBytes: Uint8Array | null, log: Uint8Array[], outbox: Array<{ seq: number; id: string; delta: Uint8Array }>, nextSeq: number): void {
    if (docBytes) {
      try {
        this._doc = decodeDoc(docBytes);
        this.observeBytes(docBytes);
      } catch (e) {
        // A document that no longer decodes is rebuilt from the outbox and
        // the server's catch-up; the outbox alone carries the unsent edits.
        this.emit('error', new FlowsyncError('persistence', `flowsync: the saved document does not decode; rebuilding it: ${(e as Error).message}`, { cause: e }));
      }
    }
    for (const l of log) {
      try {
        this._doc.merge(decodeDoc(l));
        this.observeBytes(l);
        this.logCount++;
        this.logBytes += l.length;
      } catch (e) {
        this.emit('error', new FlowsyncError('persistence', `flowsync: a saved change does not decode and is skipped: ${(e as Error).message}`, { cause: e }));
      }
    }
    for (const s of outbox) {
      try {
        const delta = decodeDoc(s.delta);
        this._doc.merge(delta);
        this.observeBytes(s.delta);
        this.outbox.push({ id: s.id, delta, enc: s.delta, seqs: [s.seq], gen: 0, applied: false, retries: 0, retryAt: 0 });
      } catch (e) {
        this.emit('error', new FlowsyncError('persistence', `flowsync: a saved edit does not decode and is dropped: ${(e as Error).message}`, { cause: e }));
      }
    }
    this.nextSeq = nextSeq;
    this.loadMax = this._doc.context().max(this._replicaId);
    this.lastStatus = this.computeStatus();
    // A long log from the last session: fold it into a snapshot when idle.
    if (this.logCount > 0) this.scheduleSnapshot();
  }

  /**
   * listenOnline reconnects at once when the browser reports the network is
   * back ('online' event), instead of waiting out a backoff that may have
   * grown to 30 s while it was down.
   */
  private listenOnline(): void {
    const target = globalThis as { addEventListener?: (t: string, fn: () => void) => void; removeEventListener?: (t: string, fn: () => void) => void };
    if (typeof target.addEventListener !== 'function') return;
    const onOnline = () => {
      if (this.wantOnline && !this.conn && !this.fetchingToken && !this.closed) {
        this.attempt = 0;
        this.connect();
      }
    };
    target.addEventListener('online', onOnline);
    this.unlistenOnline = () => target.removeEventListener?.('online', onOnline);
  }

  // ---- accessors ---------------------------------------------------------

  get replicaId(): string {
    return this._replicaId;
  }
  /** The session id from Welcome; '' until then. */
  get sessionId(): string {
    return this._sessionId;
  }
  get user(): User | null {
    return this._user;
  }
  /** The role from Joined; null until joined. */
  get role(): Role | null {
    return this._role;
  }
  /** The local document. Treat it as read-only: edit through apply. */
  get doc(): Doc {
    return this.shownDoc ?? this._doc;
  }

  /** view materializes the local document. */
  view(): View {
    return buildView(this.shownDoc ?? this._doc);
  }

  status(): SyncStatus {
    return this.computeStatus();
  }

  roster(): RosterEntry[] {
    return this._roster.map((e) => ({ ...e, cur: e.cur ? { ...e.cur } : e.cur }));
  }

  on<K extends ClientEventName>(event: K, fn: ClientEvents[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as (...args: never[]) => void);
    return () => {
      set!.delete(fn as (...args: never[]) => void);
    };
  }

  private emit<K extends ClientEventName>(event: K, ...args: Parameters<ClientEvents[K]>): void {
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

  // ---- editing -----------------------------------------------------------

  /**
   * apply prepares op against the local document, merges the resulting
   * delta, stores the delta (outbox entry + log entry, one transaction; the
   * whole document is only rewritten as a snapshot now and then), and sends it. It
   * returns the delta. It throws the operation's WorkflowError when the op
   * is refused locally (nothing changes), and a FlowsyncError ('closed',
   * 'workflow-deleted', 'delta-too-large', or 'persistence' in the short
   * moment after a Joined showed the local state behind the server's record
   * of this replica while edits of it are still pending).
   *
   * A read-only session's edit is not refused here: it is sent, and the
   * server's PERMISSION_DENIED triggers the reset of PROTOCOL.md §9 (a
   * 'reject' event, then the server's state). The role can change on the
   * server at any time (a grant re-joins the session), so the server is the
   * one authority; apps should disable editing when role is 'read'.
   */
  apply(op: Op): Doc {
    if (this.closed) throw new FlowsyncError('closed', 'flowsync: the client is closed');
    if (this.deleted) throw new FlowsyncError('workflow-deleted', `flowsync: workflow ${this.workflowId} was deleted`);
    if (this.ownFloor > this._doc.context().max(this._replicaId)) {
      // A Joined showed the server holding dots of this replica that the
      // local document lacks (local storage lost writes) and the catch-up
      // has not brought them yet: minting now would reuse them. Switch to a
      // fresh id first when nothing of this one is pending; else refuse.
      this.retireWanted = true;
      this.maybeRetire();
      if (this.ownFloor > this._doc.context().max(this._replicaId)) {
        throw new FlowsyncError('persistence', 'flowsync: the local document is behind the server for this replica (local storage lost writes); retry once the catch-up completes');
      }
    }
    const ts = this.clock.now(this.nowFn());
    const delta = this._doc.prepare(ts, op);
    const enc = delta.encode();
    const limit = this.maxDelta();
    if (enc.length > limit) {
      throw new FlowsyncError('delta-too-large', `flowsync: ${op.name()} makes a delta of ${enc.length} bytes; the limit is ${limit}`);
    }
    this._doc.merge(delta);
    const seq = this.nextSeq++;
    const id = this.nextOpId();
    this.outbox.push({ id, delta, enc, seqs: [seq], gen: 0, applied: false, retries: 0, retryAt: 0 });
    this.persist(this.persistence.appendLocal(this.workflowId, this._replicaId, { seq, id, delta: enc }));
    this.logged(1, enc.length);
    this.emit('change', delta, false);
    this.notifyStatus();
    this.flush();
    return delta;
  }

  /** applyWire parses a reference-protocol operation (name, target, payload) and applies it. */
  applyWire(name: string, target: string, payload: Record<string, unknown>): Doc {
    return this.apply(parseOp(name, target, payload));
  }

  private nextOpId(): string {
    return `${this.opPrefix}-${(++this.opSeq).toString(36)}`;
  }

  private maxDelta(): number {
    const l = this.limits.maxDeltaBytes;
    return l && l > 0 ? l : DefaultMaxDeltaBytes;
  }

  /**
   * persist reports a failed storage write ('error', kind 'persistence') and
   * retires the replica id: storage may now lack a delta the server has
   * seen, and a reload restoring the older state would mint its dots again.
   */
  private persist(p: Promise<void>): void {
    p.catch((e) => {
      this.emit('error', e instanceof FlowsyncError ? e : new FlowsyncError('persistence', `flowsync: ${(e as Error).message}`, { cause: e }));
      // While a retirement is not stored yet, its own retry (storeRetirement)
      // stores a snapshot of the whole document under the new id: another
      // retirement would only churn ids.
      if (this.leaseStale) return;
      this.retireWanted = true;
      this.maybeRetire();
    });
  }

  /** scheduleDocSave writes the remote deltas merged since the last write to the log, at most every DocSaveDelayMs. */
  private scheduleDocSave(): void {
    if (this.saveTimer !== undefined || this.closed) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.writePendingLog();
    }, DocSaveDelayMs);
  }

  private writePendingLog(): void {
    if (this.pendingLog.length === 0) return;
    const batch = this.pendingLog;
    this.pendingLog = [];
    let bytes = 0;
    for (const b of batch) bytes += b.length;
    this.persist(this.persistence.appendLog(this.workflowId, this._replicaId, batch));
    this.logged(batch.length, bytes);
  }

  /** logged counts log writes and schedules the snapshot that folds them. */
  private logged(n: number, bytes: number): void {
    this.logCount += n;
    this.logBytes += bytes;
    this.scheduleSnapshot();
  }

  /**
   * scheduleSnapshot rewrites the whole document (and drops the log) once
   * SnapshotEveryDeltas entries or SnapshotLogBytes have accumulated (soon,
   * outside the edit's call), else after SnapshotIdleMs without writes.
   */
  private scheduleSnapshot(): void {
    if (this.closed || this.deleted || this.resetting) return;
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
    // While a catch-up streams in, a snapshot would re-encode a document
    // that is still growing: setLive writes one when it completes.
    const due = (this.logCount >= SnapshotEveryDeltas || this.logBytes >= SnapshotLogBytes) && this.state !== 'joining';
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = undefined;
      this.writeSnapshot();
    }, due ? 0 : SnapshotIdleMs);
  }

  /** writeSnapshot stores the whole document; the log it covers is deleted in the same transaction. */
  private writeSnapshot(): void {
    if (this.snapshotTimer !== undefined) {
      clearTimeout(this.snapshotTimer);
      this.snapshotTimer = undefined;
    }
    if (this.deleted || this.resetting) return;
    // The snapshot covers the batch not yet logged too: drop it.
    this.pendingLog = [];
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    this.logCount = 0;
    this.logBytes = 0;
    this.persist(this.persistence.saveSnapshot(this.workflowId, this._replicaId, this._doc.encode()));
  }

  /**
   * maybeRetire switches to a fresh replica id after a storage failure, once
   * no delta of the current id is pending (those can only be sent by a
   * session whose Hello.rid is that id). The document is kept; a snapshot of
   * it is stored under the new id, then the lease is pointed at the new id,
   * then the old id's state is deleted: a crash in between leaves garbage,
   * never an id that a reload could reuse with a stale document. Until then
   * a reload is caught by the check in onJoined.
   */
  private maybeRetire(): void {
    if (!this.retireWanted || this.closed || this.deleted || this.resetting) return;
    if (this.outbox.length > 0) return;
    this.retireWanted = false;
    const old = this._replicaId;
    const fresh = newReplicaId();
    const last = this.clock.last();
    this._replicaId = fresh;
    this.clock = new Clock(fresh);
    this.clock.observe({ wall: last.wall, logical: last.logical, replica: '' }, this.nowFn());
    this.recent = [];
    this.recentBytes = 0;
    this.nextSeq = 1;
    this.loadMax = 0;
    this.sentMax = 0;
    this.ownFloor = 0;
    this.pendingLog = [];
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = undefined;
    this.logCount = 0;
    this.logBytes = 0;
    this.leaseStale = true;
    this.storeRetirement(old, fresh, this._doc.encode());
    // Later sessions announce the new id.
    if (this.conn) {
      this.dropConn(1000, 'new replica id');
      if (this.wantOnline && !this.closed) this.connect();
    }
    this.notifyStatus();
  }

  /** storeRetirement persists a retirement, retrying until it is stored or the id changes again. */
  private storeRetirement(old: string, fresh: string, doc: Uint8Array): void {
    const wf = this.workflowId;
    this.persistence
      .saveSnapshot(wf, fresh, doc)
      .then(() => this.lease.replace(fresh))
      .then(() => {
        if (this._replicaId === fresh) this.leaseStale = false;
        return this.persistence.dropReplica(wf, old).catch(() => {}); // garbage at worst
      })
      .catch((e: unknown) => {
        this.emit('error', e instanceof FlowsyncError ? e : new FlowsyncError('persistence', `flowsync: cannot store the new replica id: ${(e as Error).message}`, { cause: e }));
        if (this.closed || this._replicaId !== fresh) return;
        if (this.retryLeaseTimer !== undefined) clearTimeout(this.retryLeaseTimer);
        this.retryLeaseTimer = setTimeout(() => {
          this.retryLeaseTimer = undefined;
          if (!this.closed && this._replicaId === fresh && this.leaseStale) this.storeRetirement(old, fresh, this._doc.encode());
        }, this.backoff.delay(0) + 1000);
      });
  }

  // ---- presence ----------------------------------------------------------

  /**
   * setPresence updates this session's cursor and/or selection (an absent
   * key keeps its value; cursor null = off the canvas; selection {t:'none'}
   * = nothing). Frames are throttled to one per 33 ms, latest state wins.
   */
  setPresence(p: { cursor?: Point | null; selection?: PresenceSelection }): void {
    if (this.closed) throw new FlowsyncError('closed', 'flowsync: the client is closed');
    if (p.cursor !== undefined) this.cursor = p.cursor === null ? null : finitePoint('cursor', p.cursor);
    if (p.selection !== undefined) {
      const s = p.selection;
      if (s.t === 'none') {
        if (s.id) throw new FlowsyncError('invalid-argument', 'flowsync: a selection of none has no id');
        this.selection = { t: 'none' };
      } else if (s.t === 'block' || s.t === 'edge') {
        if (typeof s.id !== 'string' || s.id === '' || utf8Length(s.id) > MaxIDBytes) {
          throw new FlowsyncError('invalid-argument', `flowsync: a ${s.t} selection needs an id of 1 to ${MaxIDBytes} bytes`);
        }
        this.selection = { t: s.t, id: s.id };
      } else {
        throw new FlowsyncError('invalid-argument', "flowsync: selection.t must be 'block', 'edge' or 'none'");
      }
    }
    this.presDirty = true;
    this.flush();
  }

  /**
   * drag sends live positions of blocks being dragged (throttled, latest
   * position per block wins). They are relayed, never stored: on drop the
   * app applies an update-position op. Ignored while not connected.
   */
  drag(positions: Record<string, Point>): void {
    if (this.closed) throw new FlowsyncError('closed', 'flowsync: the client is closed');
    const checked: Record<string, Point> = {};
    for (const id of Object.keys(positions)) {
      if (id === '' || utf8Length(id) > MaxIDBytes) throw new FlowsyncError('invalid-argument', `flowsync: drag block ids must be 1 to ${MaxIDBytes} bytes`);
      checked[id] = finitePoint(`drag position of ${JSON.stringify(id)}`, positions[id]);
    }
    if (!this.conn || this.conn.phase !== 'joined' || Object.keys(checked).length === 0) return;
    this.dragPending = { ...(this.dragPending ?? {}), ...checked };
    this.flush();
  }

  // ---- lifecycle ---------------------------------------------------------

  /** goOffline closes the connection and stops reconnecting; edits keep queueing in the outbox. */
  goOffline(): void {
    if (this.closed) return;
    this.wantOnline = false;
    this.clearReconnect();
    this.dropConn(1000, 'going offline');
    this.setState('offline');
  }

  /** goOnline connects now (resetting the backoff), unless already connected or connecting. */
  goOnline(): void {
    if (this.closed) return;
    this.wantOnline = true;
    this.attempt = 0;
    this.clearReconnect();
    if (!this.conn) this.connect();
    else this.notifyStatus();
  }

  /** whenSaved resolves when every local edit is durable on the server (pending is 0). */
  whenSaved(): Promise<void> {
    if (this.outbox.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new FlowsyncError('closed', 'flowsync: the client is closed'));
    return new Promise((resolve, reject) => this.savedWaiters.push({ resolve, reject }));
  }

  /** close closes the connection, writes a snapshot of the document (folding the log), waits for storage, and releases the replica id. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wantOnline = false;
    this.unlistenOnline();
    this.clearReconnect();
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.dropConn(1000, 'client closing');
    if (this.retryLeaseTimer !== undefined) clearTimeout(this.retryLeaseTimer);
    // Fold the log into a snapshot (it also covers the unwritten remote batch).
    if (!this.deleted && !this.resetting && (this.logCount > 0 || this.pendingLog.length > 0)) this.writeSnapshot();
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
    this.saveTimer = undefined;
    this.snapshotTimer = undefined;
    this.state = 'closed';
    this.notifyStatus();
    for (const w of this.savedWaiters.splice(0)) w.reject(new FlowsyncError('closed', 'flowsync: the client was closed before every edit was saved'));
    try {
      // A caller-provided persistence stays open for its owner (tests share one).
      if (this.ownsPersistence) await this.persistence.close();
    } finally {
      this.lease.release();
    }
  }

  // ---- status ------------------------------------------------------------

  private computeStatus(): SyncStatus {
    const gen = this.conn?.phase === 'joined' ? this.conn.gen : -1;
    const unacked = this.outbox.filter((e) => !e.applied || e.gen !== gen).length;
    const pending = this.outbox.length;
    return { state: this.state, pending, unacked, attempt: this.attempt, label: statusLabel(this.state, pending) };
  }

  private notifyStatus(): void {
    const s = this.computeStatus();
    if (s.pending === 0 && this.savedWaiters.length > 0) {
      for (const w of this.savedWaiters.splice(0)) w.resolve();
    }
    if (sameStatus(s, this.lastStatus)) return;
    this.lastStatus = s;
    this.emit('status', s);
  }

  private setState(s: SyncState): void {
    if (this.closed && s !== 'closed') return;
    this.state = s;
    this.notifyStatus();
  }

  // ---- connection --------------------------------------------------------

  private clearReconnect(): void {
    if (this.reconnectTimer !== undefined) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
  }

  private connect(): void {
    if (this.closed || !this.wantOnline || this.conn || this.fetchingToken) return;
    this.clearReconnect();
    if (!this.getToken) {
      this.dial();
      return;
    }
    this.fetchingToken = true;
    this.setState('connecting');
    Promise.resolve()
      .then(() => this.getToken!())
      .then(
        (tok) => {
          this.fetchingToken = false;
          if (typeof tok !== 'string') throw new FlowsyncError('config', 'flowsync: getToken must return a string');
          this.token = tok;
          if (!this.closed && this.wantOnline && !this.conn) this.dial();
          else this.setState(this.closed ? 'closed' : 'offline');
        },
        (e: unknown) => {
          this.fetchingToken = false;
          throw new FlowsyncError('config', `flowsync: getToken failed: ${(e as Error)?.message ?? e}`, { cause: e });
        },
      )
      .catch((e: unknown) => {
        this.emit('error', e instanceof Error ? e : new Error(String(e)));
        this.scheduleReconnect();
      });
  }

  private dial(): void {
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.url);
    } catch (e) {
      this.emit('error', new FlowsyncError('config', `flowsync: cannot open a websocket to ${this.url}: ${(e as Error).message}`, { cause: e }));
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    const cn: Conn = { ws, phase: 'hello', gen: 0, chunks: 0, got: 0, intentional: false, lastRx: Date.now() };
    this.conn = cn;
    cn.handshakeTimer = setTimeout(() => {
      if (this.conn === cn && cn.phase !== 'joined') this.failConn(cn, new FlowsyncError('protocol', 'flowsync: the server did not complete the handshake in time'));
    }, HandshakeTimeoutMs);
    this.setState('connecting');
    ws.onopen = () => {
      if (this.conn !== cn) return;
      this.send(cn, {
        type: FrameType.Hello,
        protocolVersion: ProtocolVersion,
        token: this.token,
        replicaId: this._replicaId,
        clientName: this.clientName,
        clientVersion: this.clientVersion,
      });
    };
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.conn !== cn) return;
      cn.lastRx = Date.now();
      const data = ev.data;
      let bytes: Uint8Array;
      if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
      else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      else {
        this.failConn(cn, new FlowsyncError('protocol', 'flowsync: the server sent a text message'));
        return;
      }
      let f: Frame;
      try {
        f = decodeFrame(bytes, { maxFrameBytes: DefaultMaxFrameBytes });
      } catch (e) {
        if (e instanceof FrameDecodeError && e.kind === 'UnknownFrameType') return; // a newer server's frame
        this.failConn(cn, new FlowsyncError('protocol', `flowsync: undecodable frame from the server: ${(e as Error).message}`, { cause: e }));
        return;
      }
      try {
        this.handle(cn, f);
      } catch (e) {
        this.failConn(cn, e instanceof Error ? e : new Error(String(e)));
      }
    };
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (this.conn !== cn) return;
      this.onClosed(cn, ev.code ?? 1006, ev.reason ?? '');
    };
    ws.onerror = () => {
      // A close event always follows; it carries the code.
    };
  }

  private send(cn: Conn, f: ClientFrame): boolean {
    let b: Uint8Array;
    try {
      b = encodeFrame(f);
    } catch (e) {
      this.emit('error', new FlowsyncError('protocol', `flowsync: cannot encode a frame: ${(e as Error).message}`, { cause: e }));
      return false;
    }
    try {
      cn.ws.send(b as Uint8Array<ArrayBuffer>); // encodeFrame returns a fresh, unshared buffer
      return true;
    } catch (e) {
      this.failConn(cn, e instanceof Error ? e : new Error(String(e)));
      return false;
    }
  }

  /**
   * armWatchdog makes sure a check runs ackTimeoutMs after an edit was sent
   * on cn (see FlowsyncClientOptions.ackTimeoutMs). The check re-arms itself
   * while edits sent on cn wait for an answer and frames keep arriving.
   */
  private armWatchdog(cn: Conn): void {
    if (this.ackTimeoutMs <= 0 || cn.watchdog !== undefined) return;
    const check = () => {
      cn.watchdog = undefined;
      if (this.conn !== cn || this.closed) return;
      if (!this.outbox.some((e) => e.gen === cn.gen && !e.applied)) return;
      const quiet = Date.now() - cn.lastRx;
      if (quiet < this.ackTimeoutMs) {
        cn.watchdog = setTimeout(check, this.ackTimeoutMs - quiet);
        return;
      }
      this.failConn(cn, new FlowsyncError('timeout', `flowsync: no answer from the server for ${quiet} ms with edits waiting; reconnecting`));
    };
    cn.watchdog = setTimeout(check, this.ackTimeoutMs);
  }

  /** dropConn closes the current connection on purpose (no reconnect from its close event). */
  private dropConn(code: number, reason: string): void {
    const cn = this.conn;
    if (!cn) return;
    this.conn = null;
    cn.intentional = true;
    if (cn.handshakeTimer !== undefined) clearTimeout(cn.handshakeTimer);
    if (cn.watchdog !== undefined) clearTimeout(cn.watchdog);
    try {
      cn.ws.close(code, reason);
    } catch {
      // Already closed.
    }
    this.clearRoster();
  }

  /** clearRoster empties the roster when a connection ends: offline, nobody is shown as present. */
  private clearRoster(): void {
    this.dragPending = null;
    if (this._roster.length === 0) return;
    this._roster = [];
    this.emit('roster', []);
  }

  /** failConn ends a connection because of an error on our side and reconnects after backoff. */
  private failConn(cn: Conn, err: Error): void {
    if (this.conn !== cn) return;
    this.emit('error', err);
    this.dropConn(1000, 'client error');
    this.scheduleReconnect();
  }

  private onClosed(cn: Conn, code: number, reason: string): void {
    this.conn = null;
    if (cn.handshakeTimer !== undefined) clearTimeout(cn.handshakeTimer);
    if (cn.watchdog !== undefined) clearTimeout(cn.watchdog);
    this.clearRoster();
    if (this.closed) return;
    if (!shouldReconnect(code)) {
      // Terminal: the user or the app must act (new token, access, upgrade).
      this.wantOnline = false;
      this.emit('error', new CloseError(code, reason || closeReason(code), cn.lastError));
      this.setState('closed');
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || !this.wantOnline) {
      this.setState(this.closed ? 'closed' : 'offline');
      return;
    }
    const delay = this.backoff.delay(this.attempt);
    this.attempt++;
    this.setState('offline');
    this.clearReconnect();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  // ---- frames ------------------------------------------------------------

  private handle(cn: Conn, f: Frame): void {
    switch (f.type) {
      case FrameType.Welcome: {
        if (cn.phase !== 'hello') return;
        if (f.protocolVersion !== ProtocolVersion) {
          throw new FlowsyncError('protocol', `flowsync: the server speaks protocol ${f.protocolVersion}, not ${ProtocolVersion}`);
        }
        this._sessionId = f.sessionId;
        this._user = { id: f.user.id, name: f.user.name ?? f.user.id, ...(f.user.avatar ? { avatar: f.user.avatar } : {}) };
        this.limits = f.limits;
        this.clock.observe({ wall: f.serverTimeMs, logical: 0, replica: '' }, this.nowFn());
        cn.phase = 'join';
        this.send(cn, { type: FrameType.Join, workflowId: this.workflowId, context: encodeContextOf(this._doc), tabSessionId: this.tabSessionId });
        this.setState('joining');
        return;
      }
      case FrameType.Joined: {
        if (f.workflowId !== this.workflowId) return;
        this.onJoined(cn, f.role, f.context, f.roster, f.catchUpChunks);
        return;
      }
      case FrameType.CatchUp: {
        if (f.workflowId !== this.workflowId || cn.phase !== 'joined') return;
        this.mergeRemote(f.delta, !this.resetting);
        cn.got++;
        if (f.last || cn.got >= cn.chunks) this.setLive(cn);
        return;
      }
      case FrameType.RemoteDelta:
        if (f.workflowId !== this.workflowId) return;
        this.mergeRemote(f.delta, !this.resetting);
        return;
      case FrameType.Applied: {
        const e = this.outbox.find((x) => x.id === f.opId);
        if (e && e.gen === cn.gen) {
          e.applied = true;
          this.notifyStatus();
        }
        return;
      }
      case FrameType.Durable:
        this.onDurable(f.opIds);
        return;
      case FrameType.Nack:
        this.onNack(cn, f.opId, f.code, f.message ?? '', f.retryable);
        return;
      case FrameType.Roster:
        if (f.workflowId !== this.workflowId) return;
        this._roster = fromWireRoster(f.entries);
        this.emit('roster', this.roster());
        return;
      case FrameType.PresenceUpdate: {
        if (f.workflowId !== this.workflowId) return;
        const sel = fromWireSelection(f.selection);
        for (const r of this._roster) {
          if (r.sid === f.sessionId) {
            r.cur = f.cursor ? { ...f.cursor } : null;
            if (sel) r.sel = sel;
            else delete r.sel;
          }
        }
        const u: PresenceUpdate = { sid: f.sessionId, uid: f.userId, cur: f.cursor ? { ...f.cursor } : null };
        if (f.name) u.name = f.name;
        if (f.avatar) u.avatar = f.avatar;
        if (sel) u.sel = sel;
        this.emit('presence', u);
        return;
      }
      case FrameType.DragUpdate:
        if (f.workflowId !== this.workflowId) return;
        this.emit('drag', { sid: f.sessionId, uid: f.userId, pos: f.positions });
        return;
      case FrameType.Event: {
        if (f.workflowId !== this.workflowId) return;
        if (f.kind === 'workflow-deleted') {
          // Nothing of the outbox can ever be stored: drop it, refuse edits.
          this.deleted = true;
          this.outbox = [];
          this.recent = [];
          this.recentBytes = 0;
          this.pendingLog = [];
          if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
          if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
          this.saveTimer = undefined;
          this.snapshotTimer = undefined;
          this.persist(this.persistence.dropReplica(this.workflowId, this._replicaId));
          this.notifyStatus();
        }
        const ev: LifecycleEvent = { kind: f.kind, ts: f.timestampMs };
        if (f.message) ev.msg = f.message;
        this.emit('event', ev);
        return;
      }
      case FrameType.Error: {
        const err = new ServerError(f.code, f.message ?? '', f.retryable, f.workflowId);
        cn.lastError = err;
        if (f.workflowId === this.workflowId && !f.retryable) {
          // A refused Join (ACCESS_DENIED, UNKNOWN_WORKFLOW, WORKFLOW_DELETED)
          // or a room-level refusal: retrying would repeat it.
          this.emit('error', err);
          this.wantOnline = false;
          this.dropConn(1000, 'refused');
          this.setState('closed');
          return;
        }
        if (f.workflowId === this.workflowId && cn.phase === 'join') {
          // A retryable refusal of the Join (OVERLOADED, RATE_LIMITED).
          this.failConn(cn, err);
          return;
        }
        this.emit('error', err);
        return;
      }
      default:
        // A client→server frame from the server: ignore it, as the Go client does.
        return;
    }
  }

  /**
   * onJoined handles the answer to our Join, and also a Joined on a live
   * connection: a role change made on the server re-joins the session
   * (PROTOCOL.md §4.1) with a full catch-up. Either way a new connection
   * generation starts, so every unacknowledged delta is sent again.
   */
  private onJoined(cn: Conn, role: Role, ctxBytes: Uint8Array, roster: WireRosterEntry[], chunks: number): void {
    if (cn.phase === 'hello') return;
    const serverCtx = decodeDoc(ctxBytes).context();
    if (this.reusedDots(serverCtx)) return;
    // Durable deltas the rejoined node lacks (its peer died before
    // replicating them): back into the outbox.
    const kept: Entry[] = [];
    for (const e of this.recent) {
      if (ownDotsCovered(serverCtx, e.delta, this._replicaId)) kept.push(e);
      else {
        this.recentBytes -= e.enc.length;
        e.gen = 0;
        e.applied = false;
        e.retries = 0;
        e.retryAt = 0;
        e.seqs = [];
        this.outbox.push(e);
      }
    }
    this.recent = kept;
    if (cn.handshakeTimer !== undefined) clearTimeout(cn.handshakeTimer);
    cn.phase = 'joined';
    cn.gen = ++this.gen;
    cn.chunks = chunks;
    cn.got = 0;
    cn.bucket = new TokenBucket(this.limits.maxOpsPerSecond, this.limits.opsBurst, this.nowFn());
    this._role = role;
    this._roster = fromWireRoster(roster);
    this.attempt = 0;
    this.presDirty = this.presDirty || this.cursor !== null || this.selection !== undefined;
    this.lastPresence = 0;
    this.lastDrag = 0;
    if (chunks === 0) this.setLive(cn);
    else this.setState('joining');
    this.emit('roster', this.roster());
    this.flush();
  }

  /**
   * reusedDots guards against a stale local state (a storage write failed,
   * then the page reloaded an older document): the server holds dots of our
   * replica that this page neither loaded nor sent, while deltas minted here
   * after the load are pending. Their dots may be the very ones the server
   * holds with other content (the server would drop them as duplicates:
   * silent loss). That is treated like a non-retryable refusal: reset with a
   * new replica id and tell the app ('error' with kind 'replica-conflict',
   * then 'reject'). Returns true when it reset.
   */
  private reusedDots(serverCtx: ReturnType<Doc['context']>): boolean {
    const rid = this._replicaId;
    const serverMax = serverCtx.max(rid);
    if (serverMax <= Math.max(this.loadMax, this.sentMax)) return false;
    const mintedHere = [...this.outbox, ...this.recent].filter((e) => e.delta.context().max(rid) > this.loadMax);
    if (mintedHere.length === 0) {
      // Nothing collides yet; the catch-up brings the missing dots. Until it
      // has, apply must not mint (ownFloor), and the id is retired as soon
      // as nothing of it is pending: its stored state proved unreliable.
      if (serverMax > this._doc.context().max(rid)) this.ownFloor = serverMax;
      this.retireWanted = true;
      return false;
    }
    const first = mintedHere[0];
    const msg =
      `the server holds dots of replica ${rid} up to ${serverMax}, beyond the ${Math.max(this.loadMax, this.sentMax)} this client loaded or sent, ` +
      `and ${mintedHere.length} edit(s) minted after loading may reuse them (local storage lost writes)`;
    this.emit('error', new FlowsyncError('replica-conflict', `flowsync: ${msg}`));
    this.reset(new RejectError(first.id, 0, msg));
    return true;
  }

  private setLive(cn: Conn): void {
    if (this.conn !== cn) return;
    if (this.resetting) {
      // The reset's catch-up is complete: one change for the whole new document.
      this.resetting = false;
      this.shownDoc = null;
      this.writeSnapshot();
      this.emit('change', this._doc, true);
    }
    this.setState('live');
    if (this.logCount >= SnapshotEveryDeltas || this.logBytes >= SnapshotLogBytes) this.scheduleSnapshot();
    // A retirement waiting for the catch-up (reusedDots) happens now that the document is complete.
    if (this.retireWanted && this.outbox.length === 0) this.maybeRetire();
  }

  /** mergeRemote merges a delta from the server and moves the clock past its latest write. */
  private mergeRemote(bytes: Uint8Array, notify: boolean): void {
    let delta: Doc;
    try {
      delta = decodeDoc(bytes);
    } catch (e) {
      // The server is broken; a reconnect resyncs by context.
      throw new FlowsyncError('protocol', `flowsync: a delta from the server does not decode: ${(e as Error).message}`, { cause: e });
    }
    if (this.deleted) return;
    this._doc.merge(delta);
    this.observeBytes(bytes);
    this.pendingLog.push(bytes.slice());
    this.scheduleDocSave();
    if (notify) this.emit('change', delta, true);
  }

  private observeBytes(bytes: Uint8Array): void {
    const t = latestWrite(bytes);
    if (t) this.clock.observe({ wall: t.wall, logical: t.logical, replica: '' }, this.nowFn());
  }

  private onDurable(ids: string[]): void {
    const set = new Set(ids);
    const seqs: number[] = [];
    const kept: Entry[] = [];
    for (const e of this.outbox) {
      if (!set.has(e.id)) {
        kept.push(e);
        continue;
      }
      seqs.push(...e.seqs);
      e.seqs = [];
      this.recent.push(e);
      this.recentBytes += e.enc.length;
    }
    while (this.recent.length > maxRecentDeltas || this.recentBytes > maxRecentBytes) {
      this.recentBytes -= this.recent.shift()!.enc.length;
    }
    if (kept.length === this.outbox.length) return;
    this.outbox = kept;
    this.persist(this.persistence.removeEntries(this.workflowId, this._replicaId, seqs));
    this.notifyStatus();
    this.maybeRetire();
  }

  private onNack(cn: Conn, opId: string, code: number, message: string, retryable: boolean): void {
    this.emit('nack', { opId, code, codeName: codeName(code), message, retryable });
    const e = this.outbox.find((x) => x.id === opId);
    if (code === Code.NOT_JOINED) {
      // The server no longer counts this connection in the room (a newer
      // connection from the same tab replaced it): resending would be
      // refused again. Reconnect, which rejoins and resends the outbox.
      this.failConn(cn, new ServerError(code, message, true, this.workflowId));
      return;
    }
    if (!e || e.gen !== cn.gen) return;
    if (retryable) {
      const delay = this.backoff.delay(e.retries);
      e.retries++;
      e.gen = 0;
      e.applied = false;
      e.retryAt = this.nowFn() + delay;
      this.notifyStatus();
      this.flush();
      return;
    }
    this.reset(new RejectError(opId, code, message));
  }

  /**
   * reset follows PROTOCOL.md §9 after a non-retryable Nack: the local
   * replica holds writes the server will never have, and later deltas may
   * build on them. Discard the workflow's local document, outbox and recent
   * deltas; choose a new replica id (so that no dot is ever reused with
   * different content) and store it before the old state is deleted (a
   * crash in between leaves garbage, never a reused id); rejoin at once with
   * an empty context. The catch-up rebuilds the document; a single 'change'
   * (remote) is emitted when it completes.
   *
   * Every unacknowledged edit is discarded with the refused one (they were
   * made on top of it). Apps that want to keep some should re-apply them as
   * operations after the 'change'.
   */
  private reset(rej: RejectError): void {
    const oldReplica = this._replicaId;
    const fresh = newReplicaId();
    this.shownDoc = this.shownDoc ?? this._doc;
    this._replicaId = fresh;
    this.clock = new Clock(fresh);
    this._doc = emptyDoc();
    this.outbox = [];
    this.recent = [];
    this.recentBytes = 0;
    this.dragPending = null;
    this.nextSeq = 1;
    this.resetting = true;
    this.retireWanted = false; // the reset is a retirement
    this.loadMax = 0;
    this.sentMax = 0;
    this.ownFloor = 0;
    this.pendingLog = [];
    this.logCount = 0;
    this.logBytes = 0;
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = undefined;
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    const wf = this.workflowId;
    this.persist(this.lease.replace(fresh).then(() => this.persistence.dropReplica(wf, oldReplica)));
    this.dropConn(1000, 'resetting');
    this.emit('reject', rej);
    if (this.wantOnline && !this.closed) this.connect();
    else this.notifyStatus();
  }

  // ---- sending -----------------------------------------------------------

  /**
   * flush sends what is due on the joined connection: outbox entries not
   * yet sent on it (coalesced by merging), presence and drag (throttled).
   * It arms one timer for the earliest thing not yet due.
   */
  private flush(): void {
    const cn = this.conn;
    if (!cn || cn.phase !== 'joined' || this.closed) return;
    const now = this.nowFn();
    let wait = 0;
    const later = (d: number) => {
      d = Math.max(1, d);
      if (wait === 0 || d < wait) wait = d;
    };
    let due: Entry[] = [];
    for (const e of this.outbox) {
      if (e.gen === cn.gen) continue;
      if (e.retryAt > now) later(e.retryAt - now);
      else due.push(e);
    }
    if (due.length > 1) due = this.coalesce(due);
    for (const e of due) {
      if (cn.bucket && !cn.bucket.take(now)) {
        later(cn.bucket.wait(now));
        break;
      }
      if (!this.send(cn, { type: FrameType.Delta, workflowId: this.workflowId, opId: e.id, delta: e.enc })) return;
      this.sentMax = Math.max(this.sentMax, e.delta.context().max(this._replicaId));
      e.gen = cn.gen;
      e.applied = false;
      this.armWatchdog(cn);
    }
    if (this.presDirty) {
      const next = this.lastPresence + PresenceIntervalMs;
      if (now < next) later(next - now);
      else {
        const sel: Selection | undefined = this.selection && this.selection.t !== 'none' ? { type: this.selection.t, id: this.selection.id } : this.selection ? { type: 'none' } : undefined;
        this.send(cn, { type: FrameType.Presence, workflowId: this.workflowId, cursor: this.cursor, ...(sel ? { selection: sel } : {}) });
        this.presDirty = false;
        this.lastPresence = now;
      }
    }
    if (this.dragPending) {
      const next = this.lastDrag + PresenceIntervalMs;
      if (now < next) later(next - now);
      else {
        this.send(cn, { type: FrameType.Drag, workflowId: this.workflowId, positions: this.dragPending });
        this.dragPending = null;
        this.lastDrag = now;
      }
    }
    this.notifyStatus();
    if (wait > 0) {
      const at = now + wait;
      if (this.flushTimer !== undefined && this.flushAt <= at) return;
      if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
      this.flushAt = at;
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flush();
      }, wait);
    }
  }

  /**
   * coalesce folds runs of due entries into single entries by merging, each
   * at most 3/4 of the delta limit (a merge's encoding is at most about the
   * sum of its parts'). A merged entry takes the first's place with a fresh
   * op id and stands for every part's storage seq, so its Durable clears
   * them all. Entries larger than the limit stay alone.
   */
  private coalesce(due: Entry[]): Entry[] {
    const limit = (this.maxDelta() * 3) / 4;
    const out: Entry[] = [];
    let group: Entry[] = [];
    let size = 0;
    const fold = () => {
      if (group.length === 1) out.push(group[0]);
      else if (group.length > 1) {
        const delta = mergeAll(group.map((e) => e.delta));
        const m: Entry = {
          id: this.nextOpId(),
          delta,
          enc: delta.encode(),
          seqs: group.flatMap((e) => e.seqs),
          gen: 0,
          applied: false,
          retries: Math.max(...group.map((e) => e.retries)),
          retryAt: 0,
        };
        const drop = new Set(group);
        const i = this.outbox.indexOf(group[0]);
        this.outbox[i] = m;
        this.outbox = this.outbox.filter((e) => e === m || !drop.has(e));
        out.push(m);
      }
      group = [];
      size = 0;
    };
    for (const e of due) {
      if (group.length > 0 && size + e.enc.length > limit) fold();
      group.push(e);
      size += e.enc.length;
    }
    fold();
    return out;
  }
}
