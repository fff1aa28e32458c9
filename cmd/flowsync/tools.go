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
// sync/server (tools.go). stdin is import's input.
func runTool(ctx context.Context, name string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flowsync "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := server.DefaultDataDir
	if v := getenv("FLOWSYNC_DATA_DIR"); v != "" {
		def = v
	}
	var src server.Source
	fs.StringVar(&src.DataDir, "data-dir", def, "directory of the embedded store's file, "+server.BoltFile+" (FLOWSYNC_DATA_DIR); the server using it must be stopped")
	fs.StringVar(&src.PostgresURL, "postgres-url", getenv("FLOWSYNC_POSTGRES_URL"), "the Postgres store's connection URL instead of --data-dir (FLOWSYNC_POSTGRES_URL); servers may keep running on it")
	var id, format, in *string
	var asJSON *bool
	switch name {
	case "inspect":
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	case "export":
		id = fs.String("workflow", "", "the workflow id (required)")
		format = fs.String("format", server.FormatJSON, "json (the view), binary (the CRDT document, for import) or reference (the reference system's workflow state JSON)")
	case "import":
		id = fs.String("workflow", "", "the workflow id (required)")
		in = fs.String("in", "-", "file to import; - reads stdin")
		format = fs.String("format", server.FormatBinary, "binary (an export --format binary: joined into the workflow) or reference (a workflow state JSON: replaces the workflow's content, as an edit)")
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
	dataDirSet := false
	fs.Visit(func(f *flag.Flag) { dataDirSet = dataDirSet || f.Name == "data-dir" })
	if dataDirSet && src.PostgresURL != "" {
		fmt.Fprintf(stderr, "flowsync %s: --data-dir and --postgres-url (or FLOWSYNC_POSTGRES_URL) name two stores; give one\n", name)
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
		inv, err = server.Inspect(ctx, src)
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
		err = server.Export(ctx, stdout, src, *id, *format)
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
		err = server.Import(ctx, r, src, *id, *format)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
