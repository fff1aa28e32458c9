// The typed errors of the text replica: one code per Go sentinel of
// crdt/text, named without "Err", so that both languages refuse an input
// for the same reason.

/**
 * Why a text operation, merge, admission or decode was refused. The names
 * are the Go sentinels' without "Err" (text.ErrOriginOrder → "OriginOrder").
 */
export type TextErrorCode =
  | 'Range'
  | 'InvalidUTF8'
  | 'Replica'
  | 'Counter'
  | 'BadRun'
  | 'Overlap'
  | 'MissingOrigin'
  | 'OriginCycle'
  | 'NoContent'
  | 'ForeignDot'
  | 'UnknownDelete'
  | 'OriginOrder'
  | 'ChangedItem'
  | 'UnknownAnchor'
  | 'FormatVersion'
  | 'NotCanonical'
  | 'TooManyItems'
  | 'Malformed';

/**
 * A refused text operation. A decode error has malformed set (Go wraps it
 * in text.ErrMalformed) and a code saying which rule the bytes broke, or
 * "Malformed" when no finer one applies. Nothing changes when one is thrown.
 */
export class TextError extends Error {
  constructor(
    readonly code: TextErrorCode,
    detail: string,
    readonly malformed = false,
  ) {
    super(`text: ${detail}`);
    this.name = 'TextError';
  }
}

/** Wraps err as a decode error, keeping a TextError's code. */
export function asMalformed(err: unknown): TextError {
  if (err instanceof TextError) return err.malformed ? err : new TextError(err.code, err.message.replace(/^text: /, ''), true);
  const msg = err instanceof Error ? err.message : String(err);
  const code = err instanceof Error && (err as { code?: string }).code === 'NotCanonical' ? 'NotCanonical' : 'Malformed';
  return new TextError(code, `malformed delta: ${msg}`, true);
}
