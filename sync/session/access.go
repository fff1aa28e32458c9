package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
)

// grantChange is a role change made on the server (SetRole or SetGrants).
// It is remembered for GrantOverrideTTL so that a new session whose
// credentials predate it gets it too: reconnecting with an old token does
// not undo a revocation.
type grantChange struct {
	at      time.Time
	replace *Grants       // SetGrants: the whole grants
	wf      string        // SetRole: the workflow (Wildcard: every workflow)
	role    protocol.Role // SetRole: the role ("" = no access)
}

func (c grantChange) apply(g Grants) Grants {
	if c.replace != nil {
		return *c.replace
	}
	return g.With(c.wf, c.role)
}

// ErrUnknownUser is returned by SetRole and SetGrants with an empty user
// id.
var ErrUnknownUser = errors.New("session: empty user id")

// SetRole changes userID's role in workflowID ("" revokes access; the
// workflow id Wildcard sets the role of every workflow without its own
// entry) on every live session of that user, and on sessions the user
// opens later with credentials issued before now (for GrantOverrideTTL).
//
// On each live session of the user:
//   - a joined workflow the user lost access to is left: the session gets
//     Event{kind: access-revoked} and no further frame of that room, its
//     frames for the workflow are refused with NOT_JOINED, and a new Join
//     with ACCESS_DENIED; the session stays open for its other rooms;
//   - a joined workflow whose role changed is re-joined with the new role:
//     the session gets Joined (with the new role) and a full catch-up;
//   - Joins from now on get the new role.
//
// Deltas and operations are checked against the new role from the moment
// SetRole is called. SetRole returns the number of live sessions of the
// user. It may block while the rooms concerned process the change and the
// catch-ups are queued, until ctx ends; the change itself is recorded
// before it blocks. Safe for concurrent use.
func (h *Handler) SetRole(ctx context.Context, userID, workflowID string, role protocol.Role) (int, error) {
	if role != "" && !role.Valid() {
		return 0, fmt.Errorf("%w: role %q", ErrInvalidGrants, role)
	}
	if workflowID == "" || len(workflowID) > protocol.MaxIDBytes {
		return 0, fmt.Errorf("%w: workflow id of %d bytes", ErrInvalidGrants, len(workflowID))
	}
	return h.change(ctx, userID, grantChange{wf: workflowID, role: role})
}

// SetGrants replaces userID's grants, with the same effects as SetRole on
// every workflow whose role changes.
func (h *Handler) SetGrants(ctx context.Context, userID string, g Grants) (int, error) {
	if err := g.validate(); err != nil {
		return 0, err
	}
	g.Workflows = maps.Clone(g.Workflows)
	return h.change(ctx, userID, grantChange{replace: &g})
}

func (h *Handler) change(ctx context.Context, userID string, c grantChange) (int, error) {
	if userID == "" {
		return 0, ErrUnknownUser
	}
	h.mu.Lock()
	c.at = h.cfg.Now()
	h.pruneOverridesLocked(c.at)
	h.overrides[userID] = append(h.overrides[userID], c)
	live := make([]*session, 0, len(h.byUser[userID]))
	for _, s := range h.byUser[userID] {
		// Under h.mu, so that two changes reach every session in the
		// order they were recorded.
		s.accessMu.Lock()
		s.grants = c.apply(s.grants)
		s.accessMu.Unlock()
		live = append(live, s)
	}
	h.mu.Unlock()
	var err error
	for _, s := range live {
		if !s.reconcile(ctx) && err == nil {
			err = fmt.Errorf("session: role change: %w", ctx.Err())
		}
	}
	return len(live), err
}

// pruneOverridesLocked forgets the changes older than GrantOverrideTTL.
func (h *Handler) pruneOverridesLocked(now time.Time) {
	for u, cs := range h.overrides {
		cs = slices.DeleteFunc(cs, func(c grantChange) bool { return now.Sub(c.at) > h.cfg.GrantOverrideTTL })
		if len(cs) == 0 {
			delete(h.overrides, u)
		} else {
			h.overrides[u] = cs
		}
	}
}

// register counts an authenticated session against MaxConnectionsPerUser
// and applies the role changes made after its credentials were issued
// (all of them when the issue time is unknown). It returns false when the
// user is at the cap.
func (h *Handler) register(s *session) bool {
	uid := s.principal.UserID
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.cfg.MaxConnectionsPerUser; c > 0 && len(h.byUser[uid]) >= c {
		h.metrics.refused(limitConnectionsPerUser)
		return false
	}
	g := s.principal.Grants
	now := h.cfg.Now()
	for _, c := range h.overrides[uid] {
		if now.Sub(c.at) <= h.cfg.GrantOverrideTTL && (s.principal.IssuedAt.IsZero() || s.principal.IssuedAt.Before(c.at)) {
			g = c.apply(g)
		}
	}
	s.accessMu.Lock()
	s.grants = g
	s.accessMu.Unlock()
	h.byUser[uid] = append(h.byUser[uid], s)
	return true
}

func (h *Handler) unregister(s *session) {
	uid := s.principal.UserID
	h.mu.Lock()
	defer h.mu.Unlock()
	live := h.byUser[uid]
	if i := slices.Index(live, s); i >= 0 {
		live[i] = live[len(live)-1]
		live[len(live)-1] = nil
		if live = live[:len(live)-1]; len(live) == 0 {
			delete(h.byUser, uid)
		} else {
			h.byUser[uid] = live
		}
	}
}
