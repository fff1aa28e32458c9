package session_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef-test-secret")
	otherSecret = []byte("another-secret-of-at-least-32-bytes-length!!")
)

const testAudience = "flowsync-test"

// claims returns valid claims for user sub with roles, expiring in 1 h.
func claims(sub string, roles map[string]protocol.Role) *session.JWTClaims {
	now := time.Now()
	return &session.JWTClaims{
		Name:  "User " + sub,
		Roles: roles,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			Audience:  jwt.ClaimStrings{testAudience},
			Issuer:    "app",
			IssuedAt:  jwt.NewNumericDate(now.Add(-time.Second)),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
	}
}

func sign(t *testing.T, c jwt.Claims, kid string, key []byte) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newJWTEnv(t *testing.T, tweak func(*session.JWTConfig, *session.Config)) *env {
	t.Helper()
	jcfg := session.JWTConfig{
		Keys:     []session.JWTKey{{ID: "k1", Secret: testSecret}, {ID: "k2", Secret: otherSecret}},
		Audience: testAudience,
		Issuer:   "app",
	}
	var scfg session.Config
	scfg.ConnectionsPerMinutePerIP = -1 // many connections from 127.0.0.1
	if tweak != nil {
		tweak(&jcfg, &scfg)
	}
	auth, err := session.NewJWTAuthenticator(jcfg)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvAuth(t, auth, func(s *session.Config, _ *rooms.Config) {
		grace := s.CloseGrace
		*s = scfg
		s.CloseGrace = grace
	})
}

func TestJWTConfigValidation(t *testing.T) {
	for name, cfg := range map[string]session.JWTConfig{
		"no keys":      {Audience: "a"},
		"no audience":  {Keys: []session.JWTKey{{Secret: testSecret}}},
		"short secret": {Audience: "a", Keys: []session.JWTKey{{Secret: []byte("short")}}},
		"leeway":       {Audience: "a", Keys: []session.JWTKey{{Secret: testSecret}}, Leeway: 2 * time.Minute},
		"duplicate id": {Audience: "a", Keys: []session.JWTKey{{ID: "x", Secret: testSecret}, {ID: "x", Secret: otherSecret}}},
	} {
		if _, err := session.NewJWTAuthenticator(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestJWTMatrix(t *testing.T) {
	e := newJWTEnv(t, nil)
	roles := map[string]protocol.Role{"wf": protocol.RoleWrite}

	// Valid tokens: with each kid, and without one (every key is tried).
	for _, kid := range []string{"k1", ""} {
		c := e.connect(t, sign(t, claims("u-valid", roles), kid, testSecret), "rep-v")
		if j := c.join("wf", ""); j.Role != protocol.RoleWrite {
			t.Fatalf("kid %q: joined with role %q", kid, j.Role)
		}
	}
	rotated := e.connect(t, sign(t, claims("u-rotated", roles), "k2", otherSecret), "rep-r")
	rotated.join("wf", "")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signWith := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mod := func(f func(c *session.JWTClaims)) *session.JWTClaims {
		c := claims("u1", roles)
		f(c)
		return c
	}
	cases := []struct {
		name, token, rid string
	}{
		{"empty", "", "rep"},
		{"garbage", "not.a.jwt", "rep"},
		{"alg none", signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("u1", roles)), "rep"},
		{"RS256", signWith(jwt.SigningMethodRS256, rsaKey, claims("u1", roles)), "rep"},
		{"ES256", signWith(jwt.SigningMethodES256, ecKey, claims("u1", roles)), "rep"},
		{"HS512 with the right secret", signWith(jwt.SigningMethodHS512, testSecret, claims("u1", roles)), "rep"},
		{"another key", sign(t, claims("u1", roles), "", []byte("an-attacker-secret-of-32-bytes-or-more")), "rep"},
		{"kid of another key", sign(t, claims("u1", roles), "k2", testSecret), "rep"},
		{"unknown kid", sign(t, claims("u1", roles), "k9", testSecret), "rep"},
		{"expired", sign(t, mod(func(c *session.JWTClaims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
		}), "", testSecret), "rep"},
		{"missing exp", sign(t, mod(func(c *session.JWTClaims) { c.ExpiresAt = nil }), "", testSecret), "rep"},
		{"too long a lifetime", sign(t, mod(func(c *session.JWTClaims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(48 * time.Hour))
		}), "", testSecret), "rep"},
		{"not yet valid", sign(t, mod(func(c *session.JWTClaims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour)) }), "", testSecret), "rep"},
		{"wrong audience", sign(t, mod(func(c *session.JWTClaims) { c.Audience = jwt.ClaimStrings{"other"} }), "", testSecret), "rep"},
		{"missing audience", sign(t, mod(func(c *session.JWTClaims) { c.Audience = nil }), "", testSecret), "rep"},
		{"wrong issuer", sign(t, mod(func(c *session.JWTClaims) { c.Issuer = "evil" }), "", testSecret), "rep"},
		{"missing sub", sign(t, mod(func(c *session.JWTClaims) { c.Subject = "" }), "", testSecret), "rep"},
		{"unknown role", sign(t, mod(func(c *session.JWTClaims) { c.Roles = map[string]protocol.Role{"wf": "owner"} }), "", testSecret), "rep"},
		{"rid not allowed", sign(t, mod(func(c *session.JWTClaims) { c.ReplicaIDs = []string{"rep-other"} }), "", testSecret), "rep"},
	}
	var tokens []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.token != "" {
				tokens = append(tokens, tc.token)
			}
			c := e.dial(t, nil)
			c.send(&protocol.Hello{ProtocolVersion: 1, Token: tc.token, ReplicaID: tc.rid})
			er := c.expect(protocol.FrameError).(*protocol.Error)
			if er.Code != protocol.CodeAuthenticationFailed || er.Retryable {
				t.Fatalf("error = %+v, want AUTHENTICATION_FAILED", er)
			}
			if tc.token != "" && strings.Contains(er.Message, tc.token) {
				t.Fatal("the error message quotes the token")
			}
			if got := c.expectClose(); got != int(protocol.CloseAuthenticationFailed) {
				t.Fatalf("close = %d, want 4500", got)
			}
		})
	}
	// rid: the allowed replica passes.
	ok := sign(t, mod(func(c *session.JWTClaims) { c.ReplicaIDs = []string{"rep-x", "rep-ok"} }), "", testSecret)
	e.connect(t, ok, "rep-ok")

	if n := counterValue(e.metrics.AuthFailures); n != float64(len(cases)) {
		t.Errorf("auth failures metric = %v, want %d", n, len(cases))
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "authentication failed") {
		t.Fatal("no authentication failure was logged")
	}
	for _, tok := range tokens {
		if strings.Contains(logs, tok) {
			t.Fatal("a token appears in the logs")
		}
		// Not even its signature or claims part.
		for part := range strings.SplitSeq(tok, ".") {
			if len(part) > 8 && strings.Contains(logs, part) {
				t.Fatalf("a part of a token appears in the logs: %q", part)
			}
		}
	}
}

// sync returns the frames the server sent before the answer to a marker
// frame (a Presence for a workflow the session has not joined, answered
// by the reader with NOT_JOINED). Every frame a room queued for the
// session before the marker was read comes first.
func (c *client) sync() []protocol.Frame {
	c.t.Helper()
	c.ops++
	marker := fmt.Sprintf("marker-%d", c.ops)
	c.send(&protocol.Presence{WorkflowID: marker})
	var out []protocol.Frame
	for {
		f, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for the marker: %v", err)
		}
		c.absorb(f)
		if er, ok := f.(*protocol.Error); ok && er.WorkflowID == marker {
			return out
		}
		out = append(out, f)
	}
}

func countType(fs []protocol.Frame, t protocol.FrameType) int {
	n := 0
	for _, f := range fs {
		if f.Type() == t {
			n++
		}
	}
	return n
}

func nackFor(c *client, op string) *protocol.Nack {
	c.t.Helper()
	f := c.expectWhere(protocol.FrameNack, func(f protocol.Frame) bool { return f.(*protocol.Nack).OpID == op })
	return f.(*protocol.Nack)
}

func expectApplied(c *client, op string) {
	c.t.Helper()
	for {
		f, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for Applied %s: %v", op, err)
		}
		c.absorb(f)
		switch f := f.(type) {
		case *protocol.Applied:
			if f.OpID == op {
				return
			}
		case *protocol.Nack:
			if f.OpID == op {
				c.t.Fatalf("op %s nacked: %s %s", op, f.Code, f.Message)
			}
		}
	}
}

func TestPerWorkflowRoles(t *testing.T) {
	e := newJWTEnv(t, nil)
	reader := e.connect(t, sign(t, claims("reader", map[string]protocol.Role{"wf": protocol.RoleRead}), "", testSecret), "rep-r")
	writer := e.connect(t, sign(t, claims("writer", map[string]protocol.Role{"*": protocol.RoleWrite, "wf-ro": protocol.RoleRead}), "", testSecret), "rep-w")

	// No role: ACCESS_DENIED, nothing joined.
	reader.send(&protocol.Join{WorkflowID: "other"})
	er := reader.expect(protocol.FrameError).(*protocol.Error)
	if er.Code != protocol.CodeAccessDenied || er.Retryable || er.WorkflowID != "other" {
		t.Fatalf("join without a role: %+v", er)
	}
	// The wildcard grants any workflow; an explicit entry wins over it.
	if j := writer.join("anything", ""); j.Role != protocol.RoleWrite {
		t.Fatalf("wildcard join role %q", j.Role)
	}
	if j := writer.join("wf-ro", ""); j.Role != protocol.RoleRead {
		t.Fatalf("explicit entry under a wildcard: role %q", j.Role)
	}

	if j := reader.join("wf", ""); j.Role != protocol.RoleRead {
		t.Fatalf("reader joined with %q", j.Role)
	}
	writer.join("wf", "")
	// Read role: deltas and operations refused, nothing relayed.
	op1 := reader.sendDelta("wf", reader.edit(addBlock("rb", "Reader block")))
	if n := nackFor(reader, op1); n.Code != protocol.CodePermissionDenied || n.Retryable {
		t.Fatalf("reader delta: %+v", n)
	}
	reader.send(&protocol.Operation{WorkflowID: "wf", OpID: "op-x", Name: "update-name", Target: "block",
		Payload: map[string]any{"id": "wb", "name": "Renamed"}})
	if n := nackFor(reader, "op-x"); n.Code != protocol.CodePermissionDenied {
		t.Fatalf("reader operation: %+v", n)
	}
	// Presence is allowed for readers.
	reader.send(&protocol.Presence{WorkflowID: "wf", Cursor: &protocol.Point{X: 1, Y: 2}})
	writer.expect(protocol.FramePresenceUpdate)

	wop := writer.sendDelta("wf", writer.edit(addBlock("wb", "Writer block")))
	frames := collectUntilApplied(t, writer, wop)
	if n := countType(frames, protocol.FrameRemoteDelta); n != 0 {
		t.Fatalf("the writer received %d remote deltas; the reader's edits were relayed", n)
	}
	snap, err := e.reg.Room("wf").Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v := snap.View()
	if _, ok := v.Blocks["rb"]; ok {
		t.Fatal("the reader's block was merged")
	}
	if _, ok := v.Blocks["wb"]; !ok {
		t.Fatal("the writer's block is missing")
	}
}

// collectUntilApplied reads c's frames until the Applied of op.
func collectUntilApplied(t *testing.T, c *client, op string) []protocol.Frame {
	t.Helper()
	var out []protocol.Frame
	for {
		f, err := c.next()
		if err != nil {
			t.Fatalf("waiting for Applied %s: %v", op, err)
		}
		c.absorb(f)
		out = append(out, f)
		if a, ok := f.(*protocol.Applied); ok && a.OpID == op {
			return out
		}
		if n, ok := f.(*protocol.Nack); ok && n.OpID == op {
			t.Fatalf("op nacked: %+v", n)
		}
	}
}

func TestRevocationEvictsLiveMember(t *testing.T) {
	e := newJWTEnv(t, nil)
	aTok := sign(t, claims("ua", map[string]protocol.Role{"*": protocol.RoleWrite}), "", testSecret)
	a := e.connect(t, aTok, "rep-a")
	b := e.connect(t, sign(t, claims("ub", map[string]protocol.Role{"*": protocol.RoleWrite}), "", testSecret), "rep-b")
	for _, c := range []*client{a, b} {
		c.join("wf", "")
		c.join("wf2", "")
	}

	n, err := e.h.SetRole(context.Background(), "ua", "wf", "")
	if err != nil || n != 1 {
		t.Fatalf("SetRole = %d, %v", n, err)
	}
	ev := a.expect(protocol.FrameEvent).(*protocol.Event)
	if ev.Kind != protocol.EventAccessRevoked || ev.WorkflowID != "wf" {
		t.Fatalf("event = %+v", ev)
	}
	// B's roster no longer lists A in wf.
	b.expectWhere(protocol.FrameRoster, func(f protocol.Frame) bool {
		r := f.(*protocol.Roster)
		return r.WorkflowID == "wf" && len(r.Entries) == 1
	})
	// B's edits in wf no longer reach A; in wf2 they still do.
	bop := b.sendDelta("wf", b.edit(addBlock("b1", "B1")))
	expectApplied(b, bop)
	bop2 := b.sendDelta("wf2", b.edit(addBlock("b2", "B2")))
	expectApplied(b, bop2)
	frames := a.sync()
	for _, f := range frames {
		if rd, ok := f.(*protocol.RemoteDelta); ok && rd.WorkflowID == "wf" {
			t.Fatal("a revoked member received a RemoteDelta of its old room")
		}
	}
	gotWf2 := false
	for _, f := range frames {
		if rd, ok := f.(*protocol.RemoteDelta); ok && rd.WorkflowID == "wf2" {
			gotWf2 = true
		}
	}
	if !gotWf2 {
		t.Fatal("the session lost its other room")
	}
	// A's deltas for wf: NOT_JOINED; a re-Join: ACCESS_DENIED.
	aop := a.sendDelta("wf", a.edit(addBlock("a1", "A1")))
	if n := nackFor(a, aop); n.Code != protocol.CodeNotJoined {
		t.Fatalf("delta after revocation: %+v", n)
	}
	a.send(&protocol.Join{WorkflowID: "wf"})
	if er := a.expect(protocol.FrameError).(*protocol.Error); er.Code != protocol.CodeAccessDenied {
		t.Fatalf("re-join after revocation: %+v", er)
	}
	// Reconnecting with the same (older) token does not undo it.
	a2 := e.connect(t, aTok, "rep-a")
	a2.send(&protocol.Join{WorkflowID: "wf"})
	if er := a2.expect(protocol.FrameError).(*protocol.Error); er.Code != protocol.CodeAccessDenied {
		t.Fatalf("join with the old token after revocation: %+v", er)
	}
	a2.join("wf2", "")
	if got := counterValue(e.metrics.Revocations); got != 1 {
		t.Fatalf("revocations metric = %v", got)
	}
}

func TestRoleChangeOnLiveSession(t *testing.T) {
	e := newJWTEnv(t, nil)
	a := e.connect(t, sign(t, claims("ua", map[string]protocol.Role{"wf": protocol.RoleWrite}), "", testSecret), "rep-a")
	a.join("wf", "")
	op := a.sendDelta("wf", a.edit(addBlock("b1", "B1")))
	expectApplied(a, op)

	if _, err := e.h.SetRole(context.Background(), "ua", "wf", protocol.RoleRead); err != nil {
		t.Fatal(err)
	}
	j := a.expect(protocol.FrameJoined).(*protocol.Joined)
	if j.Role != protocol.RoleRead {
		t.Fatalf("re-joined with role %q", j.Role)
	}
	op2 := a.sendDelta("wf", a.edit(addBlock("b2", "B2")))
	if n := nackFor(a, op2); n.Code != protocol.CodePermissionDenied {
		t.Fatalf("delta after downgrade: %+v", n)
	}
	// Upgrade again: edits pass (the room's admission has the new role too).
	if _, err := e.h.SetGrants(context.Background(), "ua", session.AllWorkflows(protocol.RoleAdmin)); err != nil {
		t.Fatal(err)
	}
	if j := a.expect(protocol.FrameJoined).(*protocol.Joined); j.Role != protocol.RoleAdmin {
		t.Fatalf("re-joined with role %q", j.Role)
	}
	op3 := a.sendDelta("wf", a.edit(addBlock("b3", "B3")))
	expectApplied(a, op3)
	if _, err := e.h.SetRole(context.Background(), "ua", "wf", "owner"); !errors.Is(err, session.ErrInvalidGrants) {
		t.Fatalf("invalid role: %v", err)
	}
}

func TestTokenExpiryClosesSession(t *testing.T) {
	e := newJWTEnv(t, func(j *session.JWTConfig, _ *session.Config) { j.Leeway = time.Millisecond })
	c := claims("ua", map[string]protocol.Role{"*": protocol.RoleWrite})
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(1500 * time.Millisecond))
	a := e.connect(t, sign(t, c, "", testSecret), "rep-a")
	a.join("wf", "")
	start := time.Now()
	er := a.expect(protocol.FrameError).(*protocol.Error)
	if er.Code != protocol.CodeTokenExpired {
		t.Fatalf("error = %+v", er)
	}
	if got := a.expectClose(); got != int(protocol.CloseTokenExpired) {
		t.Fatalf("close = %d, want 4004", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed %v after the token expired", d)
	}
	testutil.WaitFor(t, "the session to end", func() bool { return e.h.Len() == 0 })
}

func dialStatus(t *testing.T, e *env, h http.Header) (*websocket.Conn, int) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(e.url, h)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { conn.Close() })
	return conn, http.StatusSwitchingProtocols
}

func TestConnectionCaps(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.MaxConnectionsPerIP = 2 })
		e.connect(t, "u1", "r1")
		e.dial(t, nil) // counts before its Hello
		if _, st := dialStatus(t, e, nil); st != http.StatusTooManyRequests {
			t.Fatalf("third connection from one IP: status %d, want 429", st)
		}
		if got := counterValue(e.metrics.LimitRefusals.WithLabelValues("connections_per_ip")); got != 1 {
			t.Fatalf("metric = %v", got)
		}
	})
	t.Run("per IP behind a trusted proxy", func(t *testing.T) {
		e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.MaxConnectionsPerIP = 1; s.TrustProxyHeaders = true })
		for i, ip := range []string{"203.0.113.1", "203.0.113.2", "spoofed, 203.0.113.3"} {
			h := http.Header{"X-Forwarded-For": {ip}}
			if _, st := dialStatus(t, e, h); st != http.StatusSwitchingProtocols {
				t.Fatalf("client %d: status %d", i, st)
			}
		}
		if _, st := dialStatus(t, e, http.Header{"X-Forwarded-For": {"203.0.113.3"}}); st != http.StatusTooManyRequests {
			t.Fatalf("second connection of 203.0.113.3: status %d", st)
		}
	})
	t.Run("global", func(t *testing.T) {
		e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.MaxConnections = 2 })
		a := e.connect(t, "u1", "r1")
		e.connect(t, "u2", "r2")
		if _, st := dialStatus(t, e, nil); st != http.StatusServiceUnavailable {
			t.Fatalf("connection over the global cap: status %d, want 503", st)
		}
		a.conn.Close()
		testutil.WaitFor(t, "a slot", func() bool { return e.h.Len() == 1 })
		e.connect(t, "u3", "r3")
	})
	t.Run("per user", func(t *testing.T) {
		e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.MaxConnectionsPerUser = 1 })
		e.connect(t, "u1", "r1")
		c := e.dial(t, nil)
		c.send(&protocol.Hello{ProtocolVersion: 1, Token: "u1", ReplicaID: "r2"})
		if er := c.expect(protocol.FrameError).(*protocol.Error); er.Code != protocol.CodeOverloaded || !er.Retryable {
			t.Fatalf("error = %+v", er)
		}
		if got := c.expectClose(); got != int(protocol.CloseOverloaded) {
			t.Fatalf("close = %d, want 4005", got)
		}
		e.connect(t, "u2", "r3") // another user is unaffected
	})
}

func TestFloodIsThrottled(t *testing.T) {
	// The flooder does not read while it sends, so on a loaded machine its
	// 300 acks could fill the default 256-frame queue and close it as a slow
	// consumer (4000) first; this test is about the rate limit.
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.MaxQueueFrames = 4096 })
	flooder := e.connect(t, "flood:F", "rep-f")
	victim := e.connect(t, "victim:V", "rep-v")
	flooder.join("wf", "")
	victim.join("wf", "")

	// 400 deltas as fast as the socket takes them: the burst (200) passes,
	// then RATE_LIMITED nacks, and after 100 refusals the session is
	// closed with 4006.
	raws := make([][]byte, 400)
	for i := range raws {
		raws[i] = flooder.edit(addBlock(fmt.Sprintf("f%d", i), fmt.Sprintf("Flood %d", i)))
	}
	for _, raw := range raws {
		flooder.sendDelta("wf", raw)
	}
	// Meanwhile the victim's edits are applied promptly: ahead of its delta
	// the room merges at most the flood's burst (plus what the bucket refills
	// while the flood is read), never the whole flood. Counted in relays the
	// victim receives before its Applied, so that the check does not depend
	// on how fast a loaded machine runs.
	vop := victim.sendDelta("wf", victim.edit(addBlock("v1", "Victim")))
	ahead := 0
	for done := false; !done; {
		f, err := victim.next()
		if err != nil {
			t.Fatalf("victim waiting for Applied %s: %v", vop, err)
		}
		victim.absorb(f)
		switch f := f.(type) {
		case *protocol.RemoteDelta:
			ahead++
		case *protocol.Applied:
			done = f.OpID == vop
		case *protocol.Nack:
			if f.OpID == vop {
				t.Fatalf("victim's op nacked: %s %s", f.Code, f.Message)
			}
		}
	}
	if ahead > session.DefaultFrameBurst+50 {
		t.Fatalf("%d flood deltas were relayed ahead of the victim's; the burst is %d", ahead, session.DefaultFrameBurst)
	}

	var applied, limited int
	code := 0
	for code == 0 {
		_ = flooder.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := flooder.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("flooder: %v", err)
			}
			code = ce.Code
			break
		}
		f, err := protocol.Decode(b, protocol.Limits{MaxFrameBytes: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		switch f := f.(type) {
		case *protocol.Applied:
			applied++
		case *protocol.Nack:
			if f.Code != protocol.CodeRateLimited || !f.Retryable {
				t.Fatalf("nack %+v", f)
			}
			limited++
		}
	}
	if code != int(protocol.CloseRateLimited) {
		t.Fatalf("flooder closed with %d, want 4006", code)
	}
	// Applied acks come from the room loop and may be queued only after the
	// close (then they are dropped: with one CPU none arrive), so only the
	// nacks, which the reader queues itself, are counted exactly; the merged
	// burst is checked on the room's document below.
	if limited != session.DefaultMaxRateLimitRefusals {
		t.Fatalf("flooder: %d applied, %d rate-limited", applied, limited)
	}
	snap, err := e.reg.Room("wf").Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	flood := 0
	for id := range snap.View().Blocks {
		if strings.HasPrefix(id, "f") {
			flood++
		}
	}
	if flood < session.DefaultFrameBurst-5 || flood > session.DefaultFrameBurst+50 {
		t.Fatalf("%d flood deltas merged; the burst is %d", flood, session.DefaultFrameBurst)
	}
	if got := counterValue(e.metrics.LimitRefusals.WithLabelValues("frame_rate")); got < 100 {
		t.Fatalf("frame_rate refusals metric = %v", got)
	}
	// The victim is still served.
	vop = victim.sendDelta("wf", victim.edit(addBlock("v2", "Victim 2")))
	expectApplied(victim, vop)
}

func invalidTotal(m *session.Metrics) float64 { return counterValue(m.InvalidFrames) }

// counterValue sums the counters c collects.
func counterValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var sum float64
	for mt := range ch {
		var pb dto.Metric
		_ = mt.Write(&pb)
		sum += pb.GetCounter().GetValue()
	}
	return sum
}

// TestHostileInputPack replays, at the session layer, inputs that crashed or
// exhausted other collaborative-editing servers: every input closes only
// its own connection, with the right code, and counts in the
// invalid-frames metric. (The deflate bomb does not apply: compression
// is off.)
func TestHostileInputPack(t *testing.T) {
	e := newEnv(t, nil)
	bystander := e.connect(t, "by:Bystander", "rep-by")
	bystander.join("wf", "")
	big := make([]byte, 100_000)
	for i := range big {
		big[i] = 0x91
	}
	cases := []struct {
		name   string
		authed bool // after a Hello (else as the first message)
		mt     int
		data   []byte
		raw    []byte // a raw websocket frame instead of a message
		close  int
	}{
		{name: "array32 claiming 4G elements", mt: websocket.BinaryMessage, data: []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, close: 4504},
		{name: "100k nested arrays", mt: websocket.BinaryMessage, data: big, close: 4504},
		{name: "truncated integer", mt: websocket.BinaryMessage, data: []byte{0x92, 0x01, 0xcd, 0x01}, close: 4504},
		{name: "plain text ping as binary", mt: websocket.BinaryMessage, data: []byte("ping"), close: 4504},
		{name: "text frame", mt: websocket.TextMessage, data: []byte("ping"), close: 4504},
		{name: "invalid UTF-8 text frame", mt: websocket.TextMessage, data: []byte{0xff, 0xfe, 0xc3, 0x28}, close: 4504},
		{name: "unknown frame type", mt: websocket.BinaryMessage, data: []byte{0x92, 0x3f, 0x80}, close: 4504},
		{name: "server frame type", mt: websocket.BinaryMessage, data: []byte{0x92, 0x40, 0x80}, close: 4504},
		// FIN + reserved opcode 0x3, masked, empty payload.
		{name: "unknown websocket opcode", raw: []byte{0x83, 0x80, 1, 2, 3, 4}, close: 1002},
		{name: "unknown websocket opcode after Hello", authed: true, raw: []byte{0x83, 0x80, 1, 2, 3, 4}, close: 1002},
		{name: "text frame after Hello", authed: true, mt: websocket.TextMessage, data: []byte("ping"), close: 4504},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := invalidTotal(e.metrics)
			var c *client
			if tc.authed {
				c = e.connect(t, fmt.Sprintf("h%d", i), fmt.Sprintf("rep-h%d", i))
			} else {
				c = e.dial(t, nil)
			}
			if tc.raw != nil {
				if _, err := c.conn.UnderlyingConn().Write(tc.raw); err != nil {
					t.Fatal(err)
				}
			} else if err := c.conn.WriteMessage(tc.mt, tc.data); err != nil {
				t.Fatal(err)
			}
			if got := c.expectClose(); got != tc.close {
				t.Fatalf("close = %d, want %d", got, tc.close)
			}
			testutil.WaitFor(t, "the metric", func() bool { return invalidTotal(e.metrics) > before })
		})
	}
	// Authenticated: one bad frame is answered, not fatal; ten are.
	c := e.connect(t, "h-many", "rep-many")
	for i := range 10 {
		c.sendRaw([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
		if i == 0 {
			if er := c.expect(protocol.FrameError).(*protocol.Error); er.Code != protocol.CodeInvalidFrame && er.Code != protocol.CodeTooLarge {
				t.Fatalf("error %+v", er)
			}
		}
	}
	if got := c.expectClose(); got != 4504 {
		t.Fatalf("close after 10 invalid frames = %d", got)
	}
	// The bystander never noticed.
	op := bystander.sendDelta("wf", bystander.edit(addBlock("b1", "Still here")))
	expectApplied(bystander, op)
	testutil.WaitFor(t, "the offenders to be gone", func() bool { return e.h.Len() == 1 })
}

// TestConnectionRateLimit: upgrade attempts past an address's burst get 429
// with Retry-After before the upgrade, counted in the metric; another
// address is not affected.
func TestConnectionRateLimit(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		s.ConnectionsPerMinutePerIP, s.ConnectionBurstPerIP, s.TrustProxyHeaders = 1, 2, true
	})
	a := http.Header{"X-Forwarded-For": {"203.0.113.1"}}
	for i := range 2 {
		conn, st := dialStatus(t, e, a)
		if st != http.StatusSwitchingProtocols {
			t.Fatalf("attempt %d within the burst: status %d", i, st)
		}
		conn.Close() // the rate counts attempts, not open connections
	}
	_, resp, err := websocket.DefaultDialer.Dial(e.url, a)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("attempt past the burst: %v %v, want 429", resp, err)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	if got := counterValue(e.metrics.LimitRefusals.WithLabelValues("connection_rate")); got != 1 {
		t.Fatalf("metric = %v", got)
	}
	if _, st := dialStatus(t, e, http.Header{"X-Forwarded-For": {"203.0.113.2"}}); st != http.StatusSwitchingProtocols {
		t.Fatalf("another address: status %d", st)
	}
}

// TestConnectionRateLimitOnByDefault: the zero Config limits the rate.
func TestConnectionRateLimitOnByDefault(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.ConnectionsPerMinutePerIP = 0 })
	for i := range session.DefaultConnectionBurstPerIP {
		conn, st := dialStatus(t, e, nil)
		if st != http.StatusSwitchingProtocols {
			t.Fatalf("attempt %d: status %d", i, st)
		}
		conn.Close()
	}
	if _, st := dialStatus(t, e, nil); st != http.StatusTooManyRequests {
		t.Fatalf("attempt %d: status %d, want 429", session.DefaultConnectionBurstPerIP+1, st)
	}
}
