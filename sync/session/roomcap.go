package session

import "github.com/flowsync/flowsync/sync/protocol"

// reserveRoomLocked counts a new membership against MaxRoomsPerSession and
// MaxRoomsPerUser before the room is joined, so that a session cannot open
// rooms (a goroutine and a loaded document each) past its share. It
// returns the refusal (TOO_MANY_ROOMS), or nil; after nil the caller
// either keeps the membership (and calls forgetLocked when it ends) or
// calls h.releaseRoom. Called with memberMu held.
func (s *session) reserveRoomLocked() *protocol.Error {
	if c := s.h.cfg.MaxRoomsPerSession; c > 0 && s.members.len() >= c {
		s.h.metrics.refused(limitRoomsPerSession)
		return protocol.NewError(protocol.CodeTooManyRooms, "this session is in %d rooms, the most it may be in at once; leave one first", c)
	}
	if !s.h.reserveRoom(s.principal.UserID) {
		s.h.metrics.refused(limitRoomsPerUser)
		return protocol.NewError(protocol.CodeTooManyRooms, "this user's sessions are in %d rooms, the most they may be in at once; leave one first",
			s.h.cfg.MaxRoomsPerUser)
	}
	return nil
}

// forgetLocked ends the membership of wf in the session's books, freeing
// its slot. Called with memberMu held.
func (s *session) forgetLocked(wf string) {
	if s.members.get(wf) == nil {
		return
	}
	s.members.remove(wf)
	s.h.releaseRoom(s.principal.UserID)
}

// reserveRoom counts one more membership for uid; false at MaxRoomsPerUser.
func (h *Handler) reserveRoom(uid string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.cfg.MaxRoomsPerUser; c > 0 && h.userRooms[uid] >= c {
		return false
	}
	h.userRooms[uid]++
	return true
}

// releaseRoom gives back a membership reserveRoom counted.
func (h *Handler) releaseRoom(uid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.userRooms[uid]--; h.userRooms[uid] <= 0 {
		delete(h.userRooms, uid)
	}
}
