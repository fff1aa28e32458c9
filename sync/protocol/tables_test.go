package protocol

import (
	"fmt"
	"testing"
)

// TestPrintTables prints the code tables in the Markdown that
// docs/PROTOCOL.md uses (go test -run TestPrintTables -v), so the doc is
// pasted from the source of truth rather than typed.
func TestPrintTables(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("run with -v to print the tables")
	}
	fmt.Println("| code | name | retryable |")
	fmt.Println("|---|---|---|")
	for _, c := range Codes() {
		fmt.Printf("| %d | `%s` | %v |\n", c, c, c.Retryable())
	}
	fmt.Println()
	fmt.Println("| code | reason | reconnect |")
	fmt.Println("|---|---|---|")
	for _, c := range CloseCodes() {
		fmt.Printf("| %d | %s | %v |\n", c, c, c.ShouldReconnect())
	}
}
