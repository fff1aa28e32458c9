package text

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
)

// Run is a run of inserted items as deltas carry it: Len items with the
// consecutive dots ID, ID+1, … The first item's left origin is Left (the
// zero Dot: the start of the text), every other item's the item before it;
// every item's right origin is Right (the zero Dot: the end of the text).
// Text holds the items' code points, or is empty when every item of the run
// is deleted: deleted content is not kept, only the skeleton that orders
// later inserts.
type Run struct {
	ID    crdt.Dot
	Len   int
	Text  string
	Left  crdt.Dot
	Right crdt.Dot
}

// Delta is what one replica sends another: inserted runs and the dots of
// deleted items. A delta may be one edit or a whole state (DeltaSince).
type Delta struct {
	Runs    []Run
	Deleted []Dead
}

// Dead is a range of deleted items: the counters Lo..Hi of Replica. Merge
// takes them in any order; the encoding sorts and coalesces them.
type Dead struct {
	Replica crdt.ReplicaID
	crdt.Range
}

// IsEmpty reports whether d changes nothing.
func (d *Delta) IsEmpty() bool { return len(d.Runs) == 0 && len(d.Deleted) == 0 }

// deadContext returns ds as a context.
func deadContext(ds []Dead) *crdt.Context {
	c := crdt.NewContext()
	for _, x := range ds {
		c.AddRange(x.Replica, x.Range)
	}
	return c
}

// checkDead checks the deleted ranges of a delta.
func checkDead(ds []Dead) error {
	for _, x := range ds {
		if x.Replica == "" || x.Lo == 0 || x.Lo > x.Hi || x.Hi > crdt.MaxCounter {
			return fmt.Errorf("%w: deleted range %q [%d, %d]", ErrBadRun, x.Replica, x.Lo, x.Hi)
		}
	}
	return nil
}

// needsDead returns the deleted ranges as a context if a run without
// content needs them, else nil.
func needsDead(d *Delta) *crdt.Context {
	for i := range d.Runs {
		if d.Runs[i].Text == "" {
			return deadContext(d.Deleted)
		}
	}
	return nil
}

// last returns the dot of the run's last item.
func (r *Run) last() crdt.Dot {
	return crdt.Dot{Replica: r.ID.Replica, Counter: r.ID.Counter + uint64(r.Len) - 1}
}

// checkRun checks one run on its own.
func checkRun(r *Run) error {
	switch {
	case r.ID.Replica == "":
		return fmt.Errorf("%w: run without a replica", ErrBadRun)
	case r.Len <= 0:
		return fmt.Errorf("%w: run %v of %d items", ErrBadRun, r.ID, r.Len)
	case r.ID.Counter == 0 || r.ID.Counter > crdt.MaxCounter || uint64(r.Len-1) > crdt.MaxCounter-r.ID.Counter:
		return fmt.Errorf("%w: run %v of %d items", ErrCounter, r.ID, r.Len)
	case r.Text != "" && !utf8.ValidString(r.Text):
		return fmt.Errorf("%w: run %v", ErrInvalidUTF8, r.ID)
	case r.Text != "" && utf8.RuneCountInString(r.Text) != r.Len:
		return fmt.Errorf("%w: run %v has %d code points, says %d", ErrBadRun, r.ID, utf8.RuneCountInString(r.Text), r.Len)
	}
	for _, o := range [2]crdt.Dot{r.Left, r.Right} {
		if o != (crdt.Dot{}) && (o.Replica == "" || o.Counter == 0 || o.Counter > crdt.MaxCounter) {
			return fmt.Errorf("%w: run %v has origin %v", ErrBadRun, r.ID, o)
		}
	}
	return nil
}

// plan is a checked delta: its runs sorted by dot (for origin lookups) and
// the order to integrate them in (every run after the runs holding its
// origins).
type plan struct {
	sorted []int // run indices by (replica, counter)
	keys   []runKey
	rank   map[crdt.ReplicaID]int32
	order  []int
}

// runKey is a run's dots with its replica ranked, so that sorting and
// searching compare integers, not replica ids.
type runKey struct {
	rep    int32
	lo, hi uint64
}

func compareKeys(a, b runKey) int {
	if a.rep != b.rep {
		return cmp.Compare(a.rep, b.rep)
	}
	return cmp.Compare(a.lo, b.lo)
}

// newPlan sorts runs by dot.
func newPlan(runs []Run) plan {
	p := plan{rank: make(map[crdt.ReplicaID]int32)}
	var names []crdt.ReplicaID
	for i := range runs {
		if _, ok := p.rank[runs[i].ID.Replica]; !ok {
			p.rank[runs[i].ID.Replica] = 0
			names = append(names, runs[i].ID.Replica)
		}
	}
	slices.Sort(names)
	for i, n := range names {
		p.rank[n] = int32(i)
	}
	type indexed struct {
		k runKey
		i int
	}
	ks := make([]indexed, len(runs))
	for i := range runs {
		r := &runs[i]
		ks[i] = indexed{runKey{p.rank[r.ID.Replica], r.ID.Counter, r.last().Counter}, i}
	}
	cmpIndexed := func(a, b indexed) int { return compareKeys(a.k, b.k) }
	if !slices.IsSortedFunc(ks, cmpIndexed) {
		slices.SortFunc(ks, cmpIndexed)
	}
	p.sorted = make([]int, len(runs))
	p.keys = make([]runKey, len(runs))
	for j, k := range ks {
		p.sorted[j], p.keys[j] = k.i, k.k
	}
	return p
}

// find returns the index of the run holding d, or -1.
func (p *plan) find(d crdt.Dot) int {
	rep, ok := p.rank[d.Replica]
	if !ok {
		return -1
	}
	ks := p.keys
	lo, hi := 0, len(ks)
	for lo < hi { // first key ending at or after d
		m := int(uint(lo+hi) >> 1)
		if k := ks[m]; k.rep < rep || k.rep == rep && k.hi < d.Counter {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ks) && ks[lo].rep == rep && ks[lo].lo <= d.Counter {
		return p.sorted[lo]
	}
	return -1
}

// overlap returns two runs of p that share a dot, or −1s.
func (p *plan) overlap() (int, int) {
	for k := 1; k < len(p.keys); k++ {
		if a, b := p.keys[k-1], p.keys[k]; a.rep == b.rep && a.hi >= b.lo {
			return p.sorted[k-1], p.sorted[k]
		}
	}
	return -1, -1
}

// check validates d against t without changing either and returns the
// order to integrate its runs in.
func (t *Text) check(d *Delta) (plan, error) {
	var p plan
	runs := d.Runs
	for i := range runs {
		if err := checkRun(&runs[i]); err != nil {
			return p, err
		}
	}
	dead := needsDead(d)
	p = newPlan(runs)
	if a, b := p.overlap(); a >= 0 {
		return p, fmt.Errorf("%w: %v and %v", ErrOverlap, runs[a].ID, runs[b].ID)
	}
	// deps[i] lists the runs i's origins lie in (−1: none, or known here).
	deps := make([][2]int, len(runs))
	for i := range runs {
		r := &runs[i]
		for k, o := range [2]crdt.Dot{r.Left, r.Right} {
			deps[i][k] = -1
			if o == (crdt.Dot{}) {
				continue
			}
			j := p.find(o)
			switch {
			case j == i:
				return p, fmt.Errorf("%w: run %v has an origin inside itself", ErrOriginCycle, r.ID)
			case j >= 0:
				deps[i][k] = j
			case !t.ids.knows(o):
				return p, fmt.Errorf("%w: %v (run %v)", ErrMissingOrigin, o, r.ID)
			}
		}
		if r.Text == "" && !covers(dead, r.ID.Replica, r.ID.Counter, r.last().Counter) {
			return p, fmt.Errorf("%w: run %v", ErrNoContent, r.ID)
		}
	}
	// Depth-first, iteratively: a hostile delta could chain a million
	// runs.
	const (
		unseen = iota
		active
		done
	)
	state := make([]uint8, len(runs))
	p.order = make([]int, 0, len(runs))
	var stack []int
	// Roots in dot order: a replica's runs then integrate in the order it
	// typed them (its own origins have lower counters), which appends to
	// the id tables instead of inserting into them.
	for _, i := range p.sorted {
		if state[i] != unseen {
			continue
		}
		stack = append(stack[:0], i)
		state[i] = active
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			pushed := false
			for _, dep := range deps[top] {
				if dep < 0 {
					continue
				}
				switch state[dep] {
				case active:
					return p, fmt.Errorf("%w: through run %v", ErrOriginCycle, runs[dep].ID)
				case unseen:
					state[dep] = active
					stack = append(stack, dep)
					pushed = true
				}
				if pushed {
					break
				}
			}
			if !pushed {
				stack = stack[:len(stack)-1]
				state[top] = done
				p.order = append(p.order, top)
			}
		}
	}
	return p, nil
}

// covers reports whether c (nil: empty) holds every counter lo..hi of
// replica.
func covers(c *crdt.Context, replica crdt.ReplicaID, lo, hi uint64) bool {
	if c == nil {
		return false
	}
	rs := c.Ranges(replica)
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Hi >= lo })
	return i < len(rs) && rs[i].Lo <= lo && rs[i].Hi >= hi
}

// checkOne validates a delta of one run against t, without the sort and
// the graph check builds: one edit, the common case. It returns the items
// of the run's left and right origins (none for the start or the end).
func (t *Text) checkOne(d *Delta) (origins [2]int32, err error) {
	r := &d.Runs[0]
	if err := checkRun(r); err != nil {
		return origins, err
	}
	for k, o := range [2]crdt.Dot{r.Left, r.Right} {
		origins[k] = none
		if o == (crdt.Dot{}) {
			continue
		}
		if o.Replica == r.ID.Replica && o.Counter >= r.ID.Counter && o.Counter <= r.last().Counter {
			return origins, fmt.Errorf("%w: run %v has an origin inside itself", ErrOriginCycle, r.ID)
		}
		if origins[k] = t.ids.lookup(o.Replica, o.Counter); origins[k] == none {
			return origins, fmt.Errorf("%w: %v (run %v)", ErrMissingOrigin, o, r.ID)
		}
	}
	if r.Text == "" && !covers(needsDead(d), r.ID.Replica, r.ID.Counter, r.last().Counter) {
		return origins, fmt.Errorf("%w: run %v", ErrNoContent, r.ID)
	}
	return origins, nil
}

// Merge applies a delta from another replica (or a whole state). It is
// idempotent, commutative and associative: items already known are skipped,
// and a delete may arrive before its insert. A delta whose origins t lacks
// and that does not carry them is refused with ErrMissingOrigin; on any
// error t is unchanged.
func (t *Text) Merge(d Delta) error {
	var one [1]int // the order of a one-run delta, without an allocation
	if err := checkDead(d.Deleted); err != nil {
		return err
	}
	var p plan
	var origins *[2]int32 // a one-run delta's, resolved by checkOne
	if len(d.Runs) == 1 {
		o, err := t.checkOne(&d)
		if err != nil {
			return err
		}
		p.order, origins = one[:], &o
	} else if len(d.Runs) > 1 {
		var err error
		if p, err = t.check(&d); err != nil {
			return err
		}
	}
	if len(d.Runs) > 0 && int(t.ids.next)+runItems(d.Runs) > maxItems {
		return fmt.Errorf("%w: more than %d items", ErrCounter, maxItems)
	}
	for _, i := range p.order {
		t.mergeRun(&d.Runs[i], origins)
	}
	for _, x := range d.Deleted {
		if rep, ok := t.ids.repOf(x.Replica); ok {
			t.killCounters(rep, x.Lo, x.Hi)
		}
		t.keepPending(x)
	}
	if len(d.Deleted) > 0 {
		t.tree.compact()
	}
	return nil
}

// Killed returns how many items merges have deleted here so far: a merge
// that changes it deleted an item that was not deleted.
func (t *Text) Killed() uint64 { return t.killed }

// keepPending records the items of x this replica has not seen inserted,
// so that they arrive deleted.
func (t *Text) keepPending(x Dead) {
	for lo := x.Lo; lo <= x.Hi; {
		klo, khi, ok := t.ids.knownFrom(x.Replica, lo)
		if ok && klo <= lo {
			if khi >= x.Hi {
				return
			}
			lo = khi + 1
			continue
		}
		hi := x.Hi
		if ok && klo <= hi {
			hi = klo - 1
		}
		t.pending.AddRange(x.Replica, crdt.Range{Lo: lo, Hi: hi})
		lo = hi + 1
	}
}

// runItems returns the items of runs, saturating at maxItems+1.
func runItems(runs []Run) int {
	n := 0
	for i := range runs {
		if n += runs[i].Len; n > maxItems {
			return maxItems + 1
		}
	}
	return n
}

// mergeRun integrates the items of r this replica lacks. origins, when
// not nil, holds the items of r's left and right origins, already looked
// up.
func (t *Text) mergeRun(r *Run, origins *[2]int32) {
	rep := t.ids.replicaIndex(r.ID.Replica)
	lo, hi := r.ID.Counter, r.last().Counter
	// Typing sends runs past every counter of their replica held here:
	// then no item of r is known, and no search is needed to find which.
	fresh := t.ids.maxCounter(rep) < lo
	var leftLV, rightLV int32
	if origins != nil {
		leftLV, rightLV = origins[0], origins[1]
	} else {
		leftLV, _ = t.lvOf(r.Left)
		rightLV, _ = t.lvOf(r.Right)
	}
	content := r.Text
	byteOff := 0 // byte offset in content of counter c
	for c := lo; c <= hi; {
		// The known items at or after c, if any.
		end := hi
		if !fresh {
			if klo, khi, ok := t.ids.knownFrom(r.ID.Replica, c); ok {
				if klo <= c {
					skip := min(khi, hi) - c + 1
					byteOff = advance(content, byteOff, skip)
					c += skip
					continue
				}
				end = min(hi, klo-1)
			}
		}
		n := end - c + 1
		left := leftLV
		if c > lo {
			left, _ = t.ids.lookupRep(rep, c-1)
		}
		next := advance(content, byteOff, n)
		piece := content[byteOff:next]
		byteOff = next
		lv := t.ids.add(rep, c, int32(n))
		t.integrate(rep, lv, int32(n), piece, content == "", left, rightLV)
		// Items deleted before they arrived.
		if !t.pending.IsEmpty() {
			for _, dr := range t.pending.Ranges(r.ID.Replica) {
				if dr.Hi >= c && dr.Lo <= end {
					t.killLV(lv+int32(max(dr.Lo, c)-c), lv+int32(min(dr.Hi, end)-c)+1)
				}
			}
		}
		c = end + 1
	}
}

// advance returns the byte offset n code points after off in b (or the
// end of b).
func advance[B []byte | string](b B, off int, n uint64) int {
	for ; n > 0 && off < len(b); n-- {
		if b[off] < utf8.RuneSelf {
			off++
			continue
		}
		off += seqLen(b[off])
	}
	return off
}

// seqLen returns the length of the UTF-8 sequence that starts with lead
// (content is valid UTF-8: every run was checked).
func seqLen(lead byte) int {
	switch {
	case lead < 0xe0:
		return 2
	case lead < 0xf0:
		return 3
	}
	return 4
}

// killCounters deletes the known items with counters lo..hi of replica rep.
func (t *Text) killCounters(rep int32, lo, hi uint64) {
	cr := t.ids.byReplica[rep]
	i := sort.Search(len(cr), func(i int) bool { return cr[i].counter+uint64(cr[i].n) > lo })
	for ; i < len(cr) && cr[i].counter <= hi; i++ {
		a := max(lo, cr[i].counter)
		b := min(hi, cr[i].counter+uint64(cr[i].n)-1)
		t.killLV(cr[i].lv+int32(a-cr[i].counter), cr[i].lv+int32(b-cr[i].counter)+1)
	}
}

// killLV deletes items lo..hi-1.
func (t *Text) killLV(lo, hi int32) {
	for lv := lo; lv < hi; {
		l, j := t.tree.locate(lv)
		sp := &l.spans[j]
		if sp.dead {
			lv = sp.lv + sp.n
			continue
		}
		k := lv - sp.lv
		m := min(hi-lv, sp.n-k)
		t.kill(l, j, k, m)
		t.killed += uint64(m)
		lv += m
	}
}
