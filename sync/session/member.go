package session

import (
	"context"
	"sync/atomic"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
)

// roomMember is a session's membership of one workflow room: the
// rooms.Member the room sees, whose Identity carries the session's role in
// that workflow. One roomMember lives as long as the membership (the
// client's re-Joins reuse it, so the room replaces the entry in place and
// pending Durable acks still reach it).
type roomMember struct {
	// Static after construction.
	s  *session
	wf string

	// Written under s.memberMu; ident is read by the room loop at Join.
	rm    *rooms.Room
	tab   string
	ident atomic.Pointer[rooms.Identity]

	revoked bool // guarded by s.mu: frames from the room are dropped
}

var _ rooms.Member = (*roomMember)(nil)

func (s *session) newMember(wf string, role protocol.Role) *roomMember {
	m := &roomMember{s: s, wf: wf}
	m.setRole(role)
	return m
}

// setRole sets the identity the room takes at the next Join. The room
// reads Identity only when it handles a Join, so the change applies with
// the re-Join that follows it.
func (m *roomMember) setRole(role protocol.Role) {
	p := &m.s.principal
	m.ident.Store(&rooms.Identity{UserID: p.UserID, Name: p.Name, Avatar: p.Avatar, ReplicaID: p.ReplicaID, Role: role})
}

func (m *roomMember) role() protocol.Role { return m.ident.Load().Role }

// SessionID implements rooms.Member.
func (m *roomMember) SessionID() string { return m.s.id }

// Identity implements rooms.Member.
func (m *roomMember) Identity() rooms.Identity { return *m.ident.Load() }

// Enqueue implements rooms.Member. After a revocation it drops the room's
// frames (the access-revoked Event was the last frame of the room).
func (m *roomMember) Enqueue(frame []byte) bool { return m.s.enqueue(m, frame) }

// EnqueueReply implements rooms.Member (see session.enqueueReply).
func (m *roomMember) EnqueueReply(reply [][]byte) bool { return m.s.enqueueReply(m, reply) }

// Close implements rooms.Member: the room closes the whole session.
func (m *roomMember) Close(code protocol.CloseCode, reason string) { m.s.Close(code, reason) }

// role returns the session's current role in wf ("" = no access).
func (s *session) role(wf string) protocol.Role {
	s.accessMu.Lock()
	defer s.accessMu.Unlock()
	return s.grants.Role(wf)
}

// member returns the membership of wf, or nil.
func (s *session) member(wf string) *roomMember {
	s.memberMu.Lock()
	defer s.memberMu.Unlock()
	return s.members.get(wf)
}

// join handles a Join frame: the role comes from the session's grants
// (none: ACCESS_DENIED), then the room queues Joined and the catch-up.
//
// memberMu is not held while the room handles the Join: the first Join of
// a room waits for its load (up to rooms.Config.LoadTimeout), and a role
// change or the end of the session must not wait for that. A role change
// that comes meanwhile is seen after the room answered, and the Join is made
// again with the new role (or refused, for a revocation).
func (s *session) join(ctx context.Context, f *protocol.Join) {
	wf := f.WorkflowID
	refuse := func(code protocol.Code, format string, args ...any) {
		e := protocol.NewError(code, format, args...)
		e.WorkflowID = wf
		s.send(e)
	}
	have := crdt.NewContext()
	if len(f.Context) > 0 {
		d, err := workflow.Decode(f.Context, workflow.DeltaLimits)
		if err != nil {
			refuse(protocol.CodeFor(err), "ctx: %v", err)
			return
		}
		have = d.Context()
	}
	opts := rooms.JoinOptions{Have: have, TabSessionID: f.TabSessionID}
	// reserved: a slot of the room caps is held for a new membership;
	// it is given back unless the membership is kept.
	reserved, kept := false, false
	defer func() {
		if reserved && !kept {
			s.h.releaseRoom(s.principal.UserID)
		}
	}()
	for {
		s.memberMu.Lock()
		role := s.role(wf)
		if role == "" || s.ended {
			s.memberMu.Unlock()
			if role == "" {
				s.logger().Info("join refused", "workflow", wf, "code", protocol.CodeAccessDenied)
				refuse(protocol.CodeAccessDenied, "no access to workflow %q", wf)
			}
			return
		}
		m := s.members.get(wf)
		if m == nil && !reserved {
			if e := s.reserveRoomLocked(); e != nil {
				s.memberMu.Unlock()
				s.logger().Info("join refused", "workflow", wf, "code", e.Code)
				refuse(e.Code, "%s", e.Message)
				return
			}
			reserved = true
		}
		if m == nil {
			m = s.newMember(wf, role)
		} else if m.role() != role {
			m.setRole(role)
		}
		m.tab = f.TabSessionID
		s.memberMu.Unlock()

		rm, err := s.h.rooms.Join(ctx, wf, m, opts)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			code := rooms.ErrorCode(err)
			s.logger().Info("join refused", "workflow", wf, "code", code, "err", err)
			refuse(code, "%v", err)
			return
		}
		s.memberMu.Lock()
		settled := !s.ended && s.role(wf) == m.role() && !s.isRevoked(m)
		if settled {
			m.rm = rm
			kept = kept || (reserved && s.members.get(wf) == nil)
			s.members.put(m)
		}
		s.memberMu.Unlock()
		if settled {
			break
		}
		rm.Leave(m)
	}
	// Read on once the catch-up is under way (see awaitBacklog).
	s.awaitBacklog(ctx)
}

func (s *session) isRevoked(m *roomMember) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return m.revoked
}

// leave handles a Leave frame.
func (s *session) leave(wf string) {
	s.memberMu.Lock()
	defer s.memberMu.Unlock()
	if m := s.members.get(wf); m != nil {
		s.forgetLocked(wf)
		m.rm.Leave(m)
	}
}

// leaveAll ends every membership when the session ends; no membership
// starts after it.
func (s *session) leaveAll() {
	s.memberMu.Lock()
	defer s.memberMu.Unlock()
	s.ended = true
	for _, m := range s.members.list() {
		s.forgetLocked(m.wf)
		m.rm.Leave(m)
	}
}

// reconcile brings the session's memberships in line with its grants: a
// workflow it lost access to is left (Event access-revoked; the session
// stays open for its other rooms), one whose role changed is re-joined
// with the new role (the room sends Joined with it, and a full catch-up,
// which the client merges idempotently). As in join, memberMu is not held
// while a room handles a re-join. It returns false if ctx ended while a
// catch-up was waiting to be sent.
func (s *session) reconcile(ctx context.Context) bool {
	type rejoin struct {
		m   *roomMember
		tab string
	}
	var rejoins []rejoin
	s.memberMu.Lock()
	if s.ended {
		s.memberMu.Unlock()
		return true
	}
	for _, m := range s.members.list() {
		wf := m.wf
		want := s.role(wf)
		switch {
		case want == "":
			s.forgetLocked(wf)
			s.revoke(m)
		case want != m.role():
			m.setRole(want)
			rejoins = append(rejoins, rejoin{m, m.tab})
		}
	}
	s.memberMu.Unlock()
	for _, j := range rejoins {
		m := j.m
		rm, err := s.h.rooms.Join(ctx, m.wf, m, rooms.JoinOptions{TabSessionID: j.tab})
		s.memberMu.Lock()
		current := s.members.get(m.wf) == m
		switch {
		case err != nil && current:
			// The room is closing or the store failed: the client
			// re-joins after the Error, with its new role.
			s.forgetLocked(m.wf)
			m.rm.Leave(m)
			e := protocol.NewError(rooms.ErrorCode(err), "re-join with a changed role failed: %v", err)
			e.WorkflowID = m.wf
			s.send(e)
		case err == nil && current:
			m.rm = rm
			s.h.metrics.roleChanged()
			s.logger().Info("role changed on a live session", "workflow", m.wf, "role", m.role())
		case err == nil:
			// Left or revoked while the room handled the re-join: leave
			// again, after it.
			rm.Leave(m)
		}
		s.memberMu.Unlock()
	}
	if len(rejoins) > 0 && !s.awaitBacklog(ctx) {
		return ctx.Err() == nil
	}
	return true
}

// revoke ends m after a revocation. Called with memberMu held.
func (s *session) revoke(m *roomMember) {
	s.mu.Lock()
	m.revoked = true // no frame of the room after the Event below
	s.dropStableLocked(m)
	dropped := s.dropBacklogLocked(m)
	s.mu.Unlock()
	s.h.metrics.queued(-dropped)
	m.rm.Leave(m)
	s.h.metrics.revoked()
	s.logger().Info("access revoked on a live session", "workflow", m.wf)
	s.send(&protocol.Event{WorkflowID: m.wf, Kind: protocol.EventAccessRevoked,
		Message: "Access to this workflow has been revoked", TimestampMs: s.h.cfg.Now().UnixMilli()})
}
