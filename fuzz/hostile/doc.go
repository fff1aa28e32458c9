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
// Time is real, not a synctest bubble's, since the bound is on real work:
// 250 ms per step (timeScale times that under the race detector), against
// the room's 10 ms target, so linear work on a loaded machine passes and a
// quadratic blow-up does not. An input that only stalled by less than a
// second is run up to three times, a second apart, and counts only if it
// stalls every time.
//
// A finding stops a campaign; with FLOWSYNC_HOSTILE_SURVEY=dir set the
// target instead writes one input per kind of finding under dir and goes
// on, so that one campaign lists them all. Inputs that once failed live in
// testdata/fuzz/FuzzHostileRoom and run with every `go test`.
//
// The package is test code only: nothing imports it.
package hostile
