package server

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/cluster"
)

// ClusterConfig joins the node to other flowsync nodes over NATS (see
// package sync/cluster and docs/DEPLOYMENT.md). Without NATSURL the server
// is a single node, exactly as before.
type ClusterConfig struct {
	// NATSURL is the NATS server URL, or a comma-separated list of them
	// (the client fails over between them).
	NATSURL string
	// NATSCreds is a NATS credentials file (JWT + nkey seed); empty: none.
	NATSCreds string
	// NodeID identifies the node on the bus; unique among all nodes of all
	// regions. Default: a random UUID per process.
	NodeID string
	// Region labels the node's region in logs.
	Region string
	// StoreGroup is the NATS queue group of the nodes that share this
	// node's store (e.g. one Postgres): one of them answers for a stored
	// workflow hosted nowhere. Default: NodeID (always correct).
	StoreGroup string
	// AntiEntropyInterval is the mean time between anti-entropy rounds.
	// Default: 5 s.
	AntiEntropyInterval time.Duration
	// ConnectTimeout bounds the first connection to NATS. Default: 10 s.
	ConnectTimeout time.Duration
	// PresenceHeartbeat is how often the node re-publishes its rooms'
	// rosters; peers drop a node's roster entries 3 heartbeats after they
	// last heard them (a node that died). Default: 5 s.
	PresenceHeartbeat time.Duration
}

func (c ClusterConfig) enabled() bool { return c.NATSURL != "" }

func (c ClusterConfig) validate() error {
	if !c.enabled() && (c.NATSCreds != "" || c.StoreGroup != "") {
		return errors.New("flowsync: --nats-creds and --store-group need --nats-url")
	}
	if c.AntiEntropyInterval < 0 || c.ConnectTimeout < 0 || c.PresenceHeartbeat < 0 {
		return errors.New("flowsync: cluster durations must not be negative")
	}
	return nil
}

// nodeRef is the registry's rooms.Cluster: the node is created after the
// registry (it needs the registry as its Local), so calls made before it is
// set (none in practice: nothing joins before the server serves) are
// dropped, which anti-entropy and the Host request on the next load repair.
type nodeRef struct{ p atomic.Pointer[cluster.Node] }

var errNoNode = errors.New("flowsync: cluster node not started")

func (r *nodeRef) Host(id string) error {
	if n := r.p.Load(); n != nil {
		return n.Host(id)
	}
	return errNoNode
}

func (r *nodeRef) Release(id string) {
	if n := r.p.Load(); n != nil {
		n.Release(id)
	}
}

func (r *nodeRef) Publish(id string, delta []byte) error {
	if n := r.p.Load(); n != nil {
		return n.Publish(id, delta)
	}
	return errNoNode
}

func (r *nodeRef) PublishPresence(id string, entry []byte) error {
	if n := r.p.Load(); n != nil {
		return n.PublishPresence(id, entry)
	}
	return errNoNode
}

func (r *nodeRef) PublishLock(id string, locked bool, atMs int64) error {
	if n := r.p.Load(); n != nil {
		return n.PublishLock(id, locked, atMs)
	}
	return errNoNode
}

func (r *nodeRef) PublishEphemeral(id, key string, frame []byte) error {
	if n := r.p.Load(); n != nil {
		return n.PublishEphemeral(id, key, frame)
	}
	return errNoNode
}

func (r *nodeRef) Delete(id string) error {
	if n := r.p.Load(); n != nil {
		return n.Delete(id)
	}
	return errNoNode
}

// connectNATS dials NATS for the cluster. The connection reconnects for
// ever; after each reconnect every hosted workflow asks its peers for what
// it missed (Node.Sync), without waiting for the next anti-entropy round.
func connectNATS(c ClusterConfig, name string, ref *nodeRef, logger *slog.Logger) (*nats.Conn, error) {
	timeout := c.ConnectTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("NATS disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("NATS reconnected; syncing hosted workflows", "url", nc.ConnectedUrlRedacted())
			n := ref.p.Load()
			if n == nil {
				return
			}
			for _, id := range n.Hosted() {
				_ = n.Sync(id)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Warn("NATS error", "subject", subject, "err", err)
		}),
	}
	if c.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(c.NATSCreds))
	}
	nc, err := nats.Connect(c.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("flowsync: connecting to NATS at %s: %w", c.NATSURL, err)
	}
	return nc, nil
}

// startCluster connects to NATS and starts the node over rr. The caller
// has put ref in rr's rooms.Config.Cluster.
func startCluster(cfg Config, rr *rooms.Registry, ref *nodeRef, logger *slog.Logger, reg prometheus.Registerer) (*nats.Conn, *cluster.Node, error) {
	c := cfg.Cluster
	logger = logger.With("component", "cluster")
	if c.NodeID == "" {
		c.NodeID = uuid.NewString()
	}
	nc, err := connectNATS(c, "flowsync "+c.NodeID, ref, logger)
	if err != nil {
		return nil, nil, err
	}
	node, err := cluster.New(cluster.Config{
		NodeID:              c.NodeID,
		Region:              c.Region,
		StoreGroup:          c.StoreGroup,
		AntiEntropyInterval: c.AntiEntropyInterval,
		PresenceHeartbeat:   c.PresenceHeartbeat,
		MaxClockSkew:        cfg.Rooms.MaxClockSkew,
		Now:                 nodeClock(cfg.Rooms.ClockOffset),
	}, nc, rr.ClusterLocal(), logger, cluster.NewMetrics(reg))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	ref.p.Store(node)
	logger.Info("joined the cluster", "node", node.NodeID(), "region", c.Region, "nats", nc.ConnectedUrlRedacted())
	return nc, node, nil
}

// The registry hears lock changes and live presence from the other nodes.
var (
	_ cluster.LockSink      = (*rooms.ClusterLocal)(nil)
	_ cluster.EphemeralSink = (*rooms.ClusterLocal)(nil)
	_ cluster.PresenceSink  = (*rooms.ClusterLocal)(nil)
)
