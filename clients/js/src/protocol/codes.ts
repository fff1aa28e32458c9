// Error codes carried by Nack and Error frames (docs/PROTOCOL.md §5), from
// the table in sync/protocol/codes.go (through the generated schema.ts).
// Numbers are part of the wire format and never change. The retryable flag
// of a received frame is authoritative; the table's flag is what this build
// knows, used for display and defaults.

import { Code, retryableCodes } from './schema';

/** Error codes by their stable name. */
export { Code };

/** A code name this build knows. */
export type CodeName = keyof typeof Code;

/**
 * Whether a request refused with the code may succeed if sent again later,
 * unchanged. NOT_JOINED is retryable after a Join: the op itself was fine.
 */
const retryable: ReadonlySet<number> = new Set(retryableCodes);

const names = new Map<number, string>(Object.entries(Code).map(([k, v]) => [v, k]));

/** codeName returns the stable name of a code, or `CODE_<n>` for one this build does not know. */
export function codeName(code: number): string {
  return names.get(code) ?? `CODE_${code}`;
}

/**
 * codeRetryable reports this build's retryable flag for a code; unknown
 * codes are not retryable. On the wire, the frame's own `retry` flag decides.
 */
export function codeRetryable(code: number): boolean {
  return retryable.has(code);
}

/** codeKnown reports whether this build defines the code. */
export function codeKnown(code: number): boolean {
  return names.has(code);
}

/** codes returns every defined code in ascending order. */
export function codes(): number[] {
  return [...names.keys()].sort((a, b) => a - b);
}
