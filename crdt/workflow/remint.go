package workflow

import (
	"sort"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// Remint returns a copy of d in which the dots of replica from that which
// holds are renamed to dots of replica to: the k-th smallest counter of from
// in which (counting from 0) becomes to's counter start+k. Values keep their
// hybrid timestamps, and the context keeps every other dot, so a reminted
// delta still covers exactly what the original covered: the same edit, made
// by another replica.
//
// It is how a replica that learns its id was reused with a different history
// (it lost local state) rescues its unsent edits: their dots may be held
// elsewhere with other content, so they move to a fresh id before anything
// sends them. Re-preparing the operations instead would run them against a
// newer document, which may refuse them or change what they mean, and needs
// the operations kept besides the deltas.
//
// The renaming depends only on which and start, never on d, so reminting the
// document and each of its outbox deltas with the same arguments renames a
// dot the same way everywhere. to must hold no counter at or above start in
// d (a fresh id does not), else the renamed dots could collide with it;
// Remint refuses that, from == to, start 0, and a range that would pass
// crdt.MaxCounter, with ErrInvalid.
func (d *Doc) Remint(from, to crdt.ReplicaID, which *crdt.Context, start uint64) (*Doc, error) {
	if from == "" || to == "" || from == to {
		return nil, errorf(ErrInvalid, "remint from %q to %q", from, to)
	}
	if start == 0 {
		return nil, errorf(ErrInvalid, "remint counters start at 1")
	}
	if m := d.ctx.Max(to); m >= start {
		return nil, errorf(ErrInvalid, "replica %q already holds counter %d, at or above %d", to, m, start)
	}
	rn := newRenamer(which.Ranges(from), start)
	if rn.total > 0 && rn.total-1 > crdt.MaxCounter-start {
		return nil, errorf(ErrInvalid, "reminting %d dots from %d passes the counter limit", rn.total, start)
	}
	out := &Doc{}
	for _, r := range d.ctx.Replicas() {
		for _, rg := range d.ctx.Ranges(r) {
			if r != from {
				out.ctx.AddRange(r, rg)
				continue
			}
			rn.splitRange(rg, func(part crdt.Range, renamed bool) {
				if renamed {
					out.ctx.AddRange(to, crdt.Range{Lo: rn.rename(part.Lo), Hi: rn.rename(part.Hi)})
				} else {
					out.ctx.AddRange(from, part)
				}
			})
		}
	}
	d.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			dot := e.Dot
			if dot.Replica == from && rn.has(dot.Counter) {
				dot = crdt.Dot{Replica: to, Counter: rn.rename(dot.Counter)}
			}
			out.store.Put(k, dot, e.Value)
		}
		return true
	})
	out.texts = remintTexts(d.texts, from, to, rn)
	return out, nil
}

// remintTexts renames the dots of from in records: a record's id (its
// marker's dot), its items, their origins and its deleted dots, so that
// unsent typing moves to the new id with the marker it types into.
func remintTexts(texts map[crdt.Dot]*textRec, from, to crdt.ReplicaID, rn *renamer) map[crdt.Dot]*textRec {
	if len(texts) == 0 {
		return nil
	}
	dot := func(d crdt.Dot) crdt.Dot {
		if d.Replica == from && rn.has(d.Counter) {
			return crdt.Dot{Replica: to, Counter: rn.rename(d.Counter)}
		}
		return d
	}
	out := make(map[crdt.Dot]*textRec, len(texts))
	for m, r := range texts {
		td := r.since(nil)
		var nd text.Delta
		for _, run := range td.Runs {
			if run.ID.Replica != from {
				run.Left, run.Right = dot(run.Left), dot(run.Right)
				nd.Runs = append(nd.Runs, run)
				continue
			}
			rn.splitRange(crdt.Range{Lo: run.ID.Counter, Hi: run.Last().Counter}, func(part crdt.Range, renamed bool) {
				piece := text.CutRun(run, part.Lo, part.Hi)
				piece.ID, piece.Left, piece.Right = dot(piece.ID), dot(piece.Left), dot(piece.Right)
				nd.Runs = append(nd.Runs, piece)
			})
		}
		for _, x := range td.Deleted {
			if x.Replica != from {
				nd.Deleted = append(nd.Deleted, x)
				continue
			}
			rn.splitRange(x.Range, func(part crdt.Range, renamed bool) {
				if renamed {
					nd.Deleted = append(nd.Deleted, text.Dead{Replica: to, Range: crdt.Range{Lo: rn.rename(part.Lo), Hi: rn.rename(part.Hi)}})
				} else {
					nd.Deleted = append(nd.Deleted, text.Dead{Replica: from, Range: part})
				}
			})
		}
		nr := newTextRec()
		nr.add(&nd)
		out[dot(m)] = nr
	}
	return out
}

// renamer maps the counters of a sorted set of ranges onto consecutive
// counters from start.
type renamer struct {
	ranges []crdt.Range
	base   []uint64 // base[i]: the new counter of ranges[i].Lo
	total  uint64   // counters in ranges
}

func newRenamer(ranges []crdt.Range, start uint64) *renamer {
	rn := &renamer{ranges: ranges, base: make([]uint64, len(ranges))}
	for i, r := range ranges {
		rn.base[i] = start + rn.total
		rn.total += r.Hi - r.Lo + 1
	}
	return rn
}

// find returns the index of the first range that ends at or after c.
func (rn *renamer) find(c uint64) int {
	return sort.Search(len(rn.ranges), func(i int) bool { return rn.ranges[i].Hi >= c })
}

func (rn *renamer) has(c uint64) bool {
	i := rn.find(c)
	return i < len(rn.ranges) && rn.ranges[i].Lo <= c
}

// rename returns c's new counter; c must be in the set.
func (rn *renamer) rename(c uint64) uint64 {
	i := rn.find(c)
	return rn.base[i] + (c - rn.ranges[i].Lo)
}

// splitRange calls fn with the parts of rg in order, each wholly inside one
// range of the set (renamed) or wholly outside it. A part inside one range
// renames to a contiguous run, which is why parts never straddle ranges.
func (rn *renamer) splitRange(rg crdt.Range, fn func(part crdt.Range, renamed bool)) {
	lo := rg.Lo
	for i := rn.find(lo); i < len(rn.ranges) && rn.ranges[i].Lo <= rg.Hi; i++ {
		in := rn.ranges[i]
		if in.Lo > lo {
			fn(crdt.Range{Lo: lo, Hi: in.Lo - 1}, false)
			lo = in.Lo
		}
		hi := min(in.Hi, rg.Hi)
		fn(crdt.Range{Lo: lo, Hi: hi}, true)
		if hi == rg.Hi {
			return
		}
		lo = hi + 1
	}
	fn(crdt.Range{Lo: lo, Hi: rg.Hi}, false)
}
