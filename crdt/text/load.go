package text

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"

	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// Load decodes a state (an encoded DeltaSince(nil)) into a new replica.
//
// It is the loader for states this package wrote (what a server stored):
// it builds the tree straight from the runs, in the order the state lists
// them (the order every replica that merged the state computes), instead
// of integrating run after run, and it does not re-derive the canonical
// form. It checks everything the tree relies on: the bounds DecodeDelta
// has, the run column and the text column agreeing, no dot twice, every
// origin present with the left one before its run and the right one after
// it. It cannot tell a reordered state from a true one: a state from an
// untrusted peer goes through DecodeDelta and Merge instead. Errors wrap
// ErrMalformed.
func Load(b []byte) (*Text, error) {
	t, err := load(b)
	if err != nil && !errors.Is(err, ErrMalformed) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return t, err
}

func load(b []byte) (*Text, error) {
	if len(b) == 0 || b[0] != FormatVersion {
		_, err := DecodeDelta(b, StateLimits) // the same errors
		return nil, err
	}
	body := b[1:]
	if err := msgpackx.Check(body, StateLimits); err != nil {
		return nil, err
	}
	r := msgpackx.NewCanonicalReader(body)
	if n := r.ArrayHeader(); n != 4 {
		return nil, fmt.Errorf("top level has %d elements, want 4", n)
	}
	t := New()
	nrep := r.ArrayHeader()
	for i := 0; i < nrep && r.Err() == nil; i++ {
		s := r.StringBytes()
		if r.Err() != nil {
			break
		}
		if !utf8.Valid(s) || len(s) == 0 || i > 0 && crdt.ReplicaID(s) <= t.ids.replicas[i-1] {
			return nil, fmt.Errorf("replica table not sorted, unique, non-empty UTF-8 at %d", i)
		}
		t.ids.replicaIndex(crdt.ReplicaID(s)) // table index = replica index
	}
	replicaAt := func(i uint64) (crdt.ReplicaID, error) {
		if i >= uint64(len(t.ids.replicas)) {
			return "", fmt.Errorf("replica index %d out of range (%d replicas)", i, len(t.ids.replicas))
		}
		return t.ids.replicas[i], nil
	}
	raw := r.Raw()
	if r.Err() != nil {
		return nil, r.Err()
	}
	rb, err := binPayload(raw)
	if err != nil {
		return nil, err
	}
	text := r.StringBytes()
	if r.Err() != nil {
		return nil, r.Err()
	}
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("%w: text column", ErrInvalidUTF8)
	}
	explicit, err := readDeleted(r, replicaAt)
	if err != nil {
		return nil, err
	}
	if !r.Done() {
		return nil, errors.New("trailing bytes")
	}
	t.tree.text = append([]byte(nil), text...)
	spans, err := t.readSpans(rb, text)
	if err != nil {
		return nil, err
	}
	if len(spans) > 0 {
		t.tree.build(spans)
	}
	for _, x := range explicit {
		t.killCounters(t.ids.index[x.Replica], x.Lo, x.Hi)
		t.keepPending(x)
	}
	return t, nil
}

// Origins Load resolves once every run is read: most are the previous
// run's last item, an earlier run's of the same replica, the next run's
// first or an earlier run's right origin, known while reading or kept as a
// run index; an explicit dot (and an inherited right origin whose run must
// be searched for) waits in a list of fixes.
const (
	laterDot     = iota + 1 // an explicit dot
	laterInherit            // the right origin of the run holding the left one
)

type later struct {
	kind int
	rep  uint64
	at   uint64 // counter
}

// How a run's right origin is known while Load reads: resolved, or to be
// resolved after every run is read from the index span.right holds, or
// from a fix. rightInherited marks the inherited form, resolved or not.
const (
	rightResolved  uint8 = iota
	rightRunFirst        // span.right holds a later run, whose first item it is
	rightRunRight        // span.right holds an earlier run, whose right origin it is
	rightFixed           // a fix resolves it
	rightInherited uint8 = 0x80
)

// fix is an origin of run span resolved after every run is read.
type fix struct {
	span int
	later
}

// loadRun is a run's dots as read: its replica, first counter and items.
type loadRun struct {
	counter uint64
	lv, n   int32
	rep     int32
}

// readSpans turns the run column into spans numbered in document order.
func (t *Text) readSpans(rb, text []byte) ([]span, error) {
	n := len(rb) / 3 // a run takes at least 3 bytes
	spans := make([]span, 0, n)
	runs := make([]loadRun, 0, n)
	var leftFixes, rightFixes []fix
	rightKind := make([]uint8, 0, n)
	t.ids.runs = make([]lvRun, 0, n)
	maxItems := MaxItems(StateLimits)
	v := varints{b: rb}
	var lv int32
	textOff := 0
	nextPending := false // the last run read names the next run's first item
	for i := 0; !v.done() && v.err == nil; i++ {
		h := v.next()
		flags := h & (1<<flagBits - 1)
		if h>>flagBits >= uint64(maxItems-int(lv)) {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyItems, maxItems)
		}
		s := span{lv: lv, n: int32(h>>flagBits) + 1, left: none, right: none, dead: flags&flagContent == 0}
		lf, rf := int(flags>>leftShift&3), int(flags>>rightShift&3)
		var rep int32
		var counter uint64
		leftRun := -1 // the run holding the left origin, when known now
		switch {
		case lf == leftOwn:
			back := v.next()
			if back >= uint64(i) {
				return nil, fmt.Errorf("run %d continues a run before the first", i)
			}
			j := i - 1 - int(back)
			rep, counter = runs[j].rep, runs[j].counter+uint64(spans[j].n)
			s.left = spans[j].lv + spans[j].n - 1
			leftRun = j
		case flags&flagNewReplica != 0:
			x := v.next()
			if x >= uint64(len(t.ids.replicas)) {
				return nil, fmt.Errorf("replica index %d out of range", x)
			}
			rep, counter = int32(x), 1+uint64(unzigzag(v.next()))
		case i == 0:
			return nil, errors.New("first run without a replica")
		default:
			rep = runs[i-1].rep
			counter = runs[i-1].counter + uint64(spans[i-1].n) + uint64(unzigzag(v.next()))
		}
		if counter == 0 || counter > crdt.MaxCounter || uint64(s.n-1) > crdt.MaxCounter-counter {
			return nil, fmt.Errorf("%w: run %d", ErrCounter, i)
		}
		switch lf {
		case leftPrev:
			if i == 0 {
				return nil, errors.New("run 0 refers to a previous run")
			}
			s.left = lv - 1
			leftRun = i - 1
		case leftDot:
			rep, at := v.next(), v.next()
			leftFixes = append(leftFixes, fix{i, later{kind: laterDot, rep: rep, at: at}})
		}
		nextPending = false
		kind := rightResolved
		switch rf {
		case rightNext:
			s.right = lv + s.n // spans are numbered in order
			nextPending = true
		case rightInherit:
			kind = rightInherited
			switch {
			case lf == leftStart:
				return nil, fmt.Errorf("run %d inherits a right origin without a left one", i)
			case leftRun >= 0 && rightKind[leftRun]&^rightInherited == rightResolved:
				// The run holding the left origin is read and its right
				// origin known: the common case, resolved at once.
				s.right = spans[leftRun].right
				if s.right != none && s.right < s.lv+s.n {
					return nil, fmt.Errorf("%w: the right origin of run %d is not after it", ErrMissingOrigin, i)
				}
			case leftRun >= 0:
				kind |= rightRunRight
				s.right = int32(leftRun)
			default:
				kind |= rightFixed
				rightFixes = append(rightFixes, fix{i, later{kind: laterInherit}})
			}
		case rightFar:
			if a := v.next(); a > 0 {
				// Past the last run (checked when resolved) if it does not
				// fit an int32.
				kind, s.right = rightRunFirst, int32(min(uint64(i)+1+min(a, uint64(maxItems)), 1<<31-1))
			} else {
				rep, at := v.next(), v.next()
				kind = rightFixed
				rightFixes = append(rightFixes, fix{i, later{kind: laterDot, rep: rep, at: at}})
			}
		}
		if !s.dead {
			end := textOff
			for k := int32(0); k < s.n; k++ {
				if end >= len(text) {
					return nil, fmt.Errorf("text column ends inside run %d", i)
				}
				if text[end] < utf8.RuneSelf {
					end++
				} else {
					end += seqLen(text[end])
				}
			}
			s.off, s.size = uint32(textOff), uint32(end-textOff)
			textOff = end
		}
		if v.err != nil {
			break
		}
		if k := len(t.ids.runs); k == 0 || t.ids.runs[k-1].rep != rep || t.ids.runs[k-1].counter+uint64(lv-t.ids.runs[k-1].lv) != counter {
			t.ids.runs = append(t.ids.runs, lvRun{lv: lv, rep: rep, counter: counter})
		}
		spans = append(spans, s)
		rightKind = append(rightKind, kind)
		runs = append(runs, loadRun{counter: counter, lv: lv, n: s.n, rep: rep})
		lv += s.n
	}
	if v.err != nil {
		return nil, fmt.Errorf("run column: %w", v.err)
	}
	if nextPending {
		return nil, fmt.Errorf("run %d refers to a run past the last", len(spans)-1)
	}
	if textOff != len(text) {
		return nil, fmt.Errorf("text column has %d bytes past the last run", len(text)-textOff)
	}
	t.ids.next = lv
	t.ids.fill(runs)
	for rep, cr := range t.ids.byReplica {
		for k := 1; k < len(cr); k++ {
			if cr[k].counter < cr[k-1].counter+uint64(cr[k-1].n) {
				return nil, fmt.Errorf("%w: dots of %q repeat", ErrOverlap, t.ids.replicas[rep])
			}
		}
	}
	resolve := func(x later, i int) (int32, error) {
		switch x.kind {
		case laterDot:
			if x.rep >= uint64(len(t.ids.replicas)) {
				return none, fmt.Errorf("replica index %d out of range", x.rep)
			}
			lv, _ := t.ids.lookupRep(int32(x.rep), x.at)
			if lv == none {
				return none, fmt.Errorf("%w: origin %q:%d of run %d", ErrMissingOrigin, t.ids.replicas[x.rep], x.at, i)
			}
			return lv, nil
		}
		return none, fmt.Errorf("origin of run %d cannot be resolved", i)
	}
	for _, f := range leftFixes {
		s := &spans[f.span]
		var err error
		if s.left, err = resolve(f.later, f.span); err != nil {
			return nil, err
		}
		if s.left >= s.lv {
			return nil, fmt.Errorf("%w: the left origin of run %d is not before it", ErrMissingOrigin, f.span)
		}
	}
	// Right origins in run order: one inherited from an earlier run finds
	// it resolved. One inherited through a searched left origin may need a
	// later run's first, which is then resolved early (it may not itself
	// be inherited).
	early := func(j int) error {
		var err error
		switch rightKind[j] {
		case rightRunFirst:
			if int(spans[j].right) >= len(spans) {
				return fmt.Errorf("run %d refers to a run past the last", j)
			}
			spans[j].right = spans[spans[j].right].lv
		case rightFixed:
			if spans[j].right, err = resolve(rightFixes[findFix(rightFixes, j)].later, j); err != nil {
				return err
			}
		}
		rightKind[j] = rightResolved
		if r := spans[j].right; r != none && r < spans[j].lv+spans[j].n {
			return fmt.Errorf("%w: the right origin of run %d is not after it", ErrMissingOrigin, j)
		}
		return nil
	}
	for i := range spans {
		kind := rightKind[i]
		if kind&^rightInherited == rightResolved {
			continue
		}
		s := &spans[i]
		switch kind &^ rightInherited {
		case rightRunRight:
			s.right = spans[s.right].right
		case rightFixed:
			if kind&rightInherited == 0 {
				if err := early(i); err != nil {
					return nil, err
				}
				continue
			}
			j := spanHolding(spans, s.left)
			switch {
			case j == i:
				return nil, fmt.Errorf("run %d inherits a right origin it cannot", i)
			case j > i && rightKind[j]&rightInherited != 0:
				return nil, fmt.Errorf("run %d inherits a right origin it cannot", i)
			case j > i:
				if err := early(j); err != nil {
					return nil, err
				}
			}
			s.right = spans[j].right
		default: // rightRunFirst
			if err := early(i); err != nil {
				return nil, err
			}
			continue
		}
		rightKind[i] = rightResolved
		if s.right != none && s.right < s.lv+s.n {
			return nil, fmt.Errorf("%w: the right origin of run %d is not after it", ErrMissingOrigin, i)
		}
	}
	return spans, nil
}

// spanHolding returns the index of the span holding item lv (spans are
// numbered in order, and lv is one of theirs).
func spanHolding(spans []span, lv int32) int {
	lo, hi := 0, len(spans)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if spans[m].lv+spans[m].n > lv {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// findFix returns the index of the fix of run span in fs (sorted by run),
// or -1.
func findFix(fs []fix, span int) int {
	lo, hi := 0, len(fs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if fs[m].span < span {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(fs) && fs[lo].span == span {
		return lo
	}
	return -1
}

// fill sets every replica's counter runs from the runs a bulk load read,
// in one exactly sized slice per replica, then sorts them by counter and
// joins neighbours.
func (x *ids) fill(runs []loadRun) {
	at := make([]int, len(x.replicas))
	for i := range runs {
		at[runs[i].rep]++
	}
	for rep, c := range at {
		x.byReplica[rep] = make([]counterRun, c)
		at[rep] = 0
	}
	for i := range runs {
		r := &runs[i]
		x.byReplica[r.rep][at[r.rep]] = counterRun{r.counter, r.lv, r.n}
		at[r.rep]++
	}
	x.sortCounters()
}

// sortCounters sorts every replica's counter runs and joins neighbours.
func (x *ids) sortCounters() {
	var tmp []counterRun
	for rep, cr := range x.byReplica {
		if len(cr) < 256 {
			slices.SortFunc(cr, func(a, b counterRun) int { return cmp.Compare(a.counter, b.counter) })
		} else {
			tmp = radixSort(cr, tmp)
		}
		out := cr[:0]
		for _, c := range cr {
			if k := len(out); k > 0 && out[k-1].counter+uint64(out[k-1].n) == c.counter && out[k-1].lv+out[k-1].n == c.lv {
				out[k-1].n += c.n
				continue
			}
			out = append(out, c)
		}
		x.byReplica[rep] = out
	}
}

// radixSort sorts runs by counter (least significant 11 bits first, as many
// passes as the largest counter needs): a state lists its runs in document
// order, where counters are shuffled, and a comparison sort of them was a
// fifth of Load. tmp is scratch space, returned for reuse.
func radixSort(runs, tmp []counterRun) []counterRun {
	var top uint64
	for _, r := range runs {
		top |= r.counter
	}
	if cap(tmp) < len(runs) {
		tmp = make([]counterRun, len(runs))
	}
	tmp = tmp[:len(runs)]
	src, dst := runs, tmp
	for shift := uint(0); shift < 64 && top>>shift != 0; shift += 11 {
		var count [1 << 11]int
		for _, r := range src {
			count[r.counter>>shift&(1<<11-1)]++
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, r := range src {
			d := r.counter >> shift & (1<<11 - 1)
			dst[count[d]] = r
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &runs[0] {
		copy(runs, src)
	}
	return tmp
}

// build fills an empty tree with spans numbered in order (span i starts at
// the item after span i−1's last), leaving room in every node for the
// edits to come.
func (t *tree) build(spans []span) {
	per := max(1, maxSpans*3/4)
	var level []*node
	t.leaves = t.leaves[:0]
	t.hot = nil
	t.leafOf.reset(spanItems(spans)) // spans are numbered in order: item lv is entry lv
	var prev *node
	for i := 0; i < len(spans); i += per {
		end := min(i+per, len(spans))
		// A leaf uses its piece of spans in place, capped so that its
		// first insert moves it to an array of its own instead of writing
		// into the next leaf's piece.
		chunk := spans[i:end:end]
		l := &node{leaf: true, id: int32(len(t.leaves)), prev: prev, spans: chunk}
		for _, s := range chunk {
			l.vis += s.vis()
			l.all += int(s.n)
			t.leafOf.set(s.lv, s.lv+s.n, l.id)
		}
		if prev != nil {
			prev.next = l
		}
		prev = l
		t.leaves = append(t.leaves, l)
		level = append(level, l)
	}
	t.first = level[0]
	kids := max(2, maxKids*3/4)
	for len(level) > 1 {
		var up []*node
		for i := 0; i < len(level); i += kids {
			chunk := level[i:min(i+kids, len(level))]
			n := &node{kids: make([]*node, len(chunk), maxKids+1)}
			copy(n.kids, chunk)
			for _, k := range chunk {
				k.parent = n
				n.vis += k.vis
				n.all += k.all
			}
			up = append(up, n)
		}
		level = up
	}
	t.root = level[0]
}

func spanItems(spans []span) int {
	n := 0
	for i := range spans {
		n += int(spans[i].n)
	}
	return n
}
