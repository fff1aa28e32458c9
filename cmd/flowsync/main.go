// Command flowsync runs the flowsync sync server.
//
//	flowsync serve [flags]   serve /v1/sync, /healthz, /readyz, /metrics
//	flowsync version         print the version, commit and its date, and Go version (also --version)
//	flowsync inspect|export|import --data-dir D …   a stopped server's embedded store
//
// Every flag has an environment variable (FLOWSYNC_ plus the flag name in
// upper case with - as _); a flag given on the command line wins.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
