package workflow

// Property: the index a document keeps up to date merge by merge equals the
// one rebuilt from its store, and DeltaSince through the index equals the
// whole-store computation, after random operations, merges between three
// replicas, and decode round trips.
//
//	go test ./crdt/workflow -run ModelIndex -rapid.checks=500
//	go test ./crdt/workflow -run ModelIndex -rapid.seed=N   # replay a failure

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"pgregory.net/rapid"
)

func TestModelIndexMatchesRebuild(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		replicas := []crdt.ReplicaID{"r0", "r1", "r2"}
		docs := make([]*Doc, len(replicas))
		clocks := make([]*crdt.Clock, len(replicas))
		for i, r := range replicas {
			docs[i], clocks[i] = New(), crdt.NewClock(r)
		}
		// The model only steers the generator (its pools); replicas diverge
		// from it as soon as they merge, so it is not updated.
		g := &opGen{t: rt, m: newModel()}
		var deltas []*Doc
		named := false // a context named counters a replica had not spent
		wall := int64(1_000)
		n := 1 + g.uniform("steps", 80)
		for step := range n {
			i := g.uniform("replica", len(docs))
			d := docs[i]
			switch a := g.uniform("action", 11); {
			case a < 5:
				op := g.op()
				wall += 10
				delta, err := d.Apply(clocks[i].Now(wall), op)
				if err != nil {
					rt.Logf("#%d r%d refused %s: %v", step, i, describe(op), err)
					continue
				}
				rt.Logf("#%d r%d %s", step, i, describe(op))
				deltas = append(deltas, delta)
			case a < 7:
				j := g.uniform("from", len(docs))
				have := d.Context().Clone()
				want := sinceByScan(docs[j], have)
				got := docs[j].DeltaSince(have)
				if !got.Equal(want) {
					rt.Fatalf("#%d DeltaSince r%d→r%d through the index differs from the scan", step, j, i)
				}
				// CatchUp sends fewer removed dots, and makes the same
				// state (deaths.go).
				lean := docs[j].CatchUp(have)
				viaLean := d.Clone()
				viaLean.Merge(lean)
				rt.Logf("#%d r%d merges r%d's DeltaSince", step, i, j)
				d.Merge(got)
				// (Unless a context named counters not spent yet, case 10:
				// a later edit spending them would look seen.)
				if !named && !viaLean.Equal(d) {
					rt.Fatalf("#%d r%d merged with r%d's CatchUp differs from merged with its DeltaSince", step, i, j)
				}
				clocks[i].Observe(d.Latest(), wall)
			case a < 9 && len(deltas) > 0:
				k := g.uniform("delta", len(deltas))
				rt.Logf("#%d r%d merges delta %d", step, i, k)
				d.Merge(deltas[k])
				clocks[i].Observe(d.Latest(), wall)
			case a == 10:
				// A context wider than the document: every counter of a
				// replica up to far past its writes (Merge must keep the
				// index without walking them).
				r := replicas[g.uniform("wide", len(replicas))]
				wide := &Doc{}
				wide.ctx.AddRange(r, crdt.Range{Lo: 1 + uint64(g.uniform("lo", 3)), Hi: d.ctx.Max(r) + 1_000_000})
				rt.Logf("#%d r%d merges a removal of %s's counters %v", step, i, r, wide.ctx.Ranges(r))
				d.Merge(wide)
				named = true
			default:
				rt.Logf("#%d r%d decodes its encoding", step, i)
				d2, err := Decode(d.Encode(), DocLimits)
				if err != nil {
					rt.Fatalf("decode: %v", err)
				}
				docs[i] = d2
				d = d2
			}
			if g.coin("build", 3) {
				d.index() // an index from here on is kept up to date by Merge
			}
			for k, d := range docs {
				if d.idx == nil {
					continue
				}
				if diff := diffIndex(d, d.idx, buildIndex(d)); diff != "" {
					rt.Fatalf("after #%d replica r%d's index differs from a rebuilt one: %s", step, k, diff)
				}
			}
		}
	})
}

// sinceByScan is DeltaSince by a walk of the whole store.
func sinceByScan(d *Doc, have *crdt.Context) *Doc {
	store, ctx := d.store.Since(&d.ctx, have)
	return &Doc{ctx: *ctx, store: *store, texts: d.textsSince(have, "", nil, nil)}
}

// diffIndex compares an incrementally kept index with a rebuilt one.
func diffIndex(d *Doc, got, want *docIndex) string {
	var out []string
	check := func(what string, g, w any) {
		if gs, ws := fmt.Sprint(g), fmt.Sprint(w); gs != ws {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", what, gs, ws))
		}
	}
	check("parent", got.parent, want.parent)
	check("children", setsOf(got.children), setsOf(want.children))
	check("name", got.name, want.name)
	check("names", setsOf(got.names), setsOf(want.names))
	check("shared", got.shared, want.shared)
	ends := func(m map[string][]string) map[string][]string {
		o := map[string][]string{}
		for k, v := range m {
			o[k] = slices.Sorted(slices.Values(v))
		}
		return o
	}
	check("ends", ends(got.ends), ends(want.ends))
	check("edgesAt", setsOf(got.edgesAt), setsOf(want.edgesAt))
	held := func(x *docIndex) map[crdt.ReplicaID][]uint64 {
		o := map[crdt.ReplicaID][]uint64{}
		for r, c := range x.dots {
			var all []uint64
			c.all(func(n uint64) { all = append(all, n) })
			if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) {
				out = append(out, fmt.Sprintf("counters of %s not sorted", r))
			}
			for _, b := range c.blocks {
				if len(b.cs) == 0 || len(b.cs) > counterBlockMax {
					out = append(out, fmt.Sprintf("counters of %s: a block of %d", r, len(b.cs)))
				}
			}
			for _, n := range all {
				if d.store.Has(crdt.Dot{Replica: r, Counter: n}) {
					o[r] = append(o[r], n)
				}
			}
		}
		return o
	}
	check("held dots", held(got), held(want))
	if !got.removedDots().Equal(want.removedDots()) {
		out = append(out, "removed dots differ")
	}
	return strings.Join(out, "; ")
}

func setsOf(m map[string]map[string]struct{}) map[string][]string {
	o := map[string][]string{}
	for k, s := range m {
		o[k] = slices.Sorted(maps.Keys(s))
	}
	return o
}

// warmIndex builds d's index, as the first operation or join would: the
// benchmarks measure a long-lived document.
func warmIndex(d *Doc) { d.index() }
