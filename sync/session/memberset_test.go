package session

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// memberSet behaves as a map by workflow id, below and past smallMemberSet.
func TestMemberSetMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ids := range []int{3, smallMemberSet, 3 * smallMemberSet} {
		var ms memberSet
		ref := map[string]*roomMember{}
		for step := 0; step < 2000; step++ {
			wf := fmt.Sprintf("wf-%d", rng.IntN(ids))
			switch rng.IntN(3) {
			case 0, 1:
				m := &roomMember{wf: wf}
				ms.put(m)
				ref[wf] = m
			case 2:
				ms.remove(wf)
				delete(ref, wf)
			}
			for i := range ids {
				id := fmt.Sprintf("wf-%d", i)
				if got, want := ms.get(id), ref[id]; got != want {
					t.Fatalf("ids %d step %d: get(%s) = %p, want %p", ids, step, id, got, want)
				}
			}
			list := ms.list()
			if len(list) != len(ref) {
				t.Fatalf("ids %d step %d: list has %d, want %d", ids, step, len(list), len(ref))
			}
			slices.SortFunc(list, func(a, b *roomMember) int { return strings.Compare(a.wf, b.wf) })
			for i := 1; i < len(list); i++ {
				if list[i].wf == list[i-1].wf {
					t.Fatalf("ids %d step %d: %s listed twice", ids, step, list[i].wf)
				}
			}
		}
	}
}
