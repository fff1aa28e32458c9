//go:build race

package hostile

// timeScale stretches every time bound under the race detector, which makes
// the server several times slower: a bound that catches a blow-up without
// it would otherwise flag linear work on a loaded machine.
const timeScale = 4
