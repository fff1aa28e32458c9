package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/flowsync/flowsync/sync/server"
)

// runTool runs inspect, export or import: flags here, the work in
// sync/server (datadir.go). stdin is import's input.
func runTool(ctx context.Context, name string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flowsync "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := server.DefaultDataDir
	if v := getenv("FLOWSYNC_DATA_DIR"); v != "" {
		def = v
	}
	dataDir := fs.String("data-dir", def, "directory of the embedded store's file, "+server.BoltFile+" (FLOWSYNC_DATA_DIR); the server using it must be stopped")
	var id, format, in *string
	var asJSON *bool
	switch name {
	case "inspect":
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	case "export":
		id = fs.String("workflow", "", "the workflow id (required)")
		format = fs.String("format", server.FormatJSON, "json (the view) or binary (the CRDT document, for import)")
	case "import":
		id = fs.String("workflow", "", "the workflow id (required)")
		in = fs.String("in", "-", "file holding a binary export; - reads stdin")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "flowsync %s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	if id != nil && *id == "" {
		fmt.Fprintf(stderr, "flowsync %s: --workflow is required\n", name)
		return 2
	}
	var err error
	switch name {
	case "inspect":
		var inv *server.Inventory
		inv, err = server.Inspect(ctx, *dataDir)
		if inv != nil {
			if *asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				_ = enc.Encode(inv)
			} else {
				_ = inv.WriteTable(stdout)
			}
		}
	case "export":
		err = server.Export(ctx, stdout, *dataDir, *id, *format)
	case "import":
		r := stdin
		if *in != "-" {
			f, ferr := os.Open(*in)
			if ferr != nil {
				fmt.Fprintln(stderr, ferr)
				return 1
			}
			defer f.Close()
			r = f
		}
		err = server.Import(ctx, r, *dataDir, *id)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
