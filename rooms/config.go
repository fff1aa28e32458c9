package rooms

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/flowsync/flowsync/crdt"
)

// Config configures a Registry. The zero Config is valid: every zero field
// means its documented default.
type Config struct {
	// MaxCatchUpChunk bounds the encoded delta of one CatchUp frame (a
	// chunk holding a single very large group may exceed it; see
	// splitCatchUp). Default: 256 KiB.
	MaxCatchUpChunk int
	// IdleTimeout is how long a room with no members and nothing waiting
	// for the store stays loaded. Default: 1 minute.
	IdleTimeout time.Duration
	// MaxClockSkew is how far a delta's HLC wall time may lead the server
	// clock before it is refused with CLOCK_SKEW. Default: 5 minutes.
	MaxClockSkew time.Duration
	// LoadTimeout bounds one Store.Load. Default: 10 s.
	LoadTimeout time.Duration
	// WriteTimeout bounds one Store.Append. Default: 10 s.
	WriteTimeout time.Duration
	// InboxSize is the capacity of a room's inbox; a session submitting to
	// a full inbox waits (backpressure on its reader). Default: 256.
	InboxSize int
	// MaxBatchDeltas caps the deltas of one store write. Default: 1000.
	MaxBatchDeltas int
	// MaxPendingBytes caps the encoded deltas one room holds that are
	// merged but not yet written (in flight or waiting). Past it, new
	// deltas are refused with the retryable STORAGE_UNAVAILABLE instead of
	// growing memory while the store is down. Default: 64 MiB.
	MaxPendingBytes int
	// RetryBackoff and MaxRetryBackoff bound the exponential backoff
	// between failed store writes. Defaults: 100 ms and 10 s.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// ServerReplicaID is the replica id that authors thin-client
	// operations on this node. It must be unique per running node: two
	// processes that share it would spend the same dots on different
	// writes. Default: "server-" plus 8 random bytes in hex, new per
	// Registry (each restart adds one replica to the contexts of the
	// documents it writes operations to, which is small).
	ServerReplicaID crdt.ReplicaID
	// Now is the server clock: skew checks, HLC readings for operations,
	// roster times. Default: time.Now.
	Now func() time.Time
	// Admit is an extra admission check run in the room loop after the
	// built-in ones (role, replica binding, clock skew), with the room's
	// current document. The security issue adds roles per workflow and
	// locks here. Default: none.
	Admit Admission
}

// Defaults; see Config.
const (
	DefaultMaxCatchUpChunk = 256 << 10
	DefaultIdleTimeout     = time.Minute
	DefaultMaxClockSkew    = 5 * time.Minute
	DefaultLoadTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultInboxSize       = 256
	DefaultMaxBatchDeltas  = 1000
	DefaultMaxPendingBytes = 64 << 20
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultMaxRetryBackoff = 10 * time.Second
)

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxCatchUpChunk, DefaultMaxCatchUpChunk)
	def(&c.InboxSize, DefaultInboxSize)
	def(&c.MaxBatchDeltas, DefaultMaxBatchDeltas)
	def(&c.MaxPendingBytes, DefaultMaxPendingBytes)
	defDur(&c.IdleTimeout, DefaultIdleTimeout)
	defDur(&c.MaxClockSkew, DefaultMaxClockSkew)
	defDur(&c.LoadTimeout, DefaultLoadTimeout)
	defDur(&c.WriteTimeout, DefaultWriteTimeout)
	defDur(&c.RetryBackoff, DefaultRetryBackoff)
	defDur(&c.MaxRetryBackoff, DefaultMaxRetryBackoff)
	if c.ServerReplicaID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.ServerReplicaID = crdt.ReplicaID("server-" + hex.EncodeToString(b[:]))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate reports the first field that is set to an unusable value,
// naming it.
func (c Config) validate() error {
	var errs []error
	neg := func(name string, bad bool) {
		if bad {
			errs = append(errs, fmt.Errorf("rooms: Config.%s must not be negative", name))
		}
	}
	neg("MaxCatchUpChunk", c.MaxCatchUpChunk < 0)
	neg("IdleTimeout", c.IdleTimeout < 0)
	neg("MaxClockSkew", c.MaxClockSkew < 0)
	neg("LoadTimeout", c.LoadTimeout < 0)
	neg("WriteTimeout", c.WriteTimeout < 0)
	neg("InboxSize", c.InboxSize < 0)
	neg("MaxBatchDeltas", c.MaxBatchDeltas < 0)
	neg("MaxPendingBytes", c.MaxPendingBytes < 0)
	neg("RetryBackoff", c.RetryBackoff < 0)
	neg("MaxRetryBackoff", c.MaxRetryBackoff < 0)
	if c.MaxCatchUpChunk > 0 && c.MaxCatchUpChunk < 1024 {
		errs = append(errs, errors.New("rooms: Config.MaxCatchUpChunk must be at least 1024 bytes"))
	}
	if c.RetryBackoff > 0 && c.MaxRetryBackoff > 0 && c.MaxRetryBackoff < c.RetryBackoff {
		errs = append(errs, errors.New("rooms: Config.MaxRetryBackoff must not be below RetryBackoff"))
	}
	return errors.Join(errs...)
}
