// Package session is the server side of one flowsync websocket
// (/v1/sync): the upgrade with its Origin check, authentication by the
// Hello frame under a deadline, one reader and one writer goroutine per
// connection, a bounded outbound queue, and the routing of frames to rooms.
//
// The reader decodes every message with protocol.Decode (bounded, strict),
// answers frames it cannot accept with typed Error or Nack frames, and hands
// the rest to the rooms package. The writer is the only goroutine that
// writes to the connection: frames, websocket pings and the close frame all
// go through it, each write under a deadline. It drains the queue without
// blocking and writes the whole batch before waiting again. A room enqueues
// without ever blocking; when the queue is full (frames or bytes) the room
// closes the session as a slow consumer (4000), and the client resyncs on
// reconnect, so no delta is ever dropped silently. A Join's reply comes
// whole from the room (Joined, then the catch-up); its catch-up chunks wait
// outside the queue's bounds and the writer takes them as the queue drains.
//
// Access: an Authenticator (JWTAuthenticator in production,
// DevAuthenticator in development) turns the Hello into a Principal whose
// Grants give a role per workflow; each room is joined through a
// roomMember carrying the role for that workflow. Handler.SetRole and
// SetGrants change roles on live sessions (revocation evicts from the
// room). Connection caps (global, per address, per user) and per-connection
// frame and byte rate limits are in Config, and counted in
// flowsync_limit_refusals_total when they bite.
//
// What this package must never do: touch a document (rooms own them), write
// to a connection from any goroutine but its writer, let a malformed or
// hostile frame affect anything but its own connection, or log tokens and
// document content.
package session
