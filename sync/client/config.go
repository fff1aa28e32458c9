package client

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/gorilla/websocket"
)

// Defaults for the zero fields of Config.
const (
	DefaultClientName   = "flowsync-go"
	DefaultDialTimeout  = 10 * time.Second
	DefaultBackoffBase  = time.Second // PROTOCOL.md §6: base 1 s, cap 30 s, full jitter
	DefaultBackoffCap   = 30 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	// DefaultReadTimeout is how long the client waits for any frame or ping
	// from the server before it gives the connection up. The server pings
	// every 54 s.
	DefaultReadTimeout = 75 * time.Second
	// DefaultMaxFrameBytes is the client's read limit. A relayed delta may be
	// as large as the server's delta limit (1 MiB) plus its envelope.
	DefaultMaxFrameBytes = 2 << 20
	// DefaultMaxDeltaBytes bounds one Delta frame's delta when Welcome does
	// not announce a limit (the server's default, workflow.DeltaLimits).
	DefaultMaxDeltaBytes = 1 << 20
	// DefaultPresenceInterval throttles Presence and Drag frames
	// (PROTOCOL.md §4.13: about 30 frames per second).
	DefaultPresenceInterval = 33 * time.Millisecond
	// DefaultDirLockTimeout is how long New waits for another Client to
	// release Config.Dir: long enough for a restarted process to outlast
	// the exit of the one it replaces, short enough to report a second
	// live process promptly.
	DefaultDirLockTimeout = time.Second
)

// Config configures a Client. The zero value of every field but URL,
// ReplicaID and WorkflowID means the default named in its comment;
// ReplicaID may be empty when Dir is set.
type Config struct {
	// URL is the server's websocket endpoint, e.g. "ws://localhost:8080/v1/sync"
	// (wss:// in production). Required.
	URL string
	// Header is sent with the websocket upgrade request (optional).
	Header http.Header
	// Token is the bearer token sent in Hello. May be empty only if the
	// upgrade request already authenticates (Header).
	Token string
	// ReplicaID is this client's CRDT replica id: one per device or
	// installation, never shared by two live clients, never reused with a
	// different history (see the package doc). Required unless Dir is set:
	// a directory that holds state resumes its own id (which may differ
	// after a replica reset), and a fresh one takes ReplicaID, or a new
	// UUID when it is empty.
	ReplicaID string
	// ClientName and ClientVersion are announced in Hello.
	// Default: "flowsync-go" and "".
	ClientName    string
	ClientVersion string
	// WorkflowID is the workflow this client edits. Required.
	WorkflowID string
	// TabSessionID identifies this editor "tab" across reconnects, so that a
	// rejoin replaces its own roster entry instead of leaving a ghost.
	// Default: a random id chosen by New, kept for the Client's lifetime.
	TabSessionID string
	// Doc is the initial local document, e.g. one a program saved (Client.Doc)
	// before it exited; the Client takes ownership of it. Default: an empty
	// document. Only the document is known, not which of its edits the
	// server has: after the join the client sends the writes of ReplicaID
	// that the server's context lacks (workflow.Doc.WritesSince), so edits
	// made offline in an earlier run are not lost, with ReplicaID the id
	// that run wrote with. Edits refused in that run are offered again.
	// Prefer Dir, which keeps the outbox, the refusals and the replica id
	// too. With Dir, Doc may only seed a directory that holds nothing yet.
	Doc *workflow.Doc
	// Dir, when set, is a directory where the client keeps its state in a
	// bbolt file (DiskFileName): document, replica id, the outbox (edits not
	// yet durable, with their op ids), the edits the server refused, the
	// deltas of other sessions kept with their receipts until durable (see
	// Client.Receipts), and whether the workflow was deleted. Apply returns only once its edit is
	// stored there (an fsynced write), and nothing is sent before. A Client
	// opened later on the same directory resumes: same replica id, same
	// document, and it re-sends every edit never acknowledged as durable.
	// One Client at a time: New fails with ErrDirLocked while another Client
	// (in any process) holds the directory. Default: nothing is kept.
	Dir string
	// DirLockTimeout is how long New waits for another Client to release
	// Dir. Default: 1 s.
	DirLockTimeout time.Duration

	// DialTimeout bounds the websocket dial plus the Hello/Welcome and
	// Join/Joined exchanges. Default: 10 s.
	DialTimeout time.Duration
	// WriteTimeout is the deadline of every socket write. Default: 10 s.
	WriteTimeout time.Duration
	// ReadTimeout is how long the connection may stay silent (no frame, no
	// ping) before the client drops it and reconnects. Default: 75 s.
	ReadTimeout time.Duration
	// Backoff is the delay before reconnecting, and before resending an
	// operation refused with a retryable Nack. Default: base 1 s, cap 30 s.
	Backoff Backoff
	// MaxFrameBytes is the read limit for frames from the server.
	// Default: 2 MiB.
	MaxFrameBytes int
	// PresenceInterval is the minimum time between two Presence frames, and
	// between two Drag frames (the latest state wins). Default: 33 ms.
	PresenceInterval time.Duration
	// DisableCoalescing sends every local delta in a frame of its own. By
	// default, deltas waiting to be sent (offline, or held back by the
	// server's announced rate limit) are folded together by Merge into
	// frames of at most the server's delta limit.
	DisableCoalescing bool

	// Now is the wall clock that feeds the hybrid logical clock (the
	// timestamps of local writes). Timers (backoff, retries, pacing,
	// deadlines) use the runtime clock. Default: time.Now.
	Now func() time.Time
	// Logger receives connection lifecycle and protocol diagnostics.
	// Default: a logger that discards everything.
	Logger *slog.Logger
	// Dialer dials the websocket. Default: a dialer with DialTimeout and
	// permessage-deflate off.
	Dialer Dialer

	// Callbacks; each may be nil. See the package doc for the goroutines
	// they run on. Arguments must not be modified or retained past the call
	// unless stated.

	// Undo bounds and groups Undo and Redo (edits less than Window ms apart
	// are one step). Default: workflow.UndoConfig's defaults.
	Undo workflow.UndoConfig

	// OnChange is called after a delta was merged into the local document:
	// remote is false for Apply (on the caller's goroutine), true for
	// catch-up chunks and RemoteDelta frames. delta is shared with the
	// client: read it, merge it elsewhere, do not modify it.
	OnChange func(delta *workflow.Doc, remote bool)
	// OnRoster is called with the full roster of the room after Joined and
	// after every Roster frame. The slice is the callback's to keep.
	OnRoster func(entries []protocol.RosterEntry)
	// OnPresence is called for each PresenceUpdate of another session.
	OnPresence func(u protocol.PresenceUpdate)
	// OnDrag is called for each DragUpdate of another session.
	OnDrag func(u protocol.DragUpdate)
	// OnEvent is called for each lifecycle event (workflow deleted, updated,
	// reverted, deployed; access revoked). Kinds this build does not know
	// are passed on too; ignore them. After workflow-deleted the client has
	// already dropped its outbox.
	OnEvent func(e protocol.Event)
	// OnStatus is called whenever Status changes. Calls are serialized and
	// the last call always carries the current status.
	OnStatus func(s Status)
	// OnReject is called when the server refuses a delta for good (a Nack
	// whose retry flag is false). The entry has already left the outbox;
	// see RejectError for what the caller must do.
	OnReject func(err *RejectError)
	// OnRename is called once per rename when a merge of the server's
	// deltas leaves a block this replica added or named showing under
	// another name: another replica gave a block the same name
	// concurrently, and the view's rule for concurrent names suffixed ours
	// ("Agent 4" shows as "Agent 4 2"). Renaming the block settles it.
	// Renames standing when the client starts are not reported.
	OnRename func(r workflow.Renamed)
}

// Dialer opens the websocket; *websocket.Dialer implements it (see
// github.com/gorilla/websocket), and tests may wrap one.
type Dialer interface {
	DialContext(ctx context.Context, url string, header http.Header) (*websocket.Conn, *http.Response, error)
}

func (c Config) validate() error {
	if c.URL == "" {
		return fmt.Errorf("%w: URL is required", ErrConfig)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("%w: URL: %w", ErrConfig, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("%w: URL scheme %q is not ws or wss", ErrConfig, u.Scheme)
	}
	for _, f := range []struct {
		name, v  string
		optional bool
	}{
		{"ReplicaID", c.ReplicaID, c.Dir != ""}, {"WorkflowID", c.WorkflowID, false},
	} {
		if f.v == "" && !f.optional {
			return fmt.Errorf("%w: %s is required", ErrConfig, f.name)
		}
		if len(f.v) > protocol.MaxIDBytes {
			return fmt.Errorf("%w: %s is longer than %d bytes", ErrConfig, f.name, protocol.MaxIDBytes)
		}
	}
	if len(c.TabSessionID) > protocol.MaxIDBytes {
		return fmt.Errorf("%w: TabSessionID is longer than %d bytes", ErrConfig, protocol.MaxIDBytes)
	}
	if len(c.Token) > protocol.MaxTokenBytes {
		return fmt.Errorf("%w: Token is longer than %d bytes", ErrConfig, protocol.MaxTokenBytes)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DialTimeout", c.DialTimeout}, {"WriteTimeout", c.WriteTimeout}, {"ReadTimeout", c.ReadTimeout},
		{"Backoff.Base", c.Backoff.Base}, {"Backoff.Cap", c.Backoff.Cap}, {"PresenceInterval", c.PresenceInterval},
		{"DirLockTimeout", c.DirLockTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s is negative", ErrConfig, d.name)
		}
	}
	if c.Backoff.Base > 0 && c.Backoff.Cap > 0 && c.Backoff.Cap < c.Backoff.Base {
		return fmt.Errorf("%w: Backoff.Cap is below Backoff.Base", ErrConfig)
	}
	if c.MaxFrameBytes < 0 {
		return fmt.Errorf("%w: MaxFrameBytes is negative", ErrConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.ClientName == "" {
		c.ClientName = DefaultClientName
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	c.Backoff = c.Backoff.withDefaults()
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.PresenceInterval == 0 {
		c.PresenceInterval = DefaultPresenceInterval
	}
	if c.DirLockTimeout == 0 {
		c.DirLockTimeout = DefaultDirLockTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Dialer == nil {
		c.Dialer = &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: c.DialTimeout,
		}
	}
	return c
}
