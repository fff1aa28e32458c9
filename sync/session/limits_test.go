package session_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// expectErrorFor reads c's frames until an Error about wf arrives, and
// returns it.
func expectErrorFor(c *client, wf string) *protocol.Error {
	c.t.Helper()
	return c.expectWhere(protocol.FrameError, func(f protocol.Frame) bool {
		return f.(*protocol.Error).WorkflowID == wf
	}).(*protocol.Error)
}

// closeCode returns the close code err carries, failing t when it is not a
// close.
func closeCode(t *testing.T, err error) int {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("connection ended without a close frame: %v", err)
	}
	return ce.Code
}

// A flood of Presence frames is cut like a flood of edits: the frames the
// rate limit drops count toward MaxRateLimitRefusals, then close 4006.
func TestPresenceFloodClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, func(s *session.Config, _ *rooms.Config) { s.FrameBurst = 20; s.FramesPerSecond = 10 })
		a := e.connect(t, "ua:A", "rep-a")
		b := e.connect(t, "ub:B", "rep-b")
		a.join("wf", "")
		b.join("wf", "")
		go func() {
			for i := range 300 {
				b, _ := protocol.Encode(&protocol.Presence{WorkflowID: "wf", Cursor: &protocol.Point{X: float64(i), Y: 1}})
				if a.conn.WriteMessage(2, b) != nil {
					return // closed
				}
			}
		}()
		var answered []protocol.Frame
		code := 0
		for code == 0 {
			f, err := a.next()
			if err != nil {
				code = closeCode(t, err)
				break
			}
			if f.Type() == protocol.FrameError || f.Type() == protocol.FrameNack {
				answered = append(answered, f)
			}
		}
		if code != int(protocol.CloseRateLimited) {
			t.Fatalf("presence flood closed with %d, want 4006", code)
		}
		if len(answered) > 0 {
			t.Fatalf("dropped presence frames were answered: %+v", answered)
		}
		if n := counterValue(e.metrics.EphemeralDropped); n != session.DefaultMaxRateLimitRefusals {
			t.Fatalf("%v presence frames dropped before the close, want %d", n, session.DefaultMaxRateLimitRefusals)
		}
		synctest.Wait()
		if e.h.Len() != 1 {
			t.Fatalf("%d sessions left, want the bystander alone", e.h.Len())
		}
	})
}

// Each dropped Drag counts as one refusal: one short of the limit keeps the
// session, the next one closes it.
func TestDroppedDragCountsTowardRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const burst, refusals = 5, 8
		e := newBubbleEnv(t, func(s *session.Config, _ *rooms.Config) {
			s.FrameBurst, s.FramesPerSecond, s.MaxRateLimitRefusals = burst, 1, refusals
		})
		a := e.connect(t, "ua:A", "rep-a")
		a.join("wf", "")
		drag := &protocol.Drag{WorkflowID: "wf", Positions: map[string]protocol.Point{"b1": {X: 1, Y: 2}}}
		// The Join took one token: burst-1 pass, then refusals-1 drops.
		for range burst - 1 + refusals - 1 {
			a.send(drag)
		}
		synctest.Wait()
		if e.h.Len() != 1 {
			t.Fatal("closed before the refusal limit")
		}
		a.send(drag)
		if got := a.expectClose(); got != int(protocol.CloseRateLimited) {
			t.Fatalf("close = %d, want 4006", got)
		}
	})
}

func TestRoomsPerSessionCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, func(s *session.Config, _ *rooms.Config) { s.MaxRoomsPerSession = 2 })
		a := e.connect(t, "ua:A", "rep-a")
		a.join("wf-1", "")
		a.join("wf-2", "")
		a.join("wf-2", "") // a re-join takes no new slot
		a.send(&protocol.Join{WorkflowID: "wf-3"})
		er := expectErrorFor(a, "wf-3")
		if er.Code != protocol.CodeTooManyRooms || er.Retryable {
			t.Fatalf("third room: %+v", er)
		}
		synctest.Wait()
		if e.reg.Room("wf-3") != nil {
			t.Fatal("the refused join opened a room")
		}
		a.send(&protocol.Leave{WorkflowID: "wf-1"})
		a.join("wf-3", "") // the Leave freed the slot
	})
}

func TestRoomsPerUserCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, func(s *session.Config, _ *rooms.Config) { s.MaxRoomsPerUser = 3 })
		a1 := e.connect(t, "ua:A", "rep-a1")
		a2 := e.connect(t, "ua:A", "rep-a2")
		a1.join("wf-1", "")
		a1.join("wf-2", "")
		a2.join("wf-1", "")
		a2.send(&protocol.Join{WorkflowID: "wf-3"})
		if er := expectErrorFor(a2, "wf-3"); er.Code != protocol.CodeTooManyRooms {
			t.Fatalf("fourth room of the user: %+v", er)
		}
		e.connect(t, "ub:B", "rep-b").join("wf-3", "") // another user is unaffected
		a1.conn.Close()                                // a session's end frees its rooms
		synctest.Wait()
		a2.join("wf-3", "")
	})
}

// A read role may not Drag: PERMISSION_DENIED, and nothing is relayed.
func TestReadRoleDragRefused(t *testing.T) {
	e := newJWTEnv(t, nil)
	reader := e.connect(t, sign(t, claims("reader", map[string]protocol.Role{"wf": protocol.RoleRead}), "", testSecret), "rep-r")
	writer := e.connect(t, sign(t, claims("writer", map[string]protocol.Role{"wf": protocol.RoleWrite}), "", testSecret), "rep-w")
	reader.join("wf", "")
	writer.join("wf", "")
	reader.send(&protocol.Drag{WorkflowID: "wf", Positions: map[string]protocol.Point{"b1": {X: 5, Y: 6}}})
	if er := expectErrorFor(reader, "wf"); er.Code != protocol.CodePermissionDenied || er.Retryable {
		t.Fatalf("reader drag: %+v", er)
	}
	// Presence stays allowed; it is relayed after the refused Drag, so a
	// relayed Drag would have come first.
	reader.send(&protocol.Presence{WorkflowID: "wf", Cursor: &protocol.Point{X: 1, Y: 2}})
	for {
		f, err := writer.next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Type() == protocol.FrameDragUpdate {
			t.Fatalf("the reader's drag was relayed: %+v", f)
		}
		if f.Type() == protocol.FramePresenceUpdate {
			break
		}
	}
}

func TestOversizedDragRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil)
		a := e.connect(t, "ua:A", "rep-a")
		b := e.connect(t, "ub:B", "rep-b")
		a.join("wf", "")
		b.join("wf", "")
		big := make(map[string]protocol.Point, protocol.MaxDragBlocks+1)
		for i := range protocol.MaxDragBlocks + 1 {
			big[fmt.Sprintf("b%d", i)] = protocol.Point{X: 1, Y: 1}
		}
		a.send(&protocol.Drag{WorkflowID: "wf", Positions: big})
		if er := expectErrorFor(a, "wf"); er.Code != protocol.CodeTooLarge {
			t.Fatalf("drag of %d blocks: %+v", len(big), er)
		}
		// Under the id bound but over the byte bound: long ids.
		long := make(map[string]protocol.Point, 600)
		for i := range 600 {
			long[fmt.Sprintf("%0250d", i)] = protocol.Point{X: 1, Y: 1}
		}
		a.send(&protocol.Drag{WorkflowID: "wf", Positions: long})
		if er := expectErrorFor(a, "wf"); er.Code != protocol.CodeTooLarge {
			t.Fatalf("drag of %d long ids: %+v", len(long), er)
		}
		// Over the byte bound, for a workflow not joined: NOT_JOINED, as
		// for any frame (the oversized Drag is answered from a scan).
		a.send(&protocol.Drag{WorkflowID: "elsewhere", Positions: long})
		if er := expectErrorFor(a, "elsewhere"); er.Code != protocol.CodeNotJoined {
			t.Fatalf("oversized drag for a workflow not joined: %+v", er)
		}
		delete(big, "b0")
		a.send(&protocol.Drag{WorkflowID: "wf", Positions: big}) // at the bound: relayed
		for {
			f := b.expect(protocol.FrameDragUpdate).(*protocol.DragUpdate)
			if len(f.Positions) != protocol.MaxDragBlocks {
				t.Fatalf("relayed a drag of %d blocks", len(f.Positions))
			}
			break
		}
	})
}

// helloRaw encodes a Hello by hand: protocol.Encode refuses a token over
// protocol.MaxTokenBytes.
func helloRaw(token string) []byte {
	b := []byte{0x92, 0x01, 0x82, 0xa1, 'v', 0x01, 0xa3, 't', 'o', 'k', 0xda, 0, 0}
	binary.BigEndian.PutUint16(b[len(b)-2:], uint16(len(token)))
	return append(b, token...)
}

// acceptAll authenticates every token as user "u".
type acceptAll struct{}

func (acceptAll) Authenticate(context.Context, *protocol.Hello, *http.Request) (session.Principal, error) {
	return session.Principal{UserID: "u", Grants: session.AllWorkflows(protocol.RoleRead)}, nil
}

func TestLongTokenAuthenticationFailed(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t, nil)
	c.sendRaw(helloRaw("u:" + strings.Repeat("x", 17<<10)))
	if er := c.expect(protocol.FrameError).(*protocol.Error); er.Code != protocol.CodeAuthenticationFailed {
		t.Fatalf("17 KiB token: %+v", er)
	}
	if got := c.expectClose(); got != int(protocol.CloseAuthenticationFailed) {
		t.Fatalf("close = %d, want 4500", got)
	}
	// At the bound the token reaches the authenticator.
	e = newEnvAuth(t, acceptAll{}, nil)
	ok := e.dial(t, nil)
	ok.sendRaw(helloRaw("u:" + strings.Repeat("x", protocol.MaxTokenBytes-2)))
	ok.expect(protocol.FrameWelcome)
}

// aud follows RFC 7519 §4.1.3: a string equal to the audience, or an array
// of strings that contains it (golang-jwt's RegisteredClaims writes an
// array); an array without it, or another JSON type, is refused.
func TestAudienceForms(t *testing.T) {
	e := newJWTEnv(t, nil)
	now := time.Now()
	token := func(aud any) string {
		return sign(t, jwt.MapClaims{"sub": "u1", "aud": aud, "iss": "app",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": map[string]string{"wf": "write"}}, "", testSecret)
	}
	for _, aud := range []any{[]string{"other"}, []string{}, 7, map[string]string{"a": testAudience}, "other"} {
		c := e.dial(t, nil)
		c.send(&protocol.Hello{ProtocolVersion: 1, Token: token(aud), ReplicaID: "rep"})
		if er := c.expect(protocol.FrameError).(*protocol.Error); er.Code != protocol.CodeAuthenticationFailed {
			t.Fatalf("aud %v: %+v", aud, er)
		}
		if got := c.expectClose(); got != int(protocol.CloseAuthenticationFailed) {
			t.Fatalf("aud %v: close = %d, want 4500", aud, got)
		}
	}
	e.connect(t, token(testAudience), "rep-s")
	e.connect(t, token([]string{"other", testAudience}), "rep-a")
	e.connect(t, token(jwt.ClaimStrings{testAudience}), "rep-c")
}

// A Join whose ctx does not decode gets INVALID_DELTA (the code of an
// undecodable workflow encoding), which PROTOCOL.md lists for Join.
func TestJoinBadContextCode(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	a.send(&protocol.Join{WorkflowID: "wf", Context: []byte{0x01, 0x93, 0xff}})
	er := expectErrorFor(a, "wf")
	if er.Code != protocol.CodeInvalidDelta || er.Retryable {
		t.Fatalf("join with a bad ctx: %+v", er)
	}
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	i := strings.Index(text, "A refused join gets `Error{wf, code}`")
	if i < 0 {
		t.Fatal("PROTOCOL.md §3 no longer lists the Join refusals")
	}
	if list := text[i : i+400]; !strings.Contains(list, "`INVALID_DELTA`") || !strings.Contains(list, "`TOO_MANY_ROOMS`") {
		t.Fatalf("PROTOCOL.md's list of Join refusals lacks INVALID_DELTA or TOO_MANY_ROOMS: %s", list)
	}
}

func TestUnknownWorkflowRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, func(_ *session.Config, r *rooms.Config) { r.RequireExisting = true })
		a := e.connect(t, "ua:A", "rep-a")
		a.send(&protocol.Join{WorkflowID: "nope"})
		if er := expectErrorFor(a, "nope"); er.Code != protocol.CodeUnknownWorkflow || er.Retryable {
			t.Fatalf("join of a workflow never created: %+v", er)
		}
		synctest.Wait()
		if e.reg.Len() != 0 {
			t.Fatalf("%d rooms live after the refusal", e.reg.Len())
		}
		if err := e.reg.CreateWorkflow(t.Context(), "nope"); err != nil {
			t.Fatal(err)
		}
		a.join("nope", "")
		// A workflow written before (no Create) exists too.
		a.sendDelta("nope", a.edit(addBlock("b1", "B")))
		a.expect(protocol.FrameDurable)
	})
}

// The HLC wall time of an edit may trail the server clock by
// rooms.DefaultMaxClockLag (400 days): a month-old offline edit is taken,
// one two years old is refused (CLOCK_SKEW, final).
func TestClockLagBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil)
		a := e.connect(t, "ua:A", "rep-a")
		a.join("wf", "")
		a.wall = time.Now().Add(-2 * 365 * 24 * time.Hour).UnixMilli()
		op := a.sendDelta("wf", a.edit(addBlock("old", "Two years old")))
		if n := nackFor(a, op); n.Code != protocol.CodeClockSkew || n.Retryable {
			t.Fatalf("a delta two years behind: %+v", n)
		}
		a.wall = time.Now().Add(-30 * 24 * time.Hour).UnixMilli()
		op = a.sendDelta("wf", a.edit(addBlock("month", "A month old")))
		expectApplied(a, op)
		snap, err := e.reg.Room("wf").Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if v := snap.View(); v.Blocks["old"] != nil || v.Blocks["month"] == nil {
			t.Fatalf("blocks after the two edits: %v", v.Blocks)
		}
	})
}

// A room takes rooms.Config.MaxMembers sessions; the next Join gets the
// retryable OVERLOADED, a re-join of a member is not refused.
func TestRoomMemberCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, func(_ *session.Config, r *rooms.Config) { r.MaxMembers = 2 })
		a := e.connect(t, "ua:A", "rep-a")
		b := e.connect(t, "ub:B", "rep-b")
		c := e.connect(t, "uc:C", "rep-c")
		a.join("wf", "")
		b.join("wf", "")
		c.send(&protocol.Join{WorkflowID: "wf"})
		if er := expectErrorFor(c, "wf"); er.Code != protocol.CodeOverloaded || !er.Retryable {
			t.Fatalf("third member: %+v", er)
		}
		b.join("wf", "") // a re-join
		a.send(&protocol.Leave{WorkflowID: "wf"})
		synctest.Wait()
		c.join("wf", "")
	})
}

func TestGrantsBounded(t *testing.T) {
	e := newEnv(t, nil)
	g := session.Grants{Workflows: make(map[string]protocol.Role, session.MaxGrantWorkflows+1)}
	for i := range session.MaxGrantWorkflows + 1 {
		g.Workflows[fmt.Sprintf("wf-%d", i)] = protocol.RoleRead
	}
	if _, err := e.h.SetGrants(t.Context(), "u1", g); !errors.Is(err, session.ErrInvalidGrants) {
		t.Fatalf("SetGrants of %d workflows: %v", len(g.Workflows), err)
	}
	delete(g.Workflows, "wf-0")
	if _, err := e.h.SetGrants(t.Context(), "u1", g); err != nil {
		t.Fatal(err)
	}
}
