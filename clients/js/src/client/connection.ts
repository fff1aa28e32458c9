// The websocket: one at a time, from the token and the dial through Hello
// to its close, and the reconnects between them.
//
// Reconnects use capped exponential backoff with full jitter (base 1 s,
// cap 30 s); terminal close codes (4500–4999, 1008, 1009) stop them, since
// the user or the app must act first (a new token, access, an upgrade). The
// browser's 'online' event reconnects at once instead of waiting out a
// backoff that may have grown while the network was down. What the frames
// mean is not decided here: every decoded frame goes to the host.

import {
  CapabilityAcks,
  closeReason,
  decodeFrame,
  encodeFrame,
  FrameDecodeError,
  FrameType,
  ProtocolVersion,
  shouldReconnect,
  type ClientFrame,
  type Frame,
} from '../protocol';
import type { Backoff } from './backoff';
import { CloseError, FlowsyncError, type ServerError } from './errors';
import type { WebSocketConstructor, WebSocketLike } from './options';
import type { SyncState } from './status';
import type { TokenBucket } from './bucket';

/** Largest frame the client reads (a relayed, joined delta can exceed the server's own 1 MiB read limit). */
export const DefaultMaxFrameBytes = 2 << 20;
/** Hello → Joined must complete within this, or the attempt is dropped and retried. */
export const HandshakeTimeoutMs = 10_000;

/** One websocket, from dial to close. */
export interface Conn {
  ws: WebSocketLike;
  phase: 'hello' | 'join' | 'joined';
  /** Connection generation, assigned at Joined. */
  gen: number;
  /** Catch-up chunks announced by Joined, and received so far. */
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
  /** The room incarnation from Joined (absent from a server without receipts). */
  epoch?: string;
  /** Joined.seq when the catch-up is not durable yet: its chunks are kept under it. */
  catchUpSeq?: number;
}

export interface ConnectionConfig {
  url: string;
  token: string;
  getToken?: () => string | Promise<string>;
  WS: WebSocketConstructor;
  clientName: string;
  clientVersion: string;
  backoff: Backoff;
  ackTimeoutMs: number;
}

/** What the connection asks of the client. */
export interface ConnectionHost {
  /** The replica id Hello announces. */
  replicaId(): string;
  closed(): boolean;
  setState(s: SyncState): void;
  notifyStatus(): void;
  emitError(e: Error): void;
  /** handleFrame acts on a decoded frame; a throw fails the connection. */
  handleFrame(cn: Conn, f: Frame): void;
  /** disconnected is called when a connection ends, for whatever reason. */
  disconnected(): void;
  /** terminalClose is called when the server closed with a terminal code, before the error is emitted. */
  terminalClose(code: number, reason: string): void;
  /** awaitingAnswer reports whether an edit sent on cn waits for its Applied or Nack. */
  awaitingAnswer(cn: Conn): boolean;
}

export class Connection {
  /** The current connection, from dial to close. */
  conn: Conn | null = null;
  /** Failed connection attempts since the last successful join. */
  attempt = 0;
  /** Whether the app wants to be connected (goOnline) and no terminal refusal stopped it. */
  wantOnline = false;
  private token: string;
  /** A getToken call is in flight (the dial follows it). */
  private fetchingToken = false;
  private gen = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private unlistenOnline: () => void = () => {};

  constructor(
    private readonly cfg: ConnectionConfig,
    private readonly host: ConnectionHost,
  ) {
    this.token = cfg.token;
  }

  /** joinedConn returns the current connection if it has joined. */
  joinedConn(): Conn | null {
    return this.conn && this.conn.phase === 'joined' ? this.conn : null;
  }

  /** listenOnline reconnects at once when the browser reports the network is back. */
  listenOnline(): void {
    const target = globalThis as { addEventListener?: (t: string, fn: () => void) => void; removeEventListener?: (t: string, fn: () => void) => void };
    if (typeof target.addEventListener !== 'function') return;
    const onOnline = () => {
      if (this.wantOnline && !this.conn && !this.fetchingToken && !this.host.closed()) {
        this.attempt = 0;
        this.connect();
      }
    };
    target.addEventListener('online', onOnline);
    this.unlistenOnline = () => target.removeEventListener?.('online', onOnline);
  }

  /** goOnline connects now (resetting the backoff), unless already connected or connecting. */
  goOnline(): void {
    this.wantOnline = true;
    this.attempt = 0;
    this.clearReconnect();
    if (!this.conn) this.connect();
    else this.host.notifyStatus();
  }

  /** goOffline closes the connection and stops reconnecting. */
  goOffline(): void {
    this.wantOnline = false;
    this.clearReconnect();
    this.drop(1000, 'going offline');
    this.host.setState('offline');
  }

  /** stop ends everything for good (the client is closing). */
  stop(): void {
    this.wantOnline = false;
    this.unlistenOnline();
    this.clearReconnect();
  }

  /** nextGen starts a connection generation (at every Joined): edits sent on another are due again. */
  nextGen(): number {
    return ++this.gen;
  }

  /** replace drops the current connection and, if still wanted, connects again (a new replica id must say Hello). */
  replace(reason: string): void {
    this.drop(1000, reason);
    if (this.wantOnline && !this.host.closed()) this.connect();
  }

  private clearReconnect(): void {
    if (this.reconnectTimer !== undefined) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
  }

  connect(): void {
    if (this.host.closed() || !this.wantOnline || this.conn || this.fetchingToken) return;
    this.clearReconnect();
    const getToken = this.cfg.getToken;
    if (!getToken) {
      this.dial();
      return;
    }
    this.fetchingToken = true;
    this.host.setState('connecting');
    Promise.resolve()
      .then(() => getToken())
      .then(
        (tok) => {
          this.fetchingToken = false;
          if (typeof tok !== 'string') throw new FlowsyncError('config', 'flowsync: getToken must return a string');
          this.token = tok;
          if (!this.host.closed() && this.wantOnline && !this.conn) this.dial();
          else this.host.setState(this.host.closed() ? 'closed' : 'offline');
        },
        (e: unknown) => {
          this.fetchingToken = false;
          throw new FlowsyncError('config', `flowsync: getToken failed: ${(e as Error)?.message ?? e}`, { cause: e });
        },
      )
      .catch((e: unknown) => {
        this.host.emitError(e instanceof Error ? e : new Error(String(e)));
        this.scheduleReconnect();
      });
  }

  private dial(): void {
    let ws: WebSocketLike;
    try {
      ws = new this.cfg.WS(this.cfg.url);
    } catch (e) {
      this.host.emitError(new FlowsyncError('config', `flowsync: cannot open a websocket to ${this.cfg.url}: ${(e as Error).message}`, { cause: e }));
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    const cn: Conn = { ws, phase: 'hello', gen: 0, chunks: 0, got: 0, intentional: false, lastRx: Date.now() };
    this.conn = cn;
    cn.handshakeTimer = setTimeout(() => {
      if (this.conn === cn && cn.phase !== 'joined') this.fail(cn, new FlowsyncError('protocol', 'flowsync: the server did not complete the handshake in time'));
    }, HandshakeTimeoutMs);
    this.host.setState('connecting');
    ws.onopen = () => {
      if (this.conn !== cn) return;
      this.send(cn, {
        type: FrameType.Hello,
        protocolVersion: ProtocolVersion,
        token: this.token,
        replicaId: this.host.replicaId(),
        clientName: this.cfg.clientName,
        clientVersion: this.cfg.clientVersion,
        caps: [CapabilityAcks],
      });
    };
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.conn !== cn) return;
      cn.lastRx = Date.now();
      this.receive(cn, ev.data);
    };
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (this.conn !== cn) return;
      this.onClose(cn, ev.code ?? 1006, ev.reason ?? '');
    };
    ws.onerror = () => {
      // A close event always follows; it carries the code.
    };
  }

  /** receive decodes a message and hands the frame to the host. */
  private receive(cn: Conn, data: unknown): void {
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else {
      this.fail(cn, new FlowsyncError('protocol', 'flowsync: the server sent a text message'));
      return;
    }
    let f: Frame;
    try {
      f = decodeFrame(bytes, { maxFrameBytes: DefaultMaxFrameBytes });
    } catch (e) {
      if (e instanceof FrameDecodeError && e.kind === 'UnknownFrameType') return; // a newer server's frame
      this.fail(cn, new FlowsyncError('protocol', `flowsync: undecodable frame from the server: ${(e as Error).message}`, { cause: e }));
      return;
    }
    try {
      this.host.handleFrame(cn, f);
    } catch (e) {
      this.fail(cn, e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** send encodes and writes a frame; false when it could not (the connection is then failed). */
  send(cn: Conn, f: ClientFrame): boolean {
    let b: Uint8Array;
    try {
      b = encodeFrame(f);
    } catch (e) {
      this.host.emitError(new FlowsyncError('protocol', `flowsync: cannot encode a frame: ${(e as Error).message}`, { cause: e }));
      return false;
    }
    try {
      cn.ws.send(b as Uint8Array<ArrayBuffer>); // encodeFrame returns a fresh, unshared buffer
      return true;
    } catch (e) {
      this.fail(cn, e instanceof Error ? e : new Error(String(e)));
      return false;
    }
  }

  /** joined ends cn's handshake: a new generation starts and the backoff is reset. */
  joined(cn: Conn, chunks: number): void {
    if (cn.handshakeTimer !== undefined) clearTimeout(cn.handshakeTimer);
    cn.phase = 'joined';
    cn.gen = this.nextGen();
    cn.chunks = chunks;
    cn.got = 0;
    this.attempt = 0;
  }

  /**
   * armWatchdog makes sure a check runs ackTimeoutMs after an edit was sent
   * on cn (see FlowsyncClientOptions.ackTimeoutMs). The check re-arms itself
   * while edits sent on cn wait for an answer and frames keep arriving.
   */
  armWatchdog(cn: Conn): void {
    const timeout = this.cfg.ackTimeoutMs;
    if (timeout <= 0 || cn.watchdog !== undefined) return;
    const check = () => {
      cn.watchdog = undefined;
      if (this.conn !== cn || this.host.closed()) return;
      if (!this.host.awaitingAnswer(cn)) return;
      const quiet = Date.now() - cn.lastRx;
      if (quiet < timeout) {
        cn.watchdog = setTimeout(check, timeout - quiet);
        return;
      }
      this.fail(cn, new FlowsyncError('timeout', `flowsync: no answer from the server for ${quiet} ms with edits waiting; reconnecting`));
    };
    cn.watchdog = setTimeout(check, timeout);
  }

  /** drop closes the current connection on purpose (no reconnect from its close event). */
  drop(code: number, reason: string): void {
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
    this.host.disconnected();
  }

  /** refused stops for good after the server refused us (a non-retryable Error frame). */
  refused(): void {
    this.wantOnline = false;
    this.drop(1000, 'refused');
    this.host.setState('closed');
  }

  /** fail ends a connection because of an error on our side and reconnects after backoff. */
  fail(cn: Conn, err: Error): void {
    if (this.conn !== cn) return;
    this.host.emitError(err);
    this.drop(1000, 'client error');
    this.scheduleReconnect();
  }

  private onClose(cn: Conn, code: number, reason: string): void {
    this.conn = null;
    if (cn.handshakeTimer !== undefined) clearTimeout(cn.handshakeTimer);
    if (cn.watchdog !== undefined) clearTimeout(cn.watchdog);
    this.host.disconnected();
    if (this.host.closed()) return;
    if (!shouldReconnect(code)) {
      // Terminal: the user or the app must act (new token, access, upgrade).
      this.wantOnline = false;
      this.host.terminalClose(code, reason);
      this.host.emitError(new CloseError(code, reason || closeReason(code), cn.lastError));
      this.host.setState('closed');
      return;
    }
    this.scheduleReconnect();
  }

  /** retryLater connects again after the backoff (a reconnect that must not happen at once). */
  retryLater(): void {
    if (!this.conn) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.host.closed() || !this.wantOnline) {
      this.host.setState(this.host.closed() ? 'closed' : 'offline');
      return;
    }
    const delay = this.cfg.backoff.delay(this.attempt);
    this.attempt++;
    this.host.setState('offline');
    this.clearReconnect();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }
}
