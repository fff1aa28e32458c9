// Package faults is the fault-injection suite: the real `flowsync serve`
// binary, one or more nodes over bbolt or a shared Postgres, NATS servers
// joined by routes (one region) or gateways (two regions), and Go clients,
// with a TCP proxy the test controls on every link (client↔server,
// server↔store, server↔NATS, NATS route and gateway links) that cuts,
// restores, delays and retargets connections. A wire tap on the client
// links decodes every frame, so the checker knows which edits the server
// acknowledged as durable and which it refused.
//
// After the faults heal, the checker waits for quiescence and compares every
// replica's document — each client's, each node's as a fresh reader joining
// it sees it, and the stored one — reports precisely what differs, checks
// that every edit the server acknowledged as durable is stored, counts
// refusals of honest edits and measures the convergence time after the last
// heal, printing one summary line with the figures.
//
// Two kinds of tests use it: deterministic reproductions of the observed
// failure cases (case*_test.go, run in CI), and a seeded randomized campaign (campaign*.go) that runs
// briefly in CI and for as long as asked through run.sh.
//
// What it must never do: be imported by the server, or make a check pass by
// waiting out a failure silently — every wait has a deadline, and a missed
// deadline fails with what was still different.
package faults
