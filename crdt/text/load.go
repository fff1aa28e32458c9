package text

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
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

// Origins Load resolves once every run is read.
const (
	laterNone    = iota
	laterDot     // an explicit dot
	laterRun     // the first item of a run
	laterInherit // the right origin of the run holding the left one
)

type later struct {
	kind int
	rep  uint64
	at   uint64 // counter or run index
}

// readSpans turns the run column into spans numbered in document order.
func (t *Text) readSpans(rb, text []byte) ([]span, error) {
	n := len(rb) / 3 // a run takes at least 3 bytes
	spans := make([]span, 0, n)
	counters := make([]uint64, 0, n) // each run's first counter
	reps := make([]int32, 0, n)
	lefts := make([]later, 0, n)
	rights := make([]later, 0, n)
	t.ids.runs = make([]lvRun, 0, n)
	maxItems := MaxItems(StateLimits)
	v := varints{b: rb}
	var lv int32
	textOff := 0
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
		var left, right later
		switch {
		case lf == leftOwn:
			back := v.next()
			if back >= uint64(i) {
				return nil, fmt.Errorf("run %d continues a run before the first", i)
			}
			j := i - 1 - int(back)
			rep, counter = reps[j], counters[j]+uint64(spans[j].n)
			s.left = spans[j].lv + spans[j].n - 1
		case flags&flagNewReplica != 0:
			x := v.next()
			if x >= uint64(len(t.ids.replicas)) {
				return nil, fmt.Errorf("replica index %d out of range", x)
			}
			rep, counter = int32(x), 1+uint64(unzigzag(v.next()))
		case i == 0:
			return nil, errors.New("first run without a replica")
		default:
			rep = reps[i-1]
			counter = counters[i-1] + uint64(spans[i-1].n) + uint64(unzigzag(v.next()))
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
		case leftDot:
			left = later{kind: laterDot, rep: v.next(), at: v.next()}
		}
		switch rf {
		case rightNext:
			right = later{kind: laterRun, at: uint64(i) + 1}
		case rightInherit:
			right = later{kind: laterInherit}
		case rightFar:
			if a := v.next(); a > 0 {
				right = later{kind: laterRun, at: uint64(i) + 1 + min(a, uint64(maxItems))}
			} else {
				right = later{kind: laterDot, rep: v.next(), at: v.next()}
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
		t.ids.addUnsorted(rep, counter, s.n)
		spans = append(spans, s)
		counters = append(counters, counter)
		reps = append(reps, rep)
		lefts = append(lefts, left)
		rights = append(rights, right)
		lv += s.n
	}
	if v.err != nil {
		return nil, fmt.Errorf("run column: %w", v.err)
	}
	if textOff != len(text) {
		return nil, fmt.Errorf("text column has %d bytes past the last run", len(text)-textOff)
	}
	t.ids.sortCounters()
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
		case laterRun:
			if x.at >= uint64(len(spans)) {
				return none, fmt.Errorf("run %d refers to a run past the last", i)
			}
			return spans[x.at].lv, nil
		}
		return none, nil
	}
	for i := range spans {
		s := &spans[i]
		if lefts[i].kind != laterNone {
			var err error
			if s.left, err = resolve(lefts[i], i); err != nil {
				return nil, err
			}
		}
		if s.left != none && s.left >= s.lv {
			return nil, fmt.Errorf("%w: the left origin of run %d is not before it", ErrMissingOrigin, i)
		}
	}
	for i := range spans {
		s := &spans[i]
		var err error
		switch rights[i].kind {
		case laterInherit:
			if s.left == none {
				return nil, fmt.Errorf("run %d inherits a right origin without a left one", i)
			}
			j := sort.Search(len(spans), func(j int) bool { return spans[j].lv+spans[j].n > s.left })
			if j == i || j > i && rights[j].kind == laterInherit {
				return nil, fmt.Errorf("run %d inherits a right origin it cannot", i)
			}
			if j > i { // not resolved yet
				if spans[j].right, err = resolve(rights[j], j); err != nil {
					return nil, err
				}
				rights[j].kind = laterNone
			}
			s.right = spans[j].right
		case laterDot, laterRun:
			if s.right, err = resolve(rights[i], i); err != nil {
				return nil, err
			}
		}
		rights[i].kind = laterNone
		if s.right != none && s.right < s.lv+s.n {
			return nil, fmt.Errorf("%w: the right origin of run %d is not after it", ErrMissingOrigin, i)
		}
	}
	return spans, nil
}

// addUnsorted is add for a bulk load: the counter runs are sorted once at
// the end (sortCounters) rather than kept sorted on every insert.
func (x *ids) addUnsorted(rep int32, counter uint64, n int32) int32 {
	lv := x.next
	x.next += n
	if k := len(x.runs); k == 0 || x.runs[k-1].rep != rep || x.runs[k-1].counter+uint64(lv-x.runs[k-1].lv) != counter {
		x.runs = append(x.runs, lvRun{lv: lv, rep: rep, counter: counter})
	}
	cr := x.byReplica[rep]
	if k := len(cr); k > 0 && cr[k-1].counter+uint64(cr[k-1].n) == counter && cr[k-1].lv+cr[k-1].n == lv {
		cr[k-1].n += n
	} else {
		x.byReplica[rep] = append(cr, counterRun{counter, lv, n})
	}
	return lv
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
