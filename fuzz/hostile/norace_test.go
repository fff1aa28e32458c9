//go:build !race

package hostile

// timeScale stretches every time bound; see race_test.go.
const timeScale = 1
