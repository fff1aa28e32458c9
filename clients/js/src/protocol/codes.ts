// Error codes carried by Nack and Error frames (docs/PROTOCOL.md §5), a port
// of sync/protocol/codes.go. Numbers are part of the wire format and never
// change. The retryable flag of a received frame is authoritative; the
// table's flag is what this build knows, used for display and defaults.

/** Error codes by their stable name. */
export const Code = {
  INVALID_FRAME: 1,
  UNSUPPORTED_PROTOCOL_VERSION: 2,
  TOO_LARGE: 3,
  RATE_LIMITED: 4,
  AUTHENTICATION_REQUIRED: 10,
  AUTHENTICATION_FAILED: 11,
  TOKEN_EXPIRED: 12,
  ACCESS_DENIED: 13,
  PERMISSION_DENIED: 14,
  FORGED_DOT: 15,
  NOT_JOINED: 20,
  UNKNOWN_WORKFLOW: 21,
  WORKFLOW_DELETED: 22,
  WORKFLOW_LOCKED: 23,
  INVALID_OPERATION: 30,
  INVALID_DELTA: 31,
  PRECONDITION_FAILED: 32,
  CLOCK_SKEW: 33,
  BLOCK_LOCKED: 34,
  CONFLICT: 35,
  UNKNOWN_ENTITY: 36,
  NO_EFFECT: 37,
  OVERLOADED: 40,
  STORAGE_UNAVAILABLE: 41,
  INTERNAL: 42,
} as const;

/** A code name this build knows. */
export type CodeName = keyof typeof Code;

/**
 * Whether a request refused with the code may succeed if sent again later,
 * unchanged. NOT_JOINED is retryable after a Join: the op itself was fine.
 */
const retryable: ReadonlySet<number> = new Set([
  Code.RATE_LIMITED,
  Code.NOT_JOINED,
  Code.OVERLOADED,
  Code.STORAGE_UNAVAILABLE,
  Code.INTERNAL,
]);

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
