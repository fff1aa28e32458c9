package protocol

import (
	"slices"
	"strconv"
)

// CloseCode is a websocket close status the server sends. The ranges tell a
// client what to do without knowing every code, as in centrifuge:
//
//	1000–2999  standard websocket codes (RFC 6455 §7.4.1); see each constant
//	3000–3999  reserved for libraries and frameworks; treated as reconnect
//	4000–4499  reconnect allowed, with backoff and full jitter, then resync
//	           by causal context (Join with the local context)
//	4500–4999  terminal: do not reconnect automatically; the user or the app
//	           must act (new token, access granted, upgrade the client)
//
// Reconnecting never loses edits: the client's outbox keeps every delta
// until it is durable and the Join after reconnect exchanges contexts.
type CloseCode int

const (
	// CloseNormal: the peer is done (a client closing its tab). The server
	// does not use it to drop a client.
	CloseNormal CloseCode = 1000
	// CloseGoingAway: the server node is leaving (drain); reconnect.
	CloseGoingAway CloseCode = 1001
	// ClosePolicyViolation: a generic refusal where no specific code fits
	// (e.g. Origin not allowed). Do not reconnect.
	ClosePolicyViolation CloseCode = 1008
	// CloseMessageTooBig: a message exceeded the read limit (Welcome's
	// MaxFrameBytes). Reconnecting would resend the same message: do not.
	CloseMessageTooBig CloseCode = 1009
	// CloseInternalError: the server failed on this connection (a recovered
	// panic); reconnect with backoff.
	CloseInternalError CloseCode = 1011
	// CloseServiceRestart: graceful shutdown or deploy; reconnect with jitter.
	CloseServiceRestart CloseCode = 1012

	// CloseSlowConsumer: the session's outbound queue overflowed. Deltas are
	// never dropped silently, so the session is cut instead; the client
	// reconnects and resyncs by causal context.
	CloseSlowConsumer CloseCode = 4000
	// CloseAuthTimeout: no Hello arrived within the auth deadline (5 s).
	CloseAuthTimeout CloseCode = 4001
	// CloseWriteTimeout: a write did not complete within the write deadline
	// (10 s): the client stopped reading.
	CloseWriteTimeout CloseCode = 4002
	// ClosePongTimeout: no pong (or any frame) within the pong wait (60 s).
	// Usually a dead network path; the client sees the socket drop, not this.
	ClosePongTimeout CloseCode = 4003
	// CloseTokenExpired: the token expired during the session; reconnect
	// with a fresh token.
	CloseTokenExpired CloseCode = 4004
	// CloseOverloaded: the server refuses new sessions or sheds existing ones
	// (admission control in a reconnect storm); reconnect with backoff.
	CloseOverloaded CloseCode = 4005
	// CloseRateLimited: the client kept sending after RATE_LIMITED nacks.
	CloseRateLimited CloseCode = 4006

	// CloseAuthenticationFailed: the Hello token was refused.
	CloseAuthenticationFailed CloseCode = 4500
	// CloseAccessRevoked: the user lost access to the workflow this session
	// was using (an Event of kind access-revoked precedes it).
	CloseAccessRevoked CloseCode = 4501
	// CloseUnsupportedProtocol: Hello named a protocol version this server
	// does not speak; upgrade the client.
	CloseUnsupportedProtocol CloseCode = 4502
	// CloseWorkflowDeleted: the workflow this session was using was deleted
	// (an Event of kind workflow-deleted precedes it).
	CloseWorkflowDeleted CloseCode = 4503
	// CloseInvalidFrames: the client sent frames that do not decode, or in
	// the wrong direction or order. A client bug: reconnecting would repeat it.
	CloseInvalidFrames CloseCode = 4504
)

type closeInfo struct {
	name   string // stable name, e.g. "SLOW_CONSUMER" (the TypeScript constant)
	reason string // sent in the close frame
	doc    string // for docs/PROTOCOL.md §6, generated from this table
}

// closeCodes is the one table of close codes: names, reasons and meanings.
var closeCodes = map[CloseCode]closeInfo{
	CloseNormal:               {"NORMAL", "normal", "the peer is done (the server does not use it to drop a client)"},
	CloseGoingAway:            {"GOING_AWAY", "going away", "node draining"},
	ClosePolicyViolation:      {"POLICY_VIOLATION", "policy violation", "generic refusal (e.g. Origin not allowed)"},
	CloseMessageTooBig:        {"MESSAGE_TOO_BIG", "message too big", "a message exceeded `lim.frame`; reconnecting would resend it"},
	CloseInternalError:        {"INTERNAL_ERROR", "internal error", "server failure on this connection"},
	CloseServiceRestart:       {"SERVICE_RESTART", "service restart", "graceful shutdown/deploy: reconnect with jitter"},
	CloseSlowConsumer:         {"SLOW_CONSUMER", "slow consumer", "outbound queue overflowed; nothing is dropped silently, so the session is cut: reconnect and resync"},
	CloseAuthTimeout:          {"AUTH_TIMEOUT", "auth deadline exceeded", "no Hello within 5 s"},
	CloseWriteTimeout:         {"WRITE_TIMEOUT", "write timeout", "a write took more than 10 s (client not reading)"},
	ClosePongTimeout:          {"PONG_TIMEOUT", "pong timeout", "nothing received for 60 s"},
	CloseTokenExpired:         {"TOKEN_EXPIRED", "token expired", "get a fresh token, then reconnect"},
	CloseOverloaded:           {"OVERLOADED", "overloaded", "admission control; back off"},
	CloseRateLimited:          {"RATE_LIMITED", "rate limited", "kept sending after `RATE_LIMITED`; back off"},
	CloseAuthenticationFailed: {"AUTHENTICATION_FAILED", "authentication failed", "token refused"},
	CloseAccessRevoked:        {"ACCESS_REVOKED", "access revoked", "access to the workflow was revoked"},
	CloseUnsupportedProtocol:  {"UNSUPPORTED_PROTOCOL", "unsupported protocol version", "upgrade the client"},
	CloseWorkflowDeleted:      {"WORKFLOW_DELETED", "workflow deleted", "the session's workflow was deleted"},
	CloseInvalidFrames:        {"INVALID_FRAMES", "invalid frames", "frames that do not decode, text messages, wrong direction or order: a client bug"},
}

// CloseCodes returns every defined close code in ascending order.
func CloseCodes() []CloseCode {
	out := make([]CloseCode, 0, len(closeCodes))
	for c := range closeCodes {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// String returns the close reason the server sends with the code (short:
// a close frame's reason is at most 123 bytes).
func (c CloseCode) String() string {
	if i, ok := closeCodes[c]; ok {
		return i.reason
	}
	return "close " + strconv.Itoa(int(c))
}

// ShouldReconnect reports whether a client should reconnect (with backoff
// and jitter) after the connection closed with c. Codes outside the table
// follow their range; abnormal closures that a client library reports
// (1005 no status, 1006 abnormal, 1015 TLS) reconnect.
func (c CloseCode) ShouldReconnect() bool {
	switch {
	case c == CloseNormal, c == ClosePolicyViolation, c == CloseMessageTooBig:
		return false
	case c >= 4500 && c <= 4999:
		return false
	}
	return true
}
