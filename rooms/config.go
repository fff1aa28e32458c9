package rooms

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/sync/receipt"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// Config configures a Registry. The zero Config is valid: every zero field
// means its documented default.
type Config struct {
	// MaxCatchUpChunk bounds the encoded delta of one CatchUp frame (a
	// chunk holding a single very large group may exceed it; see
	// workflow.Doc.EncodeChunks). Default: 256 KiB.
	MaxCatchUpChunk int

	// CatchUpEdits makes a joiner that holds part of the document on a
	// single node get workflow.Doc.CatchUp (the edits it missed and their
	// removals) instead of DeltaSince (every removed dot). Off by default:
	// CatchUp trusts that a replica holding an edit's dot has merged its
	// removals, and a client that merged only the first chunks of a
	// chunked catch-up before its connection dropped can hold a removal's
	// dot without its victims' removal; DeltaSince repairs that at the
	// next join, CatchUp does not. It can be on once clients merge a
	// catch-up's chunks all or none (docs/ARCHITECTURE.md §5).
	CatchUpEdits bool
	// IdleTimeout is how long a room with no members and nothing waiting
	// for the store stays loaded. Default: 1 minute.
	IdleTimeout time.Duration
	// MaxClockSkew is how far a delta's HLC wall time may lead the server
	// clock before it is refused with CLOCK_SKEW. Default: 5 minutes.
	MaxClockSkew time.Duration
	// MaxMembers caps the sessions in one room on this node (a re-join
	// takes no new place); a Join over it gets the retryable OVERLOADED.
	// Each join and leave sends every member the roster, so this bounds
	// both that fan-out and the Roster frame (in a cluster, the roster also
	// lists other nodes' members). -1: no cap. Default: 1,000.
	MaxMembers int
	// MaxClockLag is how far a delta's HLC wall time may trail the server
	// clock before it is refused with CLOCK_SKEW (a Nack that is not
	// retryable: the client drops the edit and reports it). Only entries
	// the room has not seen count, so re-sending an edit the room already
	// holds is acknowledged however old it is. Offline editors send edits
	// stamped when they were made, so keep it well above the longest
	// offline spell honest clients have. -1: no bound. Default: 400 days.
	MaxClockLag time.Duration
	// RequireExisting refuses joins (and edits through the admin API) of
	// workflows that were never created nor written with UNKNOWN_WORKFLOW,
	// instead of opening an empty room for any id a token grants. The
	// store must implement storage.Catalog; workflows are created with
	// Registry.CreateWorkflow (the admin API's POST /v1/workflows/{id}).
	// Default: false.
	RequireExisting bool
	// LoadTimeout bounds one Store.Load. Default: 10 s.
	LoadTimeout time.Duration
	// WriteTimeout bounds one Store.Append. Default: 10 s.
	WriteTimeout time.Duration
	// InboxSize is the capacity of a room's inbox; a session submitting to
	// a full inbox waits (backpressure on its reader). Default: 256.
	InboxSize int
	// MinWriteInterval spaces a room's store writes: a write starts when
	// none is in flight and at least this long after the previous one
	// started, so under load more deltas share a transaction (fewer, larger
	// writes) at the cost of up to this much durable-ack latency. An idle
	// room's first delta is written at once. Default: 10 ms.
	MinWriteInterval time.Duration
	// MaxBatchDeltas caps the deltas of one store write. Default: 1000.
	MaxBatchDeltas int
	// MaxPendingBytes caps the encoded deltas one room holds that are
	// merged but not yet written (in flight or waiting). Past it, new
	// deltas are refused with the retryable STORAGE_UNAVAILABLE instead of
	// growing memory while the store is down. Default: 64 MiB.
	MaxPendingBytes int
	// MaxDocumentBytes bounds a document's encoded size: an edit that
	// would take it past the bound is refused with the final TOO_LARGE,
	// the document unchanged (see docsize.go for the estimate). It is at
	// most workflow.DocLimits.MaxBytes (64 MiB), what a stored snapshot may
	// decode to; a document past that could not be loaded again. -1: no
	// bound. Default: 48 MiB.
	MaxDocumentBytes int
	// RetryBackoff and MaxRetryBackoff bound the exponential backoff
	// between failed store writes. Defaults: 100 ms and 10 s.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// SnapshotInterval and SnapshotMaxDelay schedule snapshots of a dirty
	// document (one changed since its last snapshot was captured): a
	// snapshot is taken once the document has had no change for
	// SnapshotInterval, and at the latest SnapshotMaxDelay after it became
	// dirty, so a document under constant editing is snapshotted every
	// SnapshotMaxDelay and two snapshots of one document are always at
	// least SnapshotInterval apart. Rooms also snapshot a dirty document
	// when they are evicted and when the registry closes. Defaults: 1 s
	// and 10 s. SnapshotMaxDelay must not be below SnapshotInterval.
	SnapshotInterval time.Duration
	SnapshotMaxDelay time.Duration
	// SnapshotTimeout bounds one Store.Snapshot. Default: 60 s.
	SnapshotTimeout time.Duration
	// EvictionSnapshotAttempts is how many times the snapshot of an
	// evicted room is tried (with backoff, in the background, after the
	// room is gone) before it is given up; the log still holds every
	// durable delta, so giving up loses nothing but load time. Default: 5.
	EvictionSnapshotAttempts int
	// ServerReplicaID is the replica id that authors thin-client
	// operations on this node. It must be unique per running node: two
	// processes that share it would spend the same dots on different
	// writes. Default: "server-" plus 8 random bytes in hex, new per
	// Registry (each restart adds one replica to the contexts of the
	// documents it writes operations to, which is small).
	ServerReplicaID crdt.ReplicaID
	// ClockOffset moves this node's clock: it is added to every reading
	// the rooms take (HLC wall time for operations, the clock-skew check,
	// roster, event and health times). Timers measure durations and are
	// unaffected. Production leaves it zero; tests use it to run nodes whose
	// clocks disagree in one process. Default: 0.
	ClockOffset time.Duration
	// Admit is an extra admission check run in the room loop after the
	// built-in ones (role, replica binding, clock skew), with the room's
	// current document. The security issue adds roles per workflow and
	// locks here. Default: none.
	Admit Admission
	// StoreRefreshInterval is how often a room that is part of a cluster
	// reads its document back from the store to merge what other nodes
	// made durable without it hearing of it over the bus (refresh.go).
	// Negative disables the periodic reload (the event-driven ones stay).
	// Default: 5 s, the anti-entropy interval's default.
	StoreRefreshInterval time.Duration
	// Receipts makes the receipts on what rooms send clients and checks
	// the ones clients hand back (Vouch frames). Every node of a
	// deployment must hold the same keys. Default: nil, no receipts (a
	// Vouch is refused with BAD_RECEIPT).
	Receipts *receipt.Keyring
	// OnDurable, when set, is called from the room loop each time a
	// batch of this node's edits (its sessions' and Apply's; not those
	// merged from other nodes) is written to the store, with the workflow
	// and the user ids of the batch. It must not block: the webhook
	// dispatcher (sync/webhook) only marks the workflow changed. Default:
	// none.
	OnDurable func(workflowID string, users []string)
	// Cluster, when set, joins this registry to the other nodes serving
	// the same documents (see Cluster and Registry.ClusterLocal). Default:
	// nil, a single node.
	Cluster Cluster
	// RemovalStep bounds the values one turn of a room's loop removes
	// from its document: a delta (of a client, an operation, another node)
	// whose context covers more values the room has seen is merged in steps
	// of at most this many, the room handling other events in between, and
	// acknowledged after the last (stepped.go). Default: 4096.
	RemovalStep int

	// onStep, when set, is called by the room loop after each step of a
	// stepped merge with the values it removed and how long the step took
	// (tests count the steps, benchmarks time them).
	onStep func(removed int, took time.Duration)

	// onTurn, when set, is called by the room loop as a turn starts with
	// what it handles (an event, or stepTurn for a step), and returns what
	// the loop calls when the turn, the relay flush and write and snapshot
	// upkeep after it included, ends (benchmarks time every turn).
	onTurn func(what any) func()
	// inlineCatchUp is the size estimate up to which a room encodes or
	// copies its whole document in its loop (capture.go); 0 means
	// defaultInlineCatchUp, negative never (tests).
	inlineCatchUp int
	// onCapture, when set, is called first by every goroutine that reads
	// the whole document off the loop (tests hold them there).
	onCapture func()
}

// Defaults; see Config.
const (
	DefaultMaxCatchUpChunk  = 256 << 10
	DefaultIdleTimeout      = time.Minute
	DefaultMaxClockSkew     = 5 * time.Minute
	DefaultMaxClockLag      = 400 * 24 * time.Hour
	DefaultMaxMembers       = 1000
	DefaultLoadTimeout      = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultInboxSize        = 256
	DefaultMaxBatchDeltas   = 1000
	DefaultMinWriteInterval = 10 * time.Millisecond
	DefaultMaxPendingBytes  = 64 << 20
	DefaultMaxDocumentBytes = 48 << 20
	DefaultRetryBackoff     = 100 * time.Millisecond
	DefaultMaxRetryBackoff  = 10 * time.Second
	DefaultRemovalStep      = 4096

	DefaultStoreRefreshInterval = 5 * time.Second

	DefaultSnapshotInterval         = time.Second
	DefaultSnapshotMaxDelay         = 10 * time.Second
	DefaultSnapshotTimeout          = time.Minute
	DefaultEvictionSnapshotAttempts = 5
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
	def(&c.MaxMembers, DefaultMaxMembers)
	def(&c.MaxBatchDeltas, DefaultMaxBatchDeltas)
	def(&c.MaxPendingBytes, DefaultMaxPendingBytes)
	def(&c.MaxDocumentBytes, DefaultMaxDocumentBytes)
	def(&c.RemovalStep, DefaultRemovalStep)
	def(&c.EvictionSnapshotAttempts, DefaultEvictionSnapshotAttempts)
	defDur(&c.SnapshotInterval, DefaultSnapshotInterval)
	defDur(&c.SnapshotMaxDelay, max(DefaultSnapshotMaxDelay, c.SnapshotInterval))
	defDur(&c.SnapshotTimeout, DefaultSnapshotTimeout)
	defDur(&c.MinWriteInterval, DefaultMinWriteInterval)
	defDur(&c.IdleTimeout, DefaultIdleTimeout)
	defDur(&c.MaxClockSkew, DefaultMaxClockSkew)
	defDur(&c.MaxClockLag, DefaultMaxClockLag)
	defDur(&c.LoadTimeout, DefaultLoadTimeout)
	defDur(&c.WriteTimeout, DefaultWriteTimeout)
	defDur(&c.RetryBackoff, DefaultRetryBackoff)
	defDur(&c.MaxRetryBackoff, DefaultMaxRetryBackoff)
	defDur(&c.StoreRefreshInterval, DefaultStoreRefreshInterval)
	if c.ServerReplicaID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.ServerReplicaID = crdt.ReplicaID("server-" + hex.EncodeToString(b[:]))
	}
	return c
}

// now is the node's clock, and the only one in this package: every reading
// comes from here and every timer is the time package's, so one clock drives
// both the hybrid logical clock and the snapshot, write, retry and idle
// timers (and testing/synctest's fake time drives all of them together).
func (c *Config) now() time.Time { return time.Now().Add(c.ClockOffset) }

// since is the time elapsed since t, a reading of now. Never time.Since: Add
// moves the monotonic reading too, so it would count the offset as elapsed.
func (c *Config) since(t time.Time) time.Duration { return c.now().Sub(t) }

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
	if c.MaxClockLag < 0 && c.MaxClockLag != -1 {
		errs = append(errs, errors.New("rooms: Config.MaxClockLag must be positive, or -1 for no bound"))
	}
	if c.MaxMembers < -1 {
		errs = append(errs, errors.New("rooms: Config.MaxMembers must be positive, or -1 for no cap"))
	}
	neg("LoadTimeout", c.LoadTimeout < 0)
	neg("WriteTimeout", c.WriteTimeout < 0)
	neg("InboxSize", c.InboxSize < 0)
	neg("MaxBatchDeltas", c.MaxBatchDeltas < 0)
	neg("MaxPendingBytes", c.MaxPendingBytes < 0)
	neg("RemovalStep", c.RemovalStep < 0)
	if c.MaxDocumentBytes < -1 || c.MaxDocumentBytes > workflow.DocLimits.MaxBytes {
		errs = append(errs, fmt.Errorf("rooms: Config.MaxDocumentBytes must be positive and at most %d (what a snapshot may decode to), or -1 for no bound", workflow.DocLimits.MaxBytes))
	}
	neg("RetryBackoff", c.RetryBackoff < 0)
	neg("MaxRetryBackoff", c.MaxRetryBackoff < 0)
	neg("SnapshotInterval", c.SnapshotInterval < 0)
	neg("SnapshotMaxDelay", c.SnapshotMaxDelay < 0)
	neg("SnapshotTimeout", c.SnapshotTimeout < 0)
	neg("MinWriteInterval", c.MinWriteInterval < 0)
	neg("EvictionSnapshotAttempts", c.EvictionSnapshotAttempts < 0)
	if c.MaxCatchUpChunk > 0 && c.MaxCatchUpChunk < 1024 {
		errs = append(errs, errors.New("rooms: Config.MaxCatchUpChunk must be at least 1024 bytes"))
	}
	if c.RetryBackoff > 0 && c.MaxRetryBackoff > 0 && c.MaxRetryBackoff < c.RetryBackoff {
		errs = append(errs, errors.New("rooms: Config.MaxRetryBackoff must not be below RetryBackoff"))
	}
	if c.SnapshotMaxDelay > 0 && c.SnapshotMaxDelay < cmp.Or(c.SnapshotInterval, DefaultSnapshotInterval) {
		errs = append(errs, errors.New("rooms: Config.SnapshotMaxDelay must not be below SnapshotInterval"))
	}
	return errors.Join(errs...)
}
