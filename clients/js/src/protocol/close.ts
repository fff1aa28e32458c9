// Websocket close codes the server sends (docs/PROTOCOL.md §6), a port of
// sync/protocol/close.go. The ranges tell a client what to do without
// knowing every code:
//
//   1000–2999  standard websocket codes; see the table
//   3000–3999  library codes: reconnect
//   4000–4499  reconnect allowed, with backoff and full jitter, then resync
//              by causal context (Join with the local context)
//   4500–4999  terminal: do not reconnect automatically; the user or the app
//              must act (new token, access granted, upgrade the client)
//
// Reconnecting never loses edits: the outbox keeps every delta until it is
// durable, and the Join after a reconnect exchanges contexts.

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  SLOW_CONSUMER: 4000,
  AUTH_TIMEOUT: 4001,
  WRITE_TIMEOUT: 4002,
  PONG_TIMEOUT: 4003,
  TOKEN_EXPIRED: 4004,
  OVERLOADED: 4005,
  RATE_LIMITED: 4006,
  AUTHENTICATION_FAILED: 4500,
  ACCESS_REVOKED: 4501,
  UNSUPPORTED_PROTOCOL: 4502,
  WORKFLOW_DELETED: 4503,
  INVALID_FRAMES: 4504,
} as const;

const reasons: ReadonlyMap<number, string> = new Map([
  [1000, 'normal'],
  [1001, 'going away'],
  [1008, 'policy violation'],
  [1009, 'message too big'],
  [1011, 'internal error'],
  [1012, 'service restart'],
  [4000, 'slow consumer'],
  [4001, 'auth deadline exceeded'],
  [4002, 'write timeout'],
  [4003, 'pong timeout'],
  [4004, 'token expired'],
  [4005, 'overloaded'],
  [4006, 'rate limited'],
  [4500, 'authentication failed'],
  [4501, 'access revoked'],
  [4502, 'unsupported protocol version'],
  [4503, 'workflow deleted'],
  [4504, 'invalid frames'],
]);

/** closeReason returns the reason the server sends with a code, or `close <n>`. */
export function closeReason(code: number): string {
  return reasons.get(code) ?? `close ${code}`;
}

/**
 * shouldReconnect reports whether a client should reconnect (with backoff
 * and jitter) after the connection closed with code. Codes outside the
 * table follow their range; abnormal closures a websocket library reports
 * (1005 no status, 1006 abnormal, 1015 TLS) reconnect. 1000 does not: the
 * server never uses it to drop a client, so it means we closed on purpose;
 * 1008 and 1009 would repeat.
 */
export function shouldReconnect(code: number): boolean {
  if (code === CloseCode.NORMAL || code === CloseCode.POLICY_VIOLATION || code === CloseCode.MESSAGE_TOO_BIG) {
    return false;
  }
  return !(code >= 4500 && code <= 4999);
}

/** closeCodes returns every defined close code in ascending order. */
export function closeCodes(): number[] {
  return [...reasons.keys()];
}
