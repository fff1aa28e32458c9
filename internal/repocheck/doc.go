// Package repocheck holds tests of the repository itself rather than of
// code: that its documents link only to files inside it, and that what the
// quick start creates is ignored by git.
package repocheck
