// The options of FlowsyncClient.open: their types, defaults and checks, and
// the websocket shape the client needs.

import { MaxIDBytes } from '../protocol';
import { utf8Length } from '../protocol/msgpack';
import type { LockManagerLike, Persistence } from '../persist/types';
import type { UndoConfig } from '../workflow/undo';
import { FlowsyncError } from './errors';

/** The client name sent in Hello unless overridden. */
export const DefaultClientName = 'flowsync-js';
/** Default of FlowsyncClientOptions.ackTimeoutMs. */
export const DefaultAckTimeoutMs = 20_000;

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
   * Bounds and grouping of undo and redo (client.undo()): edits less than
   * window ms apart (default 500) are one undo step; maxEntries (default
   * 100) steps are kept.
   */
  undo?: UndoConfig;
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

/**
 * checkOptions refuses invalid options with a FlowsyncError of kind
 * 'config' and returns the websocket implementation to use.
 */
export function checkOptions(opts: FlowsyncClientOptions): WebSocketConstructor {
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
  return WS;
}

function checkId(what: string, v: unknown): string {
  if (typeof v !== 'string' || v === '' || utf8Length(v) > MaxIDBytes) {
    throw new FlowsyncError('config', `flowsync: ${what} must be a string of 1 to ${MaxIDBytes} bytes`);
  }
  return v;
}

export function randomHex(bytes: number): string {
  const b = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** tabSessionId returns this tab's id, kept in sessionStorage so that it survives reloads. */
export function tabSessionId(): string {
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
