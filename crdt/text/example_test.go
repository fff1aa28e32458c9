package text_test

import (
	"encoding/hex"
	"fmt"

	"github.com/flowsync/flowsync/crdt/text"
)

// Two replicas type concurrently at the end of a shared word; both keep
// their words whole, and the encoded state is the one docs/PROTOCOL.md
// annotates.
func Example() {
	alice, bob := text.New(), text.New()
	d, _ := alice.Insert("alice", 0, "hi")
	bob.Merge(d)
	da, _ := alice.Insert("alice", 2, " you")
	db, _ := bob.Insert("bob", 2, "!!")
	alice.Merge(db)
	bob.Merge(da)
	del, _ := alice.Delete(1, 1) // the "i"
	bob.Merge(del)
	fmt.Println(alice.String(), bob.String())
	fmt.Println(hex.EncodeToString(text.Encode(&db)))
	state := bob.DeltaSince(nil)
	fmt.Println(hex.EncodeToString(text.Encode(&state)))
	// Output:
	// h you!! h you!!
	// 019492a5616c696365a3626f62c4054f01000002a2212190
	// 019492a5616c696365a3626f62c40d0300000400c501004f01000002a76820796f75212190
}
