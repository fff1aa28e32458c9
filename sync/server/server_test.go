package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRefusesToStartWithoutAuth(t *testing.T) {
	_, err := server.New(server.Config{}, nil, nil)
	if !errors.Is(err, server.ErrNoAuth) || !strings.Contains(err.Error(), "--dev") {
		t.Fatalf("err = %v", err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeEndpointsAndShutdown(t *testing.T) {
	srv, err := server.New(server.Config{Dev: true, ShutdownTimeout: 5 * time.Second, Store: server.StoreConfig{Kind: server.StoreMemory}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	if code, body := get(t, base+"/healthz"); code != 200 || body != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/v1/sync", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hello, _ := protocol.Encode(&protocol.Hello{ProtocolVersion: 1, Token: "u:U", ReplicaID: "r"})
	_ = conn.WriteMessage(websocket.BinaryMessage, hello)
	_, msg, err := conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if f, err := protocol.Decode(msg, protocol.Limits{}); err != nil || f.Type() != protocol.FrameWelcome {
		t.Fatalf("first frame: %v %v", f, err)
	}
	code, body := get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, "flowsync_connections 1") {
		t.Fatalf("metrics: %d, connections gauge missing", code)
	}
	if want := `flowsync_build_info{commit="unknown",goversion="` + runtime.Version() + `",version="devel"} 1`; !strings.Contains(body, want) {
		t.Fatalf("metrics: no %s", want)
	}

	cancel() // SIGTERM
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != int(protocol.CloseServiceRestart) {
		t.Fatalf("session end: %v, want 1012", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// downStore fails every write while down is set.
type downStore struct {
	storage.Store
	down atomic.Bool
}

func (s *downStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	if s.down.Load() {
		return errors.New("connection refused")
	}
	return s.Store.Append(ctx, wf, deltas)
}

type nopMember struct{}

func (nopMember) SessionID() string { return "s1" }
func (nopMember) Identity() rooms.Identity {
	return rooms.Identity{UserID: "u", ReplicaID: "r1", Role: protocol.RoleWrite}
}
func (nopMember) Enqueue([]byte) bool              { return true }
func (nopMember) EnqueueReply([][]byte) bool       { return true }
func (nopMember) Close(protocol.CloseCode, string) {}

func TestReadyzDegradedWhileStoreWritesFail(t *testing.T) {
	store := &downStore{Store: memory.New()}
	srv, err := server.New(server.Config{Dev: true, Store: server.StoreConfig{Use: store},
		Rooms: rooms.Config{RetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx, nil); err != nil {
			t.Error(err)
		}
	}()
	rm, err := srv.Rooms().Join(context.Background(), "wf", nopMember{}, rooms.JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store.down.Store(true)
	d, _ := workflow.New().Apply(crdt.NewClock("r1").Now(time.Now().UnixMilli()),
		workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b", Type: "agent", Name: "B"}}})
	rm.SubmitDelta(nopMember{}, "op", d.Encode(), d)
	waitStatus := func(want int) string {
		t.Helper()
		var body string
		testutil.WaitReason(t, testutil.DefaultWait, fmt.Sprintf("readyz %d", want), func() string {
			var code int
			if code, body = get(t, hs.URL+"/readyz"); code != want {
				return fmt.Sprintf("readyz %d %s", code, body)
			}
			return ""
		})
		return body
	}
	body := waitStatus(503)
	if !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, "connection refused") {
		t.Fatalf("readyz body %s", body)
	}
	if code, _ := get(t, hs.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz %d while degraded", code)
	}
	store.down.Store(false)
	waitStatus(200)
}

// A second server on the same --data-dir (a second process, as far as the
// file lock goes) refuses to start with an error that names the file,
// says another process holds it and what to do.
func TestSecondServerOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := server.Config{Dev: true, Store: server.StoreConfig{Kind: server.StoreBolt, DataDir: dir, OpenTimeout: 100 * time.Millisecond}}
	first, err := server.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = first.Shutdown(ctx, nil)
	}()
	second, err := server.New(cfg, nil, nil)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = second.Shutdown(ctx, nil)
		t.Fatal("a second server opened a store another one holds")
	}
	msg := err.Error()
	for _, want := range []string{dir + "/" + server.BoltFile, "another process", "Stop the other flowsync process", "another --data-dir"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "bolt: open") || !errors.Is(err, bolt.ErrLocked) {
		t.Errorf("error %q: want bolt.ErrLocked, not bbolt's terse timeout", msg)
	}
}
