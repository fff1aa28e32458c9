// Package baseline is the comparison server of the benchmark harness
// (BENCHMARKS.md): a minimal server speaking just enough of sync/protocol for the
// Go client, in two modes.
//
//   - ModePostgres behaves like the system flowsync replaces does for
//     everything but live drags: each Delta is persisted in a Postgres transaction
//     of its own under the workflow's row lock — SELECT … FOR UPDATE on
//     bench_workflow, UPDATE its updated_at, INSERT the delta into
//     bench_workflow_op, COMMIT — and only then relayed to the room's other
//     members as RemoteDelta and acknowledged to the sender with Applied and
//     Durable.
//   - ModeRelay is the floor: no storage, no decoding of the delta beyond
//     the frame, one websocket write per frame. Each Delta is forwarded as
//     RemoteDelta and acknowledged (Applied, Durable) at once.
//
// Hello gets a Welcome (the token's "uid:name" is the user, as with the dev
// authenticator) and Join a Joined with an empty roster. In ModePostgres the
// Join loads the workflow the way a stateless reference server has to: it
// reads every stored operation of the workflow (ORDER BY seq), merges them
// into a document and sends the joiner what its context lacks as catch-up
// chunks, with the document's context in Joined (so that reconnecting
// clients do not resend what is stored). ModeRelay stores nothing and sends
// no catch-up. Drag frames are relayed to the room's other members as
// DragUpdate, one write per member per frame (no folding). Presence, Leave
// and Operation frames are ignored. There is no authentication, rate
// limiting or merge on the write path: it is a yardstick, not a server.
package baseline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Mode selects what the server does with a Delta.
type Mode int

// Modes.
const (
	ModePostgres Mode = iota // one Postgres transaction per operation
	ModeRelay                // bare relay: no storage
)

func (m Mode) String() string {
	if m == ModeRelay {
		return "relay"
	}
	return "baseline"
}

// Schema creates the baseline's tables if they do not exist.
const Schema = `
CREATE TABLE IF NOT EXISTS bench_workflow (
	id         text PRIMARY KEY,
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS bench_workflow_op (
	seq         bigserial PRIMARY KEY,
	workflow_id text NOT NULL REFERENCES bench_workflow (id),
	op_id       text NOT NULL,
	session_id  text NOT NULL,
	delta       bytea NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now()
);`

// Config configures a Server.
type Config struct {
	Mode Mode
	// PostgresURL is required with ModePostgres.
	PostgresURL string
	// MaxConns is the pool size. Default: pgxpool's (max(4, CPUs)).
	MaxConns int32
	// WriteTimeout bounds each websocket write. Default: 10 s.
	WriteTimeout time.Duration
	Logger       *slog.Logger
}

// Stats counts what the server did.
type Stats struct {
	Deltas       int64 // Delta frames received
	Transactions int64 // committed per-operation transactions
	Relayed      int64 // RemoteDelta frames written
	Failed       int64 // transactions that failed (Nack sent)
}

// Server is a baseline server; it is an http.Handler for the websocket
// endpoint (any path).
type Server struct {
	cfg      Config
	pool     *pgxpool.Pool
	upgrader websocket.Upgrader
	log      *slog.Logger
	emptyCtx []byte

	mu    sync.RWMutex
	rooms map[string]map[*conn]struct{}
	conns map[*conn]struct{}
	wg    sync.WaitGroup

	nextSID                                 atomic.Int64
	deltas, transactions, relayed, failures atomic.Int64
}

// New builds a server; with ModePostgres it connects and creates the tables.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		emptyCtx: workflow.New().Encode(),
		rooms:    map[string]map[*conn]struct{}{},
		conns:    map[*conn]struct{}{},
	}
	if cfg.Mode == ModePostgres {
		if cfg.PostgresURL == "" {
			return nil, errors.New("baseline: PostgresURL is required")
		}
		pc, err := pgxpool.ParseConfig(cfg.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if cfg.MaxConns > 0 {
			pc.MaxConns = cfg.MaxConns
		}
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if _, err := pool.Exec(ctx, Schema); err != nil {
			pool.Close()
			return nil, fmt.Errorf("baseline: creating tables: %w", err)
		}
		s.pool = pool
	}
	return s, nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Deltas: s.deltas.Load(), Transactions: s.transactions.Load(), Relayed: s.relayed.Load(), Failed: s.failures.Load()}
}

// Serve serves on ln until ctx is done, then closes every connection and
// the pool.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	s.Close()
	return err
}

// Close closes every connection, waits for their goroutines and closes the
// pool.
func (s *Server) Close() {
	s.mu.Lock()
	for c := range s.conns {
		_ = c.ws.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.pool != nil {
		s.pool.Close()
	}
}

type conn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	sid  string
	uid  string
	rid  string
	room string
	// joining is set from the moment the connection is a member of its
	// room until its Joined and catch-up are written; relays for it are
	// held meanwhile. A client ignores frames before Joined, so a relay
	// written earlier would be lost, and the catch-up, loaded after the
	// registration, may not hold it yet.
	joining bool
	held    [][]byte
}

func (c *conn) write(timeout time.Duration, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// relayWrite writes a relayed frame, or holds it while the connection is
// joining.
func (c *conn) relayWrite(timeout time.Duration, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.joining {
		c.held = append(c.held, b)
		return nil
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// setJoining starts holding relays for c.
func (c *conn) setJoining() {
	c.wmu.Lock()
	c.joining = true
	c.wmu.Unlock()
}

// joined writes the relays held while c was joining (after its catch-up:
// some may repeat what the catch-up holds, which merging ignores) and stops
// holding.
func (c *conn) joined(timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	held := c.held
	c.joining, c.held = false, nil
	for _, b := range held {
		_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
		if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
			return err
		}
	}
	return nil
}

// ServeHTTP upgrades the request and serves the connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, sid: "s" + strconv.FormatInt(s.nextSID.Add(1), 10)}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		if m := s.rooms[c.room]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(s.rooms, c.room)
			}
		}
		s.mu.Unlock()
		_ = ws.Close()
	}()
	ws.SetReadLimit(protocol.DefaultMaxFrameBytes)
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return
		}
		f, err := protocol.Decode(b, protocol.Limits{})
		if err != nil {
			s.log.Debug("baseline: bad frame", "err", err)
			return
		}
		if err := s.handle(r.Context(), c, f); err != nil {
			s.log.Debug("baseline: connection ends", "err", err)
			return
		}
	}
}

func (s *Server) send(c *conn, f protocol.Frame) error {
	b, err := protocol.Encode(f)
	if err != nil {
		return err
	}
	return c.write(s.cfg.WriteTimeout, b)
}

func (s *Server) handle(ctx context.Context, c *conn, f protocol.Frame) error {
	switch f := f.(type) {
	case *protocol.Hello:
		c.uid, c.rid = "anonymous", f.ReplicaID
		if uid, _, _ := strings.Cut(f.Token, ":"); uid != "" {
			c.uid = uid
		}
		return s.send(c, &protocol.Welcome{
			ProtocolVersion: protocol.ProtocolVersion,
			SessionID:       c.sid,
			User:            protocol.User{ID: c.uid, Name: c.uid},
			ServerVersion:   "baseline-" + s.cfg.Mode.String(),
			Limits:          protocol.ServerLimits{MaxFrameBytes: protocol.DefaultMaxFrameBytes, MaxDeltaBytes: 1 << 19},
			ServerTimeMs:    time.Now().UnixMilli(),
		})
	case *protocol.Join:
		if s.pool != nil {
			if _, err := s.pool.Exec(ctx, `INSERT INTO bench_workflow (id) VALUES ($1) ON CONFLICT DO NOTHING`, f.WorkflowID); err != nil {
				return s.send(c, &protocol.Error{Code: protocol.CodeStorageUnavailable, WorkflowID: f.WorkflowID, Message: "baseline: " + err.Error()})
			}
		}
		c.setJoining()
		s.mu.Lock()
		if old := s.rooms[c.room]; old != nil {
			delete(old, c)
		}
		c.room = f.WorkflowID
		m := s.rooms[c.room]
		if m == nil {
			m = map[*conn]struct{}{}
			s.rooms[c.room] = m
		}
		m[c] = struct{}{}
		s.mu.Unlock()
		if s.pool == nil {
			if err := s.send(c, &protocol.Joined{WorkflowID: f.WorkflowID, Role: protocol.RoleAdmin, Context: s.emptyCtx}); err != nil {
				return err
			}
		} else if err := s.catchUp(ctx, c, f); err != nil {
			return err
		}
		return c.joined(s.cfg.WriteTimeout)
	case *protocol.Drag:
		if f.WorkflowID == c.room {
			s.relayDrag(c, f)
		}
		return nil
	case *protocol.Delta:
		s.deltas.Add(1)
		if f.WorkflowID != c.room {
			return s.send(c, &protocol.Nack{OpID: f.OpID, Code: protocol.CodeInternal, Message: "baseline: not joined", Retryable: false})
		}
		if s.pool != nil {
			if err := s.persist(ctx, c, f); err != nil {
				s.failures.Add(1)
				s.log.Warn("baseline: transaction failed", "err", err)
				return s.send(c, &protocol.Nack{OpID: f.OpID, Code: protocol.CodeStorageUnavailable, Message: "baseline: " + err.Error(), Retryable: true})
			}
			s.transactions.Add(1)
		}
		// Relay after the commit, then confirm (reference §4.1).
		s.relay(c, f)
		if err := s.send(c, &protocol.Applied{OpID: f.OpID}); err != nil {
			return err
		}
		return s.send(c, &protocol.Durable{OpIDs: []string{f.OpID}})
	}
	return nil
}

// persist runs the per-operation transaction under the workflow row lock.
func (s *Server) persist(ctx context.Context, c *conn, f *protocol.Delta) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var id string
	if err := tx.QueryRow(ctx, `SELECT id FROM bench_workflow WHERE id = $1 FOR UPDATE`, f.WorkflowID).Scan(&id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE bench_workflow SET updated_at = now() WHERE id = $1`, f.WorkflowID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO bench_workflow_op (workflow_id, op_id, session_id, delta) VALUES ($1, $2, $3, $4)`,
		f.WorkflowID, f.OpID, c.sid, f.Delta); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// relay writes the delta to the room's other members, one write each.
func (s *Server) relay(from *conn, f *protocol.Delta) {
	b, err := protocol.Encode(&protocol.RemoteDelta{
		WorkflowID: f.WorkflowID,
		Delta:      f.Delta,
		Origin:     protocol.Origin{UserID: from.uid, ReplicaID: from.rid, SessionID: from.sid},
	})
	if err != nil {
		return
	}
	s.writeRoom(from, f.WorkflowID, b)
}

// writeRoom writes b to every member of the room but from.
func (s *Server) writeRoom(from *conn, room string, b []byte) {
	s.mu.RLock()
	peers := make([]*conn, 0, len(s.rooms[room]))
	for c := range s.rooms[room] {
		if c != from {
			peers = append(peers, c)
		}
	}
	s.mu.RUnlock()
	for _, c := range peers {
		if err := c.relayWrite(s.cfg.WriteTimeout, b); err != nil {
			_ = c.ws.Close() // its reader ends and unregisters it
			continue
		}
		s.relayed.Add(1)
	}
}

// catchUp answers a Join in ModePostgres: it loads the workflow's stored
// operations, merges them, and sends Joined with the document's context
// followed by what the joiner lacks in chunks of at most 512 KiB.
func (s *Server) catchUp(ctx context.Context, c *conn, f *protocol.Join) error {
	have, err := workflow.Decode(f.Context, workflow.DocLimits)
	if err != nil {
		return s.send(c, &protocol.Error{Code: protocol.CodeInvalidFrame, WorkflowID: f.WorkflowID, Message: "baseline: join context: " + err.Error()})
	}
	doc, err := s.load(ctx, f.WorkflowID)
	if err != nil {
		return s.send(c, &protocol.Error{Code: protocol.CodeStorageUnavailable, WorkflowID: f.WorkflowID, Message: "baseline: " + err.Error()})
	}
	ctxOnly := workflow.New()
	ctxOnly.Context().Merge(doc.Context())
	chunks := doc.DeltaSince(have.Context()).EncodeChunks(512 << 10)
	if err := s.send(c, &protocol.Joined{WorkflowID: f.WorkflowID, Role: protocol.RoleAdmin, Context: ctxOnly.Encode(), CatchUpChunks: uint64(len(chunks))}); err != nil {
		return err
	}
	for i, ch := range chunks {
		if err := s.send(c, &protocol.CatchUp{WorkflowID: f.WorkflowID, Seq: uint64(i), Last: i == len(chunks)-1, Delta: ch}); err != nil {
			return err
		}
	}
	return nil
}

// load reads and merges every stored operation of a workflow.
func (s *Server) load(ctx context.Context, workflowID string) (*workflow.Doc, error) {
	rows, err := s.pool.Query(ctx, `SELECT delta FROM bench_workflow_op WHERE workflow_id = $1 ORDER BY seq`, workflowID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	doc := workflow.New()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		d, err := workflow.Decode(b, workflow.DeltaLimits)
		if err != nil {
			return nil, fmt.Errorf("stored delta: %w", err)
		}
		doc.Merge(d)
	}
	return doc, rows.Err()
}

// relayDrag writes a DragUpdate to the room's other members, one write
// each: the naive relay a reference server does for live positions.
func (s *Server) relayDrag(from *conn, f *protocol.Drag) {
	b, err := protocol.Encode(&protocol.DragUpdate{WorkflowID: f.WorkflowID, SessionID: from.sid, UserID: from.uid, Positions: f.Positions})
	if err != nil {
		return
	}
	s.writeRoom(from, f.WorkflowID, b)
}
