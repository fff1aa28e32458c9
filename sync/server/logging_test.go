package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
	"github.com/flowsync/flowsync/sync/session"
)

// Durations are logged as Go duration strings, inside groups too, not as
// integer nanoseconds.
func TestLoggerDurationsAsStrings(t *testing.T) {
	var buf bytes.Buffer
	l := server.NewLogger(&buf, slog.LevelInfo)
	l.Info("x", "backoff", 5*time.Second, slog.Group("g", "took", 1500*time.Microsecond), "any", slog.AnyValue(2*time.Minute))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	g, _ := rec["g"].(map[string]any)
	if rec["backoff"] != "5s" || g["took"] != "1.5ms" || rec["any"] != "2m0s" {
		t.Fatalf("durations logged as %s", buf.String())
	}
}

// Every log line a session writes carries its connection id ("conn", the
// sid of its Welcome), from authentication to the end of the session, and
// so do the audit records of the changes it makes.
func TestSessionLogLinesCarryConnID(t *testing.T) {
	logs := &syncBuffer{}
	srv, err := server.New(server.Config{Dev: true, Store: server.StoreConfig{Kind: server.StoreMemory},
		Session: session.Config{MaxFrameBytes: 4096}}, server.NewLogger(logs, slog.LevelDebug), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/v1/sync", nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(f protocol.Frame) {
		t.Helper()
		b, err := protocol.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	read := func() protocol.Frame {
		t.Helper()
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		f, err := protocol.Decode(msg, protocol.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	send(&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: "ann:Ann", ReplicaID: "r-ann"})
	welcome, ok := read().(*protocol.Welcome)
	if !ok || welcome.SessionID == "" {
		t.Fatalf("no Welcome with a sid: %+v", welcome)
	}
	send(&protocol.Join{WorkflowID: "wf-logs"})
	for f := read(); f.Type() != protocol.FrameJoined; f = read() {
	}
	// A variable added: the room writes an audit record for the session.
	send(&protocol.Operation{WorkflowID: "wf-logs", OpID: "op-1", Name: "add", Target: "variable",
		Payload: map[string]any{"id": "v1", "name": "apiKey", "type": "plain", "value": "x"}})
	for f := read(); f.Type() != protocol.FrameApplied; f = read() {
		if n, ok := f.(*protocol.Nack); ok {
			t.Fatalf("operation refused: %+v", n)
		}
	}
	// Over MaxFrameBytes: the server closes the session, and logs why.
	_ = ws.WriteMessage(websocket.BinaryMessage, make([]byte, 8192))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	ws.Close()
	hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx, nil); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		if rec["audit"] == true {
			seen["audit"] = true
			if rec["conn"] != welcome.SessionID {
				t.Errorf("audit record of the session without its conn: %s", sc.Text())
			}
		}
		if rec["component"] != "session" {
			continue
		}
		msg, _ := rec["msg"].(string)
		if rec["conn"] != welcome.SessionID {
			t.Errorf("session line without conn %q: %s", welcome.SessionID, sc.Text())
		}
		seen[msg] = true
		if msg == "session ended" {
			if d, err := time.ParseDuration(rec["lasted"].(string)); err != nil || d < 0 {
				t.Errorf("lasted %v is not a duration string: %s", rec["lasted"], sc.Text())
			}
		}
	}
	for _, want := range []string{"session authenticated", "audit", "closing session: message too big", "session ended"} {
		if !seen[want] {
			t.Errorf("no %q line; logs:\n%s", want, logs.String())
		}
	}
}
