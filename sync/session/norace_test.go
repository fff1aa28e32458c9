//go:build !race

package session_test

// raceDetector: see race_test.go.
const raceDetector = false
