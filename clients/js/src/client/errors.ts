// Errors of the browser client. Every error the client throws or emits is a
// FlowsyncError with a stable `kind`, so an app can branch without parsing
// messages; server-side refusals also carry the wire code (PROTOCOL.md §5).

import { codeName } from '../protocol/codes';
import { closeReason as closeCodeReason } from '../protocol/close';
import type { Doc } from '../workflow/doc';

/** What went wrong, stable across versions. */
export type FlowsyncErrorKind =
  | 'config' // FlowsyncClient.open was given invalid options
  | 'closed' // the client was closed
  | 'invalid-argument' // a method was given an invalid value (non-finite cursor, bad selection)
  | 'delta-too-large' // an edit's delta exceeds the server's delta limit; the local document is unchanged
  | 'workflow-deleted' // the workflow was deleted on the server; edits are refused
  | 'persistence' // local storage failed (the edit is kept in memory; the replica id is retired)
  | 'replica-conflict' // the server holds writes of this replica id that local storage lost; the client switched to a new id and re-minted its unsent edits (nothing is lost)
  | 'protocol' // the server sent something this client cannot read
  | 'timeout' // the server stopped answering on a live connection; the client reconnects
  | 'server' // an Error frame from the server (see ServerError)
  | 'connection-closed' // the server closed the connection with a terminal code (see CloseError)
  | 'rejected'; // the server refused an edit for good (see RejectError)

export class FlowsyncError extends Error {
  override name = 'FlowsyncError';
  constructor(
    readonly kind: FlowsyncErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * ServerError is an Error frame: a refused Hello or Join (ACCESS_DENIED,
 * AUTHENTICATION_FAILED, …) or a failure not tied to one op.
 */
export class ServerError extends FlowsyncError {
  override name = 'ServerError';
  readonly codeName: string;
  constructor(
    readonly code: number,
    readonly serverMessage: string,
    readonly retryable: boolean,
    readonly workflowId?: string,
  ) {
    super('server', `flowsync: server error ${codeName(code)}${serverMessage ? ': ' + serverMessage : ''}`);
    this.codeName = codeName(code);
  }
}

/**
 * CloseError reports a connection the server closed with a terminal code
 * (4500–4999, 1008, 1009): authentication failed, access revoked, workflow
 * deleted, unsupported protocol, invalid frames. The client stops
 * reconnecting (status 'closed'); the app must act (new token, …) and may
 * then call goOnline().
 */
export class CloseError extends FlowsyncError {
  override name = 'CloseError';
  constructor(
    readonly closeCode: number,
    readonly reason: string,
    /** The Error frame the server sent just before closing, if any. */
    readonly last?: ServerError,
  ) {
    super(
      'connection-closed',
      `flowsync: connection closed with ${closeCode} (${reason || closeCodeReason(closeCode)})${last ? ': ' + last.message : ''}`,
      { cause: last },
    );
  }
}

/**
 * RejectError reports one edit the server refused for good: a Nack whose
 * retry flag is false (PERMISSION_DENIED, FORGED_DOT, CLOCK_SKEW,
 * BLOCK_LOCKED, INVALID_DELTA, TOO_LARGE, …) for a frame holding that edit
 * alone (a folded frame refused for good is resent one edit per frame
 * first). The edit left the outbox; it is kept and counted in
 * status().rejected until reset(), and the other edits are still sent. The
 * local document still holds its writes (PROTOCOL.md §9): call reset() to
 * converge with the server.
 */
export class RejectError extends FlowsyncError {
  override name = 'RejectError';
  readonly codeName: string;
  readonly retryable = false as const;
  constructor(
    /** The edit's op id (as the outbox and the 'nack' event name it). */
    readonly opId: string,
    readonly code: number,
    readonly serverMessage: string,
    /** The refused edit's delta, when the client knows it. */
    readonly delta?: Doc,
  ) {
    super('rejected', `flowsync: edit ${opId} refused: ${codeName(code)}${serverMessage ? ': ' + serverMessage : ''}`);
    this.codeName = codeName(code);
  }
}

