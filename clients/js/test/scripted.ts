// A websocket whose server side the test plays frame by frame, so that a
// client can be driven through the protocol without a server and under
// vitest's fake timers (not a test file).
import { Context } from '../src/crdt/context';
import type { WebSocketConstructor, WebSocketLike } from '../src/index';
import {
  decodeFrame,
  encodeFrame,
  FrameType,
  ProtocolVersion,
  type ClientFrame,
  type Frame,
  type ServerFrame,
  type ServerLimits,
} from '../src/protocol';
import { encodeContext } from '../src/workflow/encode';

export class ScriptedSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  /** Every frame the client sent, decoded. */
  readonly sent: ClientFrame[] = [];
  /** How the client closed it, if it did. */
  closedWith: { code?: number; reason?: string } | null = null;

  constructor(readonly url: string) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(decodeFrame(data) as ClientFrame);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 3;
    this.closedWith = { code, reason };
  }

  /** sentOf returns the frames of one type the client sent. */
  sentOf<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.sent.filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type);
  }

  /** open completes the dial; the client says Hello. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** deliver sends a frame to the client. */
  deliver(f: ServerFrame): void {
    const b = encodeFrame(f as Frame);
    this.onmessage?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) });
  }

  /** serverClose closes the connection from the server's side. */
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /**
   * join plays a server through the handshake: Welcome after Hello, and
   * Joined (by default an empty room, no catch-up) after Join.
   */
  join(
    opts: {
      limits?: ServerLimits;
      sessionId?: string;
      /** The server's context (encoded, §7.4); default empty. */
      context?: Uint8Array;
      /** Joined.epoch, seq and stable (receipts); absent by default, as from a server without them. */
      epoch?: string;
      seq?: number;
      stable?: number;
      chunks?: number;
    } = {},
  ): void {
    this.open();
    if (this.sentOf(FrameType.Hello).length !== 1) throw new Error('the client did not say Hello');
    this.deliver({
      type: FrameType.Welcome,
      protocolVersion: ProtocolVersion,
      sessionId: opts.sessionId ?? 's1',
      user: { id: 'u1', name: 'Ann' },
      limits: opts.limits ?? {},
      serverTimeMs: Date.now(),
    });
    const join = this.sentOf(FrameType.Join);
    if (join.length !== 1) throw new Error('the client did not Join');
    this.deliver({
      type: FrameType.Joined,
      workflowId: join[0].workflowId,
      role: 'write',
      context: opts.context ?? encodeContext(new Context()),
      roster: [],
      catchUpChunks: opts.chunks ?? 0,
      ...(opts.epoch !== undefined ? { epoch: opts.epoch, seq: opts.seq ?? 0, stable: opts.stable ?? 0 } : {}),
    });
  }
}

/** ScriptedServer hands out ScriptedSockets and keeps every one the client opened. */
export class ScriptedServer {
  readonly sockets: ScriptedSocket[] = [];
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const sockets = this.sockets;
    this.WebSocket = class extends ScriptedSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    } as unknown as WebSocketConstructor;
  }

  get last(): ScriptedSocket {
    const s = this.sockets[this.sockets.length - 1];
    if (!s) throw new Error('no socket was opened');
    return s;
  }
}
