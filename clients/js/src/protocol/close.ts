// Websocket close codes the server sends (docs/PROTOCOL.md §6), from the
// table in sync/protocol/close.go (through the generated schema.ts). The
// ranges tell a client what to do without knowing every code:
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

import { CloseCode, closeReasons } from './schema';

export { CloseCode };

const reasons: ReadonlyMap<number, string> = new Map(closeReasons);

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
