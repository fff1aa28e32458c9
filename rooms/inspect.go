package rooms

import "slices"

// LiveWorkflows returns the ids of the live rooms (loaded, or loading),
// sorted. For the admin API's room list.
func (r *Registry) LiveWorkflows() []string {
	r.mu.Lock()
	out := make([]string, 0, len(r.rooms))
	for id := range r.rooms {
		out = append(out, id)
	}
	r.mu.Unlock()
	slices.Sort(out)
	return out
}
