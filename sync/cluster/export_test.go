package cluster

import (
	"log/slog"

	"github.com/nats-io/nats.go"
)

// NewWithDrop is New with an outbound filter: messages for which drop
// returns true are counted as published and never sent.
func NewWithDrop(cfg Config, nc *nats.Conn, local Local, logger *slog.Logger, m *Metrics, drop func(*nats.Msg) bool) (*Node, error) {
	return newNode(cfg, nc, local, logger, m, drop)
}

// RunAntiEntropyRound runs one round now.
func (n *Node) RunAntiEntropyRound() { n.antiEntropyRound() }

// ParseToken exposes parseToken.
var ParseToken = parseToken
