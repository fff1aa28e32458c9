package rooms

import "slices"

// noteDurable tells Config.OnDurable whose edits in batch, just written,
// are durable. Deltas merged from other nodes are left out: the node whose
// session or Apply made an edit reports it, so each edit is reported by
// one node.
func (rm *Room) noteDurable(batch []pendingDelta) {
	if rm.cfg.OnDurable == nil {
		return
	}
	var users []string
	for _, p := range batch {
		var u string
		switch {
		case p.m != nil:
			u = p.m.Identity().UserID
		case p.waiter != nil:
			u = p.waiter.user
		default:
			continue
		}
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	if len(users) > 0 {
		rm.cfg.OnDurable(rm.id, users)
	}
}
