package text

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// DecodeDelta parses an encoded delta or state under lim: a hostile input is
// an error (wrapping ErrMalformed), never a large allocation or a panic, and
// only the canonical encoding is accepted, so a delta that decodes
// re-encodes to exactly b. The result is what Encode was given, in the form
// DeltaSince returns; it does not alias b.
func DecodeDelta(b []byte, lim msgpackx.Limits) (Delta, error) {
	if len(b) == 0 {
		return Delta{}, fmt.Errorf("%w: empty input", ErrMalformed)
	}
	if b[0] != FormatVersion {
		return Delta{}, fmt.Errorf("%w: %w: %d (this build reads %d)", ErrMalformed, ErrFormatVersion, b[0], FormatVersion)
	}
	body := b[1:]
	if err := msgpackx.Check(body, lim); err != nil {
		return Delta{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	d, _, err := decodeBody(msgpackx.NewCanonicalReader(body), MaxItems(lim))
	if err != nil {
		if errors.Is(err, msgpackx.ErrNotCanonical) && !errors.Is(err, ErrNotCanonical) {
			err = fmt.Errorf("%w: %w", ErrNotCanonical, err)
		}
		return Delta{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return d, nil
}

func notCanonical(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotCanonical}, args...)...)
}

// decodeBody decodes the msgpack body of a delta and also returns the
// deleted ranges it wrote explicitly (the rest are its runs without
// content).
func decodeBody(r *msgpackx.Reader, maxItems int) (Delta, []Dead, error) {
	var d Delta
	if n := r.ArrayHeader(); n != 4 {
		return d, nil, fmt.Errorf("top level has %d elements, want 4", n)
	}
	nrep := r.ArrayHeader()
	replicas := make([]crdt.ReplicaID, nrep)
	for i := range replicas {
		s := r.StringBytes()
		if r.Err() != nil {
			return d, nil, r.Err()
		}
		if !utf8.Valid(s) {
			return d, nil, fmt.Errorf("%w: replica id %q", ErrInvalidUTF8, s)
		}
		replicas[i] = crdt.ReplicaID(s)
		if replicas[i] == "" || (i > 0 && replicas[i] <= replicas[i-1]) {
			return d, nil, notCanonical("replica table not sorted, unique and non-empty at %d", i)
		}
	}
	used := make([]bool, nrep)
	replicaAt := func(i uint64) (crdt.ReplicaID, error) {
		if i >= uint64(nrep) {
			return "", fmt.Errorf("replica index %d out of range (%d replicas)", i, nrep)
		}
		used[i] = true
		return replicas[i], nil
	}
	raw := r.Raw()
	if r.Err() != nil {
		return d, nil, r.Err()
	}
	rb, err := binPayload(raw)
	if err != nil {
		return d, nil, err
	}
	// One string backs every run's text: one allocation, not one per run.
	text := string(r.StringBytes())
	if r.Err() != nil {
		return d, nil, r.Err()
	}
	if len(rb) > 0 {
		d.Runs = make([]Run, 0, len(rb)/3) // a run takes at least 3 bytes
	}
	// Runs, with the forms that refer to other runs resolved once all are
	// read.
	type pending struct{ lf, rf, back, ahead int }
	var forms []pending
	var reps []uint64 // each run's replica index
	if len(rb) > 0 {
		forms = make([]pending, 0, len(rb)/3)
		reps = make([]uint64, 0, len(rb)/3)
	}
	v := varints{b: rb}
	prevRep, prevLast := uint64(0), uint64(0)
	items, textOff := 0, 0
	for i := 0; !v.done() && v.err == nil; i++ {
		h := v.next()
		flags := h & (1<<flagBits - 1)
		n := h >> flagBits
		if n >= uint64(maxItems-items) {
			return d, nil, fmt.Errorf("%w: more than %d", ErrTooManyItems, maxItems)
		}
		items += int(n) + 1
		run := Run{Len: int(n) + 1}
		f := pending{lf: int(flags >> leftShift & 3), rf: int(flags >> rightShift & 3)}
		var rep, counter uint64
		switch {
		case f.lf == leftOwn:
			if flags&flagNewReplica != 0 {
				return d, nil, notCanonical("run %d derives its replica but names one", i)
			}
			back := v.next()
			if v.err == nil && back >= uint64(i) {
				return d, nil, fmt.Errorf("run %d continues a run before the first", i)
			}
			if v.err != nil {
				break
			}
			j := i - 1 - int(back)
			f.back = i - j
			rep = reps[j]
			run.Left = d.Runs[j].last()
			counter = run.Left.Counter + 1
			if counter > crdt.MaxCounter {
				return d, nil, fmt.Errorf("%w: run %d continues past the last counter", ErrCounter, i)
			}
		case flags&flagNewReplica != 0:
			rep = v.next()
			if i > 0 && rep == prevRep && v.err == nil {
				return d, nil, notCanonical("run %d names the previous run's replica", i)
			}
			delta := unzigzag(v.next())
			if delta < 0 || uint64(delta) >= crdt.MaxCounter {
				return d, nil, fmt.Errorf("%w: run %d starts at counter 1%+d", ErrCounter, i, delta)
			}
			counter = 1 + uint64(delta)
		case i == 0:
			return d, nil, notCanonical("first run without a replica")
		default:
			rep = prevRep
			delta := unzigzag(v.next())
			base := prevLast + 1
			if (delta < 0 && uint64(-delta) >= base) || (delta >= 0 && uint64(delta) > crdt.MaxCounter-base) {
				return d, nil, fmt.Errorf("%w: run %d starts at counter %d%+d", ErrCounter, i, base, delta)
			}
			counter = base + uint64(delta)
		}
		if v.err != nil {
			break
		}
		replica, err := replicaAt(rep)
		if err != nil {
			return d, nil, err
		}
		if uint64(run.Len-1) > crdt.MaxCounter-counter {
			return d, nil, fmt.Errorf("%w: run %d of %d items at counter %d", ErrCounter, i, run.Len, counter)
		}
		run.ID = crdt.Dot{Replica: replica, Counter: counter}
		if f.lf == leftDot {
			run.Left, err = readDot(&v, replicaAt)
			if err != nil {
				return d, nil, err
			}
		}
		if f.rf == rightFar {
			f.ahead = int(min(v.next(), uint64(maxItems)))
			if f.ahead == 0 {
				run.Right, err = readDot(&v, replicaAt)
				if err != nil {
					return d, nil, err
				}
			}
		}
		if flags&flagContent != 0 {
			end := textOff
			for k := 0; k < run.Len; k++ {
				if end >= len(text) {
					return d, nil, fmt.Errorf("text column ends inside run %d", i)
				}
				c, size := utf8.DecodeRuneInString(text[end:])
				if c == utf8.RuneError && size <= 1 {
					return d, nil, fmt.Errorf("%w: in run %d", ErrInvalidUTF8, i)
				}
				end += size
			}
			run.Text = text[textOff:end]
			textOff = end
		}
		d.Runs = append(d.Runs, run)
		forms = append(forms, f)
		reps = append(reps, rep)
		prevRep, prevLast = rep, run.last().Counter
	}
	if v.err != nil {
		return d, nil, fmt.Errorf("run column: %w", v.err)
	}
	if textOff != len(text) {
		return d, nil, fmt.Errorf("text column has %d bytes past the last run", len(text)-textOff)
	}
	p := newPlan(d.Runs)
	if a, b := p.overlap(); a >= 0 {
		return d, nil, fmt.Errorf("%w: %v and %v", ErrOverlap, d.Runs[a].ID, d.Runs[b].ID)
	}
	// Resolve the forms that refer to other runs: the left origins first
	// (rightInherit needs them), then the right ones.
	for i := range d.Runs {
		run := &d.Runs[i]
		switch forms[i].lf {
		case leftPrev:
			if i == 0 {
				return d, nil, fmt.Errorf("run 0 refers to a previous run")
			}
			run.Left = d.Runs[i-1].last()
		}
		if f, back := leftForm(d.Runs, &p, i); f != forms[i].lf || back != forms[i].back {
			return d, nil, notCanonical("run %d: left origin written in form %d/%d, not %d/%d", i, forms[i].lf, forms[i].back, f, back)
		}
	}
	for i := range d.Runs {
		run := &d.Runs[i]
		switch forms[i].rf {
		case rightNext:
			if i+1 == len(d.Runs) {
				return d, nil, fmt.Errorf("last run refers to a next run")
			}
			run.Right = d.Runs[i+1].ID
		case rightFar:
			if a := forms[i].ahead; a > 0 {
				if a >= len(d.Runs)-i-1 {
					return d, nil, fmt.Errorf("run %d refers to a run past the last", i)
				}
				run.Right = d.Runs[i+1+a].ID
			}
		case rightInherit:
			j := -1
			if run.Left != (crdt.Dot{}) {
				j = p.find(run.Left)
			}
			if j < 0 || j == i || forms[j].rf == rightInherit && j > i {
				// A run inherits from one resolved before it, so that no
				// chain of inheritance loops.
				return d, nil, fmt.Errorf("run %d inherits a right origin it cannot", i)
			}
			run.Right = d.Runs[j].Right
		}
	}
	for i := range d.Runs {
		if f, ahead := rightForm(d.Runs, &p, i); f != forms[i].rf || ahead != forms[i].ahead {
			return d, nil, notCanonical("run %d: right origin written in form %d/%d, not %d/%d", i, forms[i].rf, forms[i].ahead, f, ahead)
		}
		if i > 0 && continues(&d.Runs[i-1], &d.Runs[i]) {
			return d, nil, notCanonical("run %d continues the run before it", i)
		}
		if err := checkRun(&d.Runs[i]); err != nil {
			return d, nil, err
		}
	}
	explicit, err := readDeleted(r, replicaAt)
	if err != nil {
		return d, nil, err
	}
	if err := r.Err(); err != nil {
		return d, nil, err
	}
	if !r.Done() {
		return d, nil, errors.New("trailing bytes")
	}
	for i, u := range used {
		if !u {
			return d, nil, notCanonical("replica %q is not used", replicas[i])
		}
	}
	skel := skeletonSorted(d.Runs, &p)
	if overlapsDead(explicit, skel) {
		return d, nil, notCanonical("deleted ranges repeat runs without content")
	}
	d.Deleted = unionDead(explicit, skel)
	return d, explicit, nil
}

// readDeleted reads the deleted column: ranges sorted by replica index.
func readDeleted(r *msgpackx.Reader, replicaAt func(uint64) (crdt.ReplicaID, error)) ([]Dead, error) {
	ngroups := r.ArrayHeader()
	var explicit []Dead
	prevRidx := -1
	for g := 0; g < ngroups && r.Err() == nil; g++ {
		if r.ArrayHeader() != 2 {
			return nil, errors.New("deleted entry is not [replica, ranges]")
		}
		ridx := r.Uint()
		if r.Err() != nil {
			break
		}
		replica, err := replicaAt(ridx)
		if err != nil {
			return nil, err
		}
		if int(ridx) <= prevRidx {
			return nil, notCanonical("deleted entries not sorted by replica at %d", g)
		}
		prevRidx = int(ridx)
		n := r.ArrayHeader()
		if n == 0 || n%2 != 0 {
			return nil, fmt.Errorf("deleted ranges of %q: %d numbers, want a positive even count", replica, n)
		}
		var prev uint64
		for j := 0; j < n/2 && r.Err() == nil; j++ {
			start, length := r.Uint(), r.Uint()
			lo := start
			if j > 0 {
				if prev > crdt.MaxCounter || start > crdt.MaxCounter {
					return nil, errors.New("deleted range overflows")
				}
				lo = prev + 2 + start
			}
			hi := lo + length
			if lo == 0 || hi < lo || hi > crdt.MaxCounter {
				return nil, fmt.Errorf("deleted range [%d, %d] of %q is invalid", lo, hi, replica)
			}
			explicit = append(explicit, Dead{replica, crdt.Range{Lo: lo, Hi: hi}})
			prev = hi
		}
	}
	return explicit, r.Err()
}

// continues reports whether b could be folded into a (Delta.appendRun).
func continues(a, b *Run) bool {
	return a.ID.Replica == b.ID.Replica && a.last().Counter+1 == b.ID.Counter && b.Left == a.last() &&
		b.Right == a.Right && (a.Text == "") == (b.Text == "")
}

func readDot(v *varints, replicaAt func(uint64) (crdt.ReplicaID, error)) (crdt.Dot, error) {
	ridx, c := v.next(), v.next()
	if v.err != nil {
		return crdt.Dot{}, v.err
	}
	replica, err := replicaAt(ridx)
	if err != nil {
		return crdt.Dot{}, err
	}
	if c == 0 || c > crdt.MaxCounter {
		return crdt.Dot{}, fmt.Errorf("%w: origin counter %d", ErrCounter, c)
	}
	return crdt.Dot{Replica: replica, Counter: c}, nil
}

// binPayload returns the payload of one msgpack bin value, refusing a
// longer header than its length needs.
func binPayload(raw []byte) ([]byte, error) {
	if len(raw) == 0 {
		return nil, errors.New("run column missing")
	}
	var hdr int
	switch raw[0] {
	case 0xc4:
		hdr = 2
	case 0xc5:
		hdr = 3
	case 0xc6:
		hdr = 5
	default:
		return nil, fmt.Errorf("run column is not a bin (0x%02x)", raw[0])
	}
	n := len(raw) - hdr
	if (hdr == 3 && n <= 0xff) || (hdr == 5 && n <= 0xffff) {
		return nil, notCanonical("bin of %d bytes with a %d-byte header", n, hdr)
	}
	return raw[hdr:], nil
}

// overlapsDead reports whether two normalized range lists share a dot.
func overlapsDead(a, b []Dead) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && (b[j].Replica < x.Replica || b[j].Replica == x.Replica && b[j].Hi < x.Lo) {
			j++
		}
		if j < len(b) && b[j].Replica == x.Replica && b[j].Lo <= x.Hi {
			return true
		}
	}
	return false
}
