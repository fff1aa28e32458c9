// Package hostile holds FuzzHostileRoom, the fuzz target of a live room under
// attack: a real server (rooms, sessions, an in-memory store) with two honest
// members, an attacker whose frames the fuzzer's bytes choose and mutate,
// and a late joiner. For every input it checks that
//
//   - the room answers each hostile frame within a bound (a probe the room
//     must refuse follows every step, and the time to its refusal is
//     measured in real time), so no input makes the room's work blow up;
//   - every hostile frame is admitted or refused with a typed code, and no
//     session or room panics or hangs;
//   - afterwards the honest members edit, and they and the late joiner end
//     with exactly the server's document, which decodes, re-encodes to the
//     same bytes, renders a view that marshals to JSON, and which a client
//     in another language can load (every wall time a safe integer);
//   - every delta the server hands a client is in the canonical encoding.
//
// The package is test code only: it is never imported, and it reads no
// wall clock outside its tests.
package hostile
