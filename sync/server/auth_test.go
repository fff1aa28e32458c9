package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
	"github.com/flowsync/flowsync/sync/session"
)

// A server started with a JWT secret and an admin secret (no --dev)
// accepts a valid token, refuses a forged one, and mounts the admin API
// behind its secret.
func TestServerWithJWTAndAdminAPI(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	admin := []byte(strings.Repeat("a", 32))
	srv, err := server.New(server.Config{
		JWT:         session.JWTConfig{Keys: []session.JWTKey{{Secret: secret}}, Audience: "flowsync"},
		AdminSecret: admin,
		Store:       server.StoreConfig{Kind: server.StoreMemory},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, nil)
	}()

	token := func(key []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "u-1", "name": "Ann", "roles": map[string]string{"*": "write"},
			"aud": "flowsync", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
		})
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hello := func(tok string) protocol.Frame {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/v1/sync", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		b, _ := protocol.Encode(&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: tok, ReplicaID: "r-1"})
		if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return nil
		}
		f, err := protocol.Decode(msg, protocol.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if w, ok := hello(token(secret)).(*protocol.Welcome); !ok || w.User.ID != "u-1" {
		t.Fatalf("valid token: got %T, want Welcome for u-1", w)
	}
	if f, ok := hello(token([]byte(strings.Repeat("x", 32)))).(*protocol.Error); !ok || f.Code != protocol.CodeAuthenticationFailed {
		t.Fatalf("forged token: got %#v, want AUTHENTICATION_FAILED", f)
	}

	status := func(key string) int {
		req, _ := http.NewRequest("GET", hs.URL+"/admin/v1/rooms", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(""); got != http.StatusUnauthorized {
		t.Fatalf("admin API without the secret: %d, want 401", got)
	}
	if got := status(string(admin)); got != http.StatusOK {
		t.Fatalf("admin API with the secret: %d, want 200", got)
	}
}
