package hostile

// seeds returns one input per generator (and a few that combine them), the
// corpus the fuzzer starts from. Byte 0 configures the attacker (bits 0-1
// both set: read role; bit 2: it merges nothing it is sent); then each step
// is a generator number followed by its parameters (gen_test.go).
func seeds() [][]byte {
	return [][]byte{
		{0, genOp, 0, 0, 0, 1, 0, 3, 7, 1, 0, 2, genOp, 0, 4, 0, 2, 0, 1},  // adds and a move
		{4, genOp, 0, 1, 0, 2, 0, 3, 7, 1, 0, 1, genOp, 0, 3, 0, 2, 0, 0},  // stale: concurrent with the honest members
		{0, genInterleaved, 9, 1, 1},                                       // 2,4,6… then 3,5,7… (10,240 ranges each)
		{0, genInterleaved, 39, 1, 1},                                      // the same, 40,960 ranges each
		{0, genWall, 0, 0, 0, 3, 0, 0},                                     // wall −2^60, logical 2^32−1
		{0, genWall, 0, 3, 0, 2, 0, 1},                                     // wall 2^53
		{0, genNaN, 0, 0, 0, 0, 0, 0, 0},                                   // NaN position of b1
		{0, genNaN, 0, 1, 0, 2, 0, 0, 1},                                   // +Inf height
		{0, genNonCanon, 1, 0, 0},                                          // groups out of order
		{0, genNonCanon, 2, 0, 0},                                          // split groups
		{0, genNonCanon, 4, 0, 0},                                          // an unused replica
		{0, genNonCanon, 8, 0, 0},                                          // context reordered
		{0, genNonCanon, 16, 0, 0},                                         // widened integers
		{0, genForeign, 0, 0, 0, 2, 1, 0, 0},                               // a dot of an honest replica
		{0, genForeign, 0, 1, 0, 5, 0},                                     // an honest replica's whole counter range
		{0, genDrag, 0x4e, 0x1f, 0, 3, 1},                                  // 20,000 positions
		{3, genDrag, 0, 4, 0, 0, 1},                                        // a read-only member drags
		{0, genPresence, 255},                                              // a presence flood
		{0, genJoins, 47},                                                  // 48 workflows
		{0, genOp, 0, 0, 0, 0, 0, 0, 7, 1, 0, genVouch, 0, 0, 0, 0},        // replay a relayed delta
		{0, genOp, 0, 0, 0, 0, 0, 0, 7, 1, 0, genVouch, 0, 1, 1, 0, 3, 2},  // its receipt on other bytes
		{0, genVouch, 0, 2, 0xde, 0xad, 0xbe, 0xef},                        // a forged MAC
		{0, genVouch, 0, 3, 'k', '9'},                                      // an unknown key id
		{0, genRandom, 0, 8, 0x92, 0x04, 0x83, 0xa2, 'w', 'f', 0xa0, 0xc0}, // random bytes
		{0, genOp, 0, 0, 0, 0, 0, 0, 7, 1, 0, genMutate, 3, 0, 9, 0, 0x55, 0, 20, 1, 0xff, 0, 30, 2, 7},
		{0, genRejoin, 0x9c, 0x3f, 0, 0, 0}, // rejoin with 40,000 interleaved ranges
		{0, genRejoin, 0, 10, 0, 1, 1},      // rejoin with a widened context
		{4, genOp, 0, 4, 0, 2, 0, 0},        // stale: par1 into loop1, concurrent with loop1 into par1
		{4, genOp, 0, 5, 0, 0, 0, 1, 0, 0},  // stale: add x1 as a loop, concurrent with x1 as an agent
		{0, genParent, 0, 0, 0, 0},          // b1 is its own parent
		{0, genParent, 0, 3, 0, 1},          // loop1's parent never existed
		{0, genParent, 0, 4, 0, 3},          // par1 into b1, which is no container
		{0, genInterleaved, 20, 0, 1, genNaN, 0, 0, 0, 0, 0, 0, 0, genNonCanon, 31, 0, 0, genWall, 0, 4, 0, 0, 0, 0},
	}
}
