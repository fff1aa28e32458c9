package workflow

// Properties of the undo manager, over random histories of the whole
// vocabulary (opGen, model_prop_test.go):
//
//	go test ./crdt/workflow -run UndoProp -rapid.checks=1000
//	go test ./crdt/workflow -run UndoProp -rapid.seed=N   # replay a failure
//
//   - TestUndoPropRestoresMyView: with nobody else editing, undoing an edit
//     gives back the view before it and redoing it the view after; undoing
//     a whole history gives back the empty view, redoing it the last one.
//     Edits that lock a block are left out: an undo leaves locked blocks
//     alone (the lock rule), so it cannot remove a block added locked.
//   - TestUndoPropLeavesOthersEdits: an undo never changes what another
//     replica's edit shows: every key whose visible value another replica
//     wrote keeps that value, unless the undo removed its element (an add
//     undone) or, for an edge, one of its ends.
//   - TestUndoPropConverges: two replicas edit, undo and redo at random,
//     syncing at random points; every undo delta passes the server's Vet,
//     and after a final sync both hold the same state and view.

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"pgregory.net/rapid"
)

// roughModel is a model good enough for opGen to draw ids from, rebuilt
// from a view after undos (which the model does not follow).
func roughModel(v *View) *model {
	m := newModel()
	for id, b := range v.Blocks {
		mb := &mBlock{Type: b.Type, Name: b.Name, Pos: b.Position, Enabled: b.Enabled, Locked: b.Locked,
			HorizontalHandles: b.HorizontalHandles, Data: map[string]any{}, Modes: map[string]string{}, Subs: map[string]*mSub{}}
		mb.Parent = b.Data["parentId"].asString()
		mb.Extent = b.Data["extent"].asString()
		for sid := range b.SubBlocks {
			mb.Subs[sid] = &mSub{}
		}
		m.blocks[id] = mb
		if IsContainer(b.Type) {
			m.subflows[id] = map[string]any{}
		}
	}
	for _, e := range v.Edges {
		m.edges[e.ID] = e
	}
	for id, x := range v.Variables {
		m.vars[id] = &mVar{Name: x.Name, Type: x.Type}
	}
	return m
}

// uEdit draws an operation and applies it as r's local edit; false when the
// document refused it, or when unlocked is set and it would lock a block.
func uEdit(rt *rapid.T, g *opGen, r *uReplica, unlocked bool) (Op, bool) {
	op := g.op()
	ts := r.now()
	delta, err := r.d.Prepare(ts, op)
	if err != nil {
		return op, false
	}
	if unlocked {
		locks := false
		delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
			locks = locks || (k.Kind == KindBlockField && k.Sub == FieldLocked && es[0].Value.Value.asBool(false))
			return !locks
		})
		if locks {
			return op, false
		}
	}
	r.m.Record(r.d, delta, ts)
	r.d.Merge(delta)
	return op, true
}

func TestUndoPropRestoresMyView(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		wall := int64(1_000)
		r := newUReplica(t, "r1", &wall, New())
		g := &opGen{t: rt, m: newModel()}
		empty := r.view()
		n := 1 + g.uniform("nOps", 30)
		for i := range n {
			g.m = roughModel(r.view())
			before := r.view()
			op, ok := uEdit(rt, g, r, true)
			if !ok {
				continue
			}
			after := r.view()
			rt.Logf("#%d %s", i, describe(op))
			if diffViews(after, before) == "" {
				// Nothing visible changed (a field cleared that was unset):
				// nothing to check, and maybe no entry at all.
				continue
			}
			s, err := r.m.PrepareUndo(r.d, r.now())
			if err != nil || s.skipped > 0 {
				// The edit changed nothing the view shows (it removed hidden
				// values only): nothing to restore.
				if diff := diffViews(after, before); diff != "" {
					rt.Fatalf("#%d %s: undo found nothing (%v) but the edit changed the view:\n%s", i, describe(op), err, diff)
				}
				continue
			}
			r.d.Merge(s.Delta)
			s.Commit()
			if diff := diffViews(r.view(), before); diff != "" {
				rt.Fatalf("#%d undo of %s: the view (got) is not the one before (want):\n%s", i, describe(op), diff)
			}
			r.redo()
			if diff := diffViews(r.view(), after); diff != "" {
				rt.Fatalf("#%d redo of %s: the view (got) is not the one after (want):\n%s", i, describe(op), diff)
			}
		}
		final := r.view()
		undone := 0
		for {
			if _, err := r.m.Undo(r.d, r.now()); errors.Is(err, ErrNothingToUndo) {
				break
			} else if err != nil {
				rt.Fatalf("undo #%d: %v", undone, err)
			}
			undone++
		}
		if diff := diffViews(r.view(), empty); diff != "" {
			rt.Fatalf("after undoing all %d entries the view is not empty:\n%s", undone, diff)
		}
		for r.m.CanRedo() {
			r.redo()
		}
		if diff := diffViews(r.view(), final); diff != "" {
			rt.Fatalf("after redoing all the view (got) is not the last one (want):\n%s", diff)
		}
	})
}

// visibleByOthers returns the keys whose current value, in a live element,
// was written by a replica other than me, with that value.
func visibleByOthers(d *Doc, me crdt.ReplicaID) map[Key]string {
	out := map[Key]string{}
	d.store.Range(func(k Key, _ []crdt.Dotted[Cell]) bool {
		w, ok := current(d, k)
		if !ok || w.Dot.Replica == me || !elementShows(d, k) {
			return true
		}
		out[k] = string(w.Value.Value)
		return true
	})
	return out
}

// elementShows reports whether k's element is live, and for an edge both
// its ends.
func elementShows(d *Doc, k Key) bool {
	ent := entityOf(k)
	if !d.has(memberKey(ent)) {
		return false
	}
	if ent.kind == KindEdge {
		e := d.get(edgeKey(k.ID)).asEdge()
		return d.has(blockKey(e.Source)) && d.has(blockKey(e.Target))
	}
	return true
}

func TestUndoPropLeavesOthersEdits(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		wall := int64(1_000)
		alice := newUReplica(t, "alice", &wall, New())
		bob := newUReplica(t, "bob", &wall, New())
		g := &opGen{t: rt, m: newModel()}
		for i := range 1 + g.uniform("nSteps", 40) {
			switch g.uniform("step", 6) {
			case 0, 1:
				g.m = roughModel(alice.view())
				if op, ok := uEdit(rt, g, alice, false); ok {
					rt.Logf("#%d alice %s", i, describe(op))
				}
			case 2, 3:
				g.m = roughModel(bob.view())
				if op, ok := uEdit(rt, g, bob, false); ok {
					rt.Logf("#%d bob %s", i, describe(op))
				}
			case 4:
				rt.Logf("#%d sync", i)
				uSync(alice, bob)
			case 5:
				theirs := visibleByOthers(alice.d, "alice")
				if _, err := alice.m.Undo(alice.d, alice.now()); err != nil {
					continue
				}
				rt.Logf("#%d alice undoes", i)
				for k, v := range theirs {
					if !elementShows(alice.d, k) {
						continue // the undo removed the element (an add undone)
					}
					w, ok := current(alice.d, k)
					if !ok || string(w.Value.Value) != v {
						rt.Fatalf("#%d alice's undo changed %v, which bob wrote", i, k)
					}
				}
			}
		}
	})
}

func TestUndoPropConverges(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		wall := int64(1_000)
		rs := []*uReplica{newUReplica(t, "alice", &wall, New()), newUReplica(t, "bob", &wall, New())}
		g := &opGen{t: rt, m: newModel()}
		for i := range 1 + g.uniform("nSteps", 50) {
			r := rs[g.uniform("who", 2)]
			switch g.uniform("step", 7) {
			case 0, 1, 2:
				g.m = roughModel(r.view())
				if op, ok := uEdit(rt, g, r, false); ok {
					rt.Logf("#%d %s %s", i, r.c.Replica(), describe(op))
				}
			case 3:
				rt.Logf("#%d sync", i)
				uSync(rs...)
			case 4, 5, 6:
				redo := g.coin("redo", 3)
				prepare := r.m.PrepareUndo
				if redo {
					prepare = r.m.PrepareRedo
				}
				s, err := prepare(r.d, r.now())
				if err != nil {
					continue
				}
				rt.Logf("#%d %s redo=%v", i, r.c.Replica(), redo)
				if _, err := r.d.Vet(s.Delta, r.c.Replica()); err != nil {
					rt.Fatalf("#%d the server would refuse the inverse: %v", i, err)
				}
				r.d.Merge(s.Delta)
				s.Commit()
			}
		}
		uSync(rs...)
		if !rs[0].d.Equal(rs[1].d) {
			rt.Fatalf("states differ after the final sync")
		}
		if diff := diffViews(rs[0].view(), rs[1].view()); diff != "" {
			rt.Fatalf("views differ after the final sync:\n%s", diff)
		}
	})
}
