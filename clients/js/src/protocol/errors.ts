// Typed errors of the frame codec.

/**
 * The kinds of decode failure, one per sentinel of the Go decoder
 * (sync/protocol ErrTooLarge, ErrMalformed, …). Every FrameDecodeError is an
 * INVALID_FRAME (or TOO_LARGE) in protocol terms; `kind` says which rule
 * broke so that tests and logs can tell them apart without parsing messages.
 */
export type FrameDecodeErrorKind =
  | 'TooLarge'
  | 'Malformed'
  | 'UnknownFrameType'
  | 'DuplicateKey'
  | 'MissingKey'
  | 'WrongType'
  | 'InvalidValue';

const kindText: Record<FrameDecodeErrorKind, string> = {
  TooLarge: 'frame too large',
  Malformed: 'malformed msgpack',
  UnknownFrameType: 'unknown frame type',
  DuplicateKey: 'duplicate key',
  MissingKey: 'missing required key',
  WrongType: 'wrong type',
  InvalidValue: 'invalid value',
};

/**
 * FrameDecodeError is thrown by decodeFrame for bytes that are not a valid
 * frame, and by encodeFrame (kind InvalidValue) for a frame that breaks a
 * rule the peer's decoder would refuse. The message names the key and the
 * rule, never the offending value: it may be hostile or private and ends up
 * in logs.
 */
export class FrameDecodeError extends Error {
  override readonly name = 'FrameDecodeError';
  /** The frame type the error was found in, when the envelope was readable. */
  frameType?: number;

  constructor(
    readonly kind: FrameDecodeErrorKind,
    readonly detail: string,
  ) {
    super(`protocol: ${kindText[kind]}${detail ? ': ' + detail : ''}`);
  }
}
