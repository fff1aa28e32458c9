package session

import "slices"

// memberSet holds a session's memberships by workflow id. Most sessions
// are in one room or a few, which a slice holds in a pointer each (a map
// costs every connection a couple of hundred bytes more, for as long as it
// is open); past smallMemberSet memberships it becomes a map, so that
// finding one stays cheap for a session in many rooms.
type memberSet struct {
	few  []*roomMember          // while many is nil
	many map[string]*roomMember // once the set outgrew few
}

const smallMemberSet = 8

func (ms *memberSet) get(wf string) *roomMember {
	if ms.many != nil {
		return ms.many[wf]
	}
	for _, m := range ms.few {
		if m.wf == wf {
			return m
		}
	}
	return nil
}

// put adds m, or replaces the membership of m.wf with it.
func (ms *memberSet) put(m *roomMember) {
	if ms.many != nil {
		ms.many[m.wf] = m
		return
	}
	for i, o := range ms.few {
		if o.wf == m.wf {
			ms.few[i] = m
			return
		}
	}
	if len(ms.few) < smallMemberSet {
		ms.few = append(ms.few, m)
		return
	}
	ms.many = make(map[string]*roomMember, 2*smallMemberSet)
	for _, o := range ms.few {
		ms.many[o.wf] = o
	}
	ms.many[m.wf] = m
	ms.few = nil
}

func (ms *memberSet) remove(wf string) {
	if ms.many != nil {
		delete(ms.many, wf)
		return
	}
	if i := slices.IndexFunc(ms.few, func(m *roomMember) bool { return m.wf == wf }); i >= 0 {
		last := len(ms.few) - 1
		ms.few[i], ms.few[last] = ms.few[last], nil
		if ms.few = ms.few[:last]; len(ms.few) == 0 {
			ms.few = nil
		}
	}
}

// len returns the number of memberships.
func (ms *memberSet) len() int {
	if ms.many != nil {
		return len(ms.many)
	}
	return len(ms.few)
}

// list returns the memberships, in no particular order, in a slice of its
// own (the caller may remove them while it goes through it).
func (ms *memberSet) list() []*roomMember {
	if ms.many != nil {
		out := make([]*roomMember, 0, len(ms.many))
		for _, m := range ms.many {
			out = append(out, m)
		}
		return out
	}
	return slices.Clone(ms.few)
}
