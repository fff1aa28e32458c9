// Package fuzz holds the convergence simulator: several replicas apply random
// operations from the whole workflow vocabulary, exchange their deltas over a
// network that loses, duplicates and reorders messages, repair losses with
// anti-entropy (each asks the other for what its causal context lacks), and
// must end with identical states, identical encodings and identical views.
//
// Every run is determined by its seed: a failing seed printed by a test
// replays exactly with -seed and -steps, and once fixed is added to the
// regression table in regressions_test.go. The package has no I/O and no
// goroutines. Its neighbours run real components: fuzz/hostile attacks a
// live room through real sessions, fuzz/faults crashes and cuts off the
// real binary.
package fuzz
