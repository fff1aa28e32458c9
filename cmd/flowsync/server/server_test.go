package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/flowsync/flowsync/cmd/flowsync/server"
	"github.com/flowsync/flowsync/sync/protocol"
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
	srv, err := server.New(server.Config{Dev: true, ShutdownTimeout: 5 * time.Second}, nil, nil)
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
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "flowsync_connections 1") {
		t.Fatalf("metrics: %d, connections gauge missing", code)
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
