package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/protocol"
)

// EditorConfig describes one Go client.
type EditorConfig struct {
	Name     string
	Workflow string
	// Target is the node address (host:port) the editor's link forwards to.
	Target string
	// ReplicaID defaults to Name.
	ReplicaID string
	// Doc is client.Config.Doc: a document saved by an earlier run.
	Doc *workflow.Doc
	// Offline starts the editor with its link cut.
	Offline bool
	// OnFrame sees every frame of the editor's connections (Tap.OnFrame).
	OnFrame func(conn uint64, dir Direction, f protocol.Frame)
}

// Editor is a Go client (sync/client) whose connection runs through a
// Proxy with a Tap, as a user's editor behind a load balancer would. It
// remembers every delta it applied, every refusal and every event.
type Editor struct {
	Name     string
	Workflow string
	C        *client.Client
	// Link is the editor's connection to the server; Retarget moves it to
	// another node.
	Link *Proxy
	// Tap sees every frame of the editor's connections.
	Tap *Tap

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	ops     []Edit
	rejects []*client.RejectError
	events  []protocol.Event
	runErr  error
}

// NewEditor creates the client and starts its Run loop.
func NewEditor(t testing.TB, cfg EditorConfig) *Editor {
	t.Helper()
	if cfg.ReplicaID == "" {
		cfg.ReplicaID = cfg.Name
	}
	e := &Editor{Name: cfg.Name, Workflow: cfg.Workflow, Tap: NewTap(), done: make(chan struct{})}
	e.Tap.OnFrame = cfg.OnFrame
	e.Link = NewProxy(t, cfg.Name+"-link", cfg.Target)
	e.Link.SetTap(e.Tap)
	if cfg.Offline {
		e.Link.Cut()
	}
	c, err := client.New(client.Config{
		URL: "ws://" + e.Link.Addr() + "/v1/sync", Token: cfg.Name + ":" + cfg.Name,
		ReplicaID: cfg.ReplicaID, WorkflowID: cfg.Workflow, Doc: cfg.Doc,
		DialTimeout: 3 * time.Second,
		Backoff:     client.Backoff{Base: 50 * time.Millisecond, Cap: 400 * time.Millisecond},
		OnReject: func(r *client.RejectError) {
			e.mu.Lock()
			e.rejects = append(e.rejects, r)
			e.mu.Unlock()
		},
		OnEvent: func(ev protocol.Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.C = c
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() {
		defer close(e.done)
		err := c.Run(ctx)
		e.mu.Lock()
		e.runErr = err
		e.mu.Unlock()
	}()
	t.Cleanup(e.Close)
	return e
}

// Close stops the client and waits for its goroutines.
func (e *Editor) Close() {
	e.cancel()
	_ = e.C.Close()
	<-e.done
}

// Edit is one applied edit: its delta and the replica that made it.
type Edit struct {
	Delta   *workflow.Doc
	Replica crdt.ReplicaID
}

// Apply applies op locally (the client sends it when it can) and
// remembers its delta.
func (e *Editor) Apply(op workflow.Op) (*workflow.Doc, error) {
	d, err := e.C.Apply(op)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.ops = append(e.ops, Edit{Delta: d, Replica: crdt.ReplicaID(e.C.ReplicaID())})
	e.mu.Unlock()
	return d, nil
}

// MustApply applies op and fails the test if the client refuses it.
func (e *Editor) MustApply(t testing.TB, op workflow.Op) *workflow.Doc {
	t.Helper()
	d, err := e.Apply(op)
	if err != nil {
		t.Fatalf("%s: apply %s: %v", e.Name, op.Name(), err)
	}
	return d
}

// Edits returns every edit applied so far.
func (e *Editor) Edits() []Edit {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Edit(nil), e.ops...)
}

// Ops returns the deltas of every edit applied so far.
func (e *Editor) Ops() []*workflow.Doc {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*workflow.Doc, len(e.ops))
	for i, op := range e.ops {
		out[i] = op.Delta
	}
	return out
}

// Rejects returns the edits the client reported as refused for good.
func (e *Editor) Rejects() []*client.RejectError {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*client.RejectError(nil), e.rejects...)
}

// Events returns the lifecycle events received.
func (e *Editor) Events() []protocol.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]protocol.Event(nil), e.events...)
}

// RunErr is what Run returned (nil while it runs).
func (e *Editor) RunErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runErr
}

// Running reports whether Run has not returned.
func (e *Editor) Running() bool {
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

// HeardDeleted reports whether the client learned that its workflow was
// deleted: a workflow-deleted event, or Run ending with WORKFLOW_DELETED.
func (e *Editor) HeardDeleted() bool {
	for _, ev := range e.Events() {
		if ev.Kind == protocol.EventWorkflowDeleted {
			return true
		}
	}
	var pe *protocol.Error
	return errors.As(e.RunErr(), &pe) && pe.Code == protocol.CodeWorkflowDeleted
}

// Live reports whether the client is joined, caught up and holds nothing
// unacknowledged.
func (e *Editor) Live() bool {
	s := e.C.Status()
	return s.State == client.StateLive && s.Pending == 0
}

// WaitLive waits until the client is live with an empty outbox.
func (e *Editor) WaitLive(d time.Duration) error {
	deadline := time.Now().Add(d)
	for !e.Live() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not live with an empty outbox after %v: %v (run: %v)", e.Name, d, e.C.Status(), e.RunErr())
		}
		if !e.Running() {
			return fmt.Errorf("%s: Run ended: %w", e.Name, e.RunErr())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// WaitSeen waits until the client's document shows block id.
func (e *Editor) WaitSeen(d time.Duration, id string) error {
	deadline := time.Now().Add(d)
	for e.C.View().Blocks[id] == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: block %q not seen after %v", e.Name, id, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// ReadDoc joins wf on the node at url as a fresh replica with an empty
// document, waits for the whole catch-up and returns the document: what a
// new user opening the workflow on that node sees. It returns the Run
// error when the server refuses the join (WORKFLOW_DELETED, …).
func ReadDoc(url, wf string, timeout time.Duration) (*workflow.Doc, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	c, err := client.New(client.Config{URL: url, Token: "reader:Reader", ReplicaID: "reader-" + hex.EncodeToString(b[:]),
		WorkflowID: wf, DialTimeout: 3 * time.Second, Backoff: client.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond}})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	defer func() {
		_ = c.Close()
		<-runErr
	}()
	for {
		select {
		case err := <-runErr:
			runErr <- err // for the deferred receive
			if ctx.Err() != nil {
				return nil, fmt.Errorf("reading %s from %s: no catch-up within %v", wf, url, timeout)
			}
			return nil, err
		case <-time.After(10 * time.Millisecond):
		}
		if c.Status().State == client.StateLive {
			return c.Doc(), nil
		}
	}
}
