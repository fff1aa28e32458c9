// Port of crdt/workflow/errors.go (the operation sentinels) and of the
// decoder sentinels of crdt/workflow/encode.go.

import { MsgpackError, type MsgpackErrorCode } from '../msgpackx/check';

/**
 * Why an operation was refused: the Go sentinel's name without Err
 * (ErrUnknownBlock → "UnknownBlock"). A refused operation returns no delta
 * and changes nothing.
 */
export type ErrorCode =
  /** The operation's input is malformed (a missing id, a value of the wrong type, an unknown operation). */
  | 'Invalid'
  /** The block is not in the document (never added, or removed). */
  | 'UnknownBlock'
  /** The edge is not in the document. */
  | 'UnknownEdge'
  /** The variable is not in the document. */
  | 'UnknownVariable'
  /** An add names an id that is already present. */
  | 'Exists'
  /** The block is locked, or sits under a locked container; only lock toggles may touch it. */
  | 'Locked'
  /** The normalized name is empty, reserved (loop, parallel, variable) or used by another block. */
  | 'NameConflict'
  /** The edge breaks a graph rule (self-loop, duplicate, cycle, scope boundary, note block, trigger target, locked target). */
  | 'EdgeRejected'
  /** A parent or subflow target is not a loop or parallel block. */
  | 'NotContainer'
  /** A compare-and-set expected value does not match the current one. */
  | 'Precondition'
  /** Every target of a batch was skipped (unknown or locked), so there is nothing to send. */
  | 'NoEffect';

/** Every operation error code, in the order of errors.go. */
export const ErrorCodes: readonly ErrorCode[] = Object.freeze([
  'Invalid',
  'UnknownBlock',
  'UnknownEdge',
  'UnknownVariable',
  'Exists',
  'Locked',
  'NameConflict',
  'EdgeRejected',
  'NotContainer',
  'Precondition',
  'NoEffect',
]);

/** Go's sentinel messages, so that TypeScript errors read like Go's. */
const messages: Record<ErrorCode, string> = {
  Invalid: 'workflow: invalid operation',
  UnknownBlock: 'workflow: unknown block',
  UnknownEdge: 'workflow: unknown edge',
  UnknownVariable: 'workflow: unknown variable',
  Exists: 'workflow: already exists',
  Locked: 'workflow: block is locked',
  NameConflict: 'workflow: name conflict',
  EdgeRejected: 'workflow: edge rejected',
  NotContainer: 'workflow: not a loop or parallel container',
  Precondition: 'workflow: precondition failed',
  NoEffect: 'workflow: operation has no effect',
};

/**
 * An operation refused with a typed reason. code is what callers branch on
 * (isError(err, "Locked")); the message adds which block, edge or field,
 * as Go's wrapped errors do ("workflow: unknown block: block \"a\"").
 */
export class WorkflowError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail = '',
    options?: { cause?: unknown },
  ) {
    super(detail === '' ? messages[code] : `${messages[code]}: ${detail}`, options);
    this.name = 'WorkflowError';
  }
}

/**
 * Why bytes were refused by decode: "FormatVersion" for an unknown first
 * byte (Go: ErrFormatVersion), "Malformed" for anything else (Go:
 * ErrMalformed). A msgpack-level cause (truncated, too deep, trailing
 * bytes…) is kept as cause, so isError(err, "Truncated") also holds, as
 * errors.Is does through Go's wrapping.
 */
export type DecodeErrorCode = 'FormatVersion' | 'Malformed';

/**
 * Which rule a "Malformed" input broke, where one of Go's finer sentinels
 * applies (Go wraps them inside ErrMalformed): "NotCanonical" for a
 * well-formed input in another form than the one encode writes,
 * "OutOfDomain" for a value not every replica holds exactly (a wall beyond
 * ±(2^53-1), NaN or ±Infinity, a string that is not UTF-8),
 * "TooManyRanges" for a context beyond maxRanges(lim) or the caps'
 * maxRanges, and "TooManyValues", "TooManyReplicas", "TooManyValueNodes" for
 * a delta past the other caps (decode with DeltaCaps), "TooManyNodes" for
 * one of more msgpack nodes in all than the caps allow. isError tests them
 * too.
 */
export type DecodeReason =
  | 'NotCanonical'
  | 'OutOfDomain'
  | 'TooManyRanges'
  | 'TooManyValues'
  | 'TooManyReplicas'
  | 'TooManyValueNodes'
  | 'TooManyNodes';

/** Bytes that are not a valid document, delta or context. */
export class DecodeError extends Error {
  constructor(
    readonly code: DecodeErrorCode,
    readonly detail: string,
    options?: { cause?: unknown; reason?: DecodeReason },
  ) {
    super(`workflow: ${code === 'FormatVersion' ? 'unknown format version' : 'malformed document'}: ${detail}`, options);
    this.name = 'DecodeError';
    this.reason = options?.reason;
  }

  /** The finer rule broken, if any (see DecodeReason). */
  readonly reason: DecodeReason | undefined;
}

/** Any code isError can test for. */
export type AnyErrorCode = ErrorCode | DecodeErrorCode | DecodeReason | MsgpackErrorCode;

/**
 * Reports whether err is, or wraps (through cause), an error with the given
 * code: Go's errors.Is(err, ErrX) is isError(err, "X"). It recognises
 * WorkflowError, DecodeError and MsgpackError.
 */
export function isError(err: unknown, code: AnyErrorCode): boolean {
  for (let e = err, hops = 0; e !== undefined && e !== null && hops < 16; hops++) {
    if ((e instanceof WorkflowError || e instanceof DecodeError || e instanceof MsgpackError) && e.code === code) {
      return true;
    }
    if (e instanceof DecodeError && e.reason === code) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
