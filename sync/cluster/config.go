package cluster

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Config configures a Node. The zero value of every field means its
// documented default.
type Config struct {
	// NodeID identifies this node on the bus (origin of its messages, its
	// inbox). It must be unique among the nodes of every region and stable
	// for the life of the process. Default: a random UUID.
	NodeID string
	// Region labels this node's region in logs. Default: "".
	Region string
	// SubjectPrefix is the first token(s) of every subject. Nodes that must
	// see each other use the same prefix. Default: "flowsync".
	SubjectPrefix string
	// StoreGroup is the NATS queue group in which this node answers for
	// workflows it stores but does not host (requests from a node loading
	// a room; tombstones; digests of workflows deleted here). Nodes that
	// share one store should share a group, so that one of them answers;
	// nodes with stores of their own need groups of their own. Default:
	// NodeID (always correct; one answer per node).
	StoreGroup string
	// AntiEntropyInterval is the mean time between two anti-entropy
	// rounds; each wait is drawn uniformly in ±25% of it. Default: 5s.
	AntiEntropyInterval time.Duration
	// PresenceHeartbeat is how often this node re-publishes its presence
	// entries; remote entries expire after 3 heartbeats without news.
	// Default: 5s.
	PresenceHeartbeat time.Duration
	// MaxClockSkew is how far a received write's HLC wall time may lead
	// this node's clock before the delta holding it is refused. Default:
	// 5 minutes (the rooms' admission bound).
	MaxClockSkew time.Duration
	// MaxMessageBytes bounds the payload of one bus message; larger deltas
	// are split into chunks. It is capped at the server's max payload
	// minus 4 KiB for headers. Default: that cap.
	MaxMessageBytes int
	// Workers is how many goroutines handle inbound messages. Default: 4.
	Workers int
	// InboundQueue is how many inbound messages may wait for a worker;
	// beyond it NATS drops messages for this node (counted as bus errors,
	// repaired by anti-entropy). Default: 65536.
	InboundQueue int
	// Now is the node's clock: skew checks, lag, presence expiry.
	// Default: time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultSubjectPrefix       = "flowsync"
	DefaultAntiEntropyInterval = 5 * time.Second
	DefaultPresenceHeartbeat   = 5 * time.Second
	DefaultMaxClockSkew        = 5 * time.Minute
	DefaultWorkers             = 4
	DefaultInboundQueue        = 65536
	// headerAllowance is what MaxMessageBytes leaves of the server's max
	// payload for headers.
	headerAllowance = 4 << 10
)

// withDefaults returns c with every zero field set to its default, and
// validates it. maxPayload is the server's limit (nats.Conn.MaxPayload).
func (c Config) withDefaults(maxPayload int64) (Config, error) {
	if c.NodeID == "" {
		c.NodeID = uuid.NewString()
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.StoreGroup == "" {
		c.StoreGroup = c.NodeID
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AntiEntropyInterval, DefaultAntiEntropyInterval)
	def(&c.PresenceHeartbeat, DefaultPresenceHeartbeat)
	def(&c.MaxClockSkew, DefaultMaxClockSkew)
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.InboundQueue == 0 {
		c.InboundQueue = DefaultInboundQueue
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	limit := int(maxPayload) - headerAllowance
	if c.MaxMessageBytes == 0 || c.MaxMessageBytes > limit {
		c.MaxMessageBytes = limit
	}
	return c, c.validate()
}

func (c Config) validate() error {
	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	switch {
	case validateID(c.NodeID) != nil:
		return bad("NodeID", "must be 1-256 bytes of UTF-8 without control characters")
	case !validPrefix(c.SubjectPrefix):
		return bad("SubjectPrefix", "must be dot-separated tokens of [A-Za-z0-9_-]")
	case validateID(c.StoreGroup) != nil:
		return bad("StoreGroup", "must be 1-256 bytes of UTF-8 without control characters")
	case c.AntiEntropyInterval < 0:
		return bad("AntiEntropyInterval", "must not be negative")
	case c.PresenceHeartbeat < 0:
		return bad("PresenceHeartbeat", "must not be negative")
	case c.MaxClockSkew < 0:
		return bad("MaxClockSkew", "must not be negative")
	case c.MaxMessageBytes < 4<<10:
		return bad("MaxMessageBytes", "must be at least 4 KiB (and the server's max payload at least 8 KiB)")
	case c.Workers < 0:
		return bad("Workers", "must not be negative")
	case c.InboundQueue < 0:
		return bad("InboundQueue", "must not be negative")
	}
	return nil
}
