package session

import (
	"fmt"
	"maps"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Wildcard is the Grants key (and the JWT roles key) that stands for every
// workflow.
const Wildcard = "*"

// Grants are a user's roles per workflow. The role for a workflow is its
// own entry when there is one, else All. An entry with the empty role
// denies the workflow even when All grants it (how a revocation under a
// wildcard is recorded). The zero Grants grants nothing.
//
// A Grants value is immutable once built: With returns a copy.
type Grants struct {
	// All is the role in every workflow without an entry ("*"); "" = none.
	All protocol.Role
	// Workflows maps a workflow id to its role; "" = no access.
	Workflows map[string]protocol.Role
}

// AllWorkflows grants role in every workflow.
func AllWorkflows(role protocol.Role) Grants { return Grants{All: role} }

// Role returns the role in workflowID, or "" for no access.
func (g Grants) Role(workflowID string) protocol.Role {
	if r, ok := g.Workflows[workflowID]; ok {
		return r
	}
	return g.All
}

// With returns a copy of g where workflowID (Wildcard: every workflow
// without an entry) has role ("" = no access).
func (g Grants) With(workflowID string, role protocol.Role) Grants {
	if workflowID == Wildcard {
		g.All = role
		return g
	}
	w := make(map[string]protocol.Role, len(g.Workflows)+1)
	maps.Copy(w, g.Workflows)
	w[workflowID] = role
	g.Workflows = w
	return g
}

// Empty reports whether g grants nothing at all.
func (g Grants) Empty() bool {
	if g.All != "" {
		return false
	}
	for _, r := range g.Workflows {
		if r != "" {
			return false
		}
	}
	return true
}

// MaxGrantWorkflows bounds the workflows one user's grants name (from the
// admin API; a token's roles are bounded by the token's 16 KiB): every
// live session of the user holds a copy.
const MaxGrantWorkflows = 10_000

// validate checks every role and workflow id, and the number of workflows.
func (g Grants) validate() error {
	if g.All != "" && !g.All.Valid() {
		return fmt.Errorf("%w: role %q", ErrInvalidGrants, g.All)
	}
	if len(g.Workflows) > MaxGrantWorkflows {
		return fmt.Errorf("%w: %d workflows (at most %d; use the \"*\" role for more)", ErrInvalidGrants, len(g.Workflows), MaxGrantWorkflows)
	}
	for wf, r := range g.Workflows {
		if wf == "" || len(wf) > protocol.MaxIDBytes {
			return fmt.Errorf("%w: workflow id of %d bytes", ErrInvalidGrants, len(wf))
		}
		if r != "" && !r.Valid() {
			return fmt.Errorf("%w: role %q", ErrInvalidGrants, r)
		}
	}
	return nil
}

// Principal is who a session is and what it may do, as an Authenticator
// established it.
type Principal struct {
	UserID string
	Name   string
	Avatar string // URL; may be empty
	// ReplicaID is the CRDT replica bound to the session (normally
	// Hello.rid); empty for a thin client.
	ReplicaID crdt.ReplicaID
	// Grants are the user's roles per workflow. A Join of a workflow
	// without a role is refused with ACCESS_DENIED.
	Grants Grants
	// IssuedAt is when the credentials were issued (JWT iat); zero if
	// unknown. Role changes made through Handler.SetRole or SetGrants
	// apply to sessions whose credentials are older than the change.
	IssuedAt time.Time
	// ExpiresAt is when the session must end (the token's exp plus the
	// leeway); zero means never. The session is then sent TOKEN_EXPIRED
	// and closed with 4004.
	ExpiresAt time.Time
}
