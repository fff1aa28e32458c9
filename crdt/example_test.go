package crdt_test

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
)

// Two replicas edit a last-writer-wins map concurrently and exchange deltas;
// both read the write with the later hybrid-logical timestamp.
func ExampleLWWMap() {
	alice, bob := &crdt.LWWMap[string, string]{}, &crdt.LWWMap[string, string]{}
	aliceClock, bobClock := crdt.NewClock("alice"), crdt.NewClock("bob")

	// Concurrent writes to one key; bob's wall clock reads later.
	fromAlice := alice.Set("title", "Draft", aliceClock.Now(1_000))
	fromBob := bob.Set("title", "Final", bobClock.Now(1_005))

	// Deltas may arrive in any order, any number of times.
	alice.Join(fromBob)
	bob.Join(fromAlice)
	bob.Join(fromAlice)

	a, _ := alice.Get("title")
	b, _ := bob.Get("title")
	fmt.Println(a, b)

	// A replica that was offline catches up with only what it lacks.
	carol := &crdt.LWWMap[string, string]{}
	carol.Join(alice.DeltaSince(carol.Context()))
	c, _ := carol.Get("title")
	fmt.Println(c)
	// Output:
	// Final Final
	// Final
}

// An add concurrent with a remove survives it: the remove only removes what
// its replica had observed.
func ExampleORSet() {
	alice, bob := &crdt.ORSet[string]{}, &crdt.ORSet[string]{}
	bob.Join(alice.Add("block-1", "alice"))

	removed := bob.Remove("block-1", "bob")  // bob removes the add he saw
	readded := alice.Add("block-1", "alice") // alice, concurrently, adds it again

	alice.Join(removed)
	bob.Join(readded)
	fmt.Println(alice.Contains("block-1"), bob.Contains("block-1"))
	// Output: true true
}
