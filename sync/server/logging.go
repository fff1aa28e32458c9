package server

import (
	"io"
	"log/slog"
)

// NewLogger returns the JSON logger `flowsync serve` writes to w: one
// object per line, at level and above, with every duration as Go's
// duration string ("5s", "1.5ms") instead of slog's integer nanoseconds,
// which nobody reads at a glance and which log tools take for plain
// numbers.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: durationStrings}))
}

// durationStrings is a ReplaceAttr rendering durations as strings. slog
// calls it for the attributes inside groups too.
func durationStrings(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
