package workflow

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/google/uuid"
)

// handWrite mimics an LWW write without the operation builder: a delta that
// stores v under k with a fresh dot of replica and covers every value k held.
// It merges the delta into d and returns it.
func handWrite(d *Doc, replica crdt.ReplicaID, k Key, v Value, wall int64) *Doc {
	dot := crdt.Dot{Replica: replica, Counter: d.Context().Max(replica) + 1}
	delta := &Doc{}
	delta.Store().Put(k, dot, Cell{Wall: wall, Value: v})
	delta.Context().Add(dot)
	for _, e := range d.Store().Get(k) {
		delta.Context().Add(e.Dot)
	}
	d.Merge(delta)
	return delta
}

// contextEntryBytes is what one replica's context entry [1, n] adds to an
// encoding.
func contextEntryBytes(replica crdt.ReplicaID, n uint64) int {
	var one Doc
	one.Context().AddRange(replica, crdt.Range{Lo: 1, Hi: n})
	return len(one.Encode()) - len(New().Encode())
}

// TestOverwritesKeepEncodingSmall builds documents by hand (no operations):
// 10 blocks whose positions are written once, against the same blocks after
// 100,000 position writes. Overwritten values must leave nothing behind but
// the context, which costs one entry per writing replica.
func TestOverwritesKeepEncodingSmall(t *testing.T) {
	const nBlocks, nWrites = 10, 100_000
	pos := func(i int) Value { return positionValue(Position{X: float64(i), Y: float64(-i)}) }
	setup := func(replica crdt.ReplicaID) *Doc {
		d := New()
		for b := range nBlocks {
			id := fmt.Sprintf("block-%02d", b)
			handWrite(d, replica, blockKey(id), nil, 1)
			handWrite(d, replica, fieldKey(id, FieldPosition), pos(b), 1)
		}
		return d
	}
	base := setup("setup")
	sizeA := len(base.Encode())
	t.Logf("A: %d blocks, position written once: %d bytes", nBlocks, sizeA)

	for _, nReplicas := range []int{1, 3} {
		t.Run(fmt.Sprintf("replicas=%d", nReplicas), func(t *testing.T) {
			docs := make([]*Doc, nReplicas)
			ids := make([]crdt.ReplicaID, nReplicas)
			ctxBytes := 0
			for r := range docs {
				docs[r] = base.Clone()
				ids[r] = crdt.ReplicaID(fmt.Sprintf("user-%d", r))
				ctxBytes += contextEntryBytes(ids[r], nWrites)
			}
			for i := range nWrites {
				r := i % nReplicas
				k := fieldKey(fmt.Sprintf("block-%02d", i%nBlocks), FieldPosition)
				delta := handWrite(docs[r], ids[r], k, pos(i), int64(2+i))
				for o := range docs {
					if o != r {
						docs[o].Merge(delta)
					}
				}
			}
			for r := 1; r < nReplicas; r++ {
				if !docs[r].Equal(docs[0]) {
					t.Fatalf("replica %d differs from replica 0", r)
				}
			}
			d := docs[0]
			sizeB := len(d.Encode())
			limit := 2*sizeA + ctxBytes
			t.Logf("B: after %d position writes by %d replica(s): %d bytes (B/A = %.2f), limit 2A + %d context bytes = %d; %d values stored, %d context ranges",
				nWrites, nReplicas, sizeB, float64(sizeB)/float64(sizeA), ctxBytes, limit, d.Store().NumDots(), d.Context().NumRanges())
			if d.Store().NumDots() != 2*nBlocks {
				t.Errorf("%d values stored, want %d", d.Store().NumDots(), 2*nBlocks)
			}
			if sizeB > limit {
				t.Errorf("encoded size %d exceeds %d", sizeB, limit)
			}
		})
	}
}

// TestContextSizePerReplica reports what a causal context costs per replica
// id in a document's encoding: an empty store and 10,000 replicas, each with
// one range 1..k.
func TestContextSizePerReplica(t *testing.T) {
	const nReplicas = 10_000
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: the figures are a report
	uuids := make([]crdt.ReplicaID, nReplicas)
	short := make([]crdt.ReplicaID, nReplicas)
	for i := range nReplicas {
		var b [16]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		u, err := uuid.FromBytes(b[:])
		if err != nil {
			t.Fatal(err)
		}
		uuids[i] = crdt.ReplicaID(u.String())
		short[i] = crdt.ReplicaID(fmt.Sprintf("%016x", rng.Uint64()))
	}
	for _, ids := range []struct {
		name string
		ids  []crdt.ReplicaID
	}{{"uuid (36 chars)", uuids}, {"16 chars", short}} {
		for _, k := range []struct {
			name string
			max  func() uint64
		}{
			{"k=1", func() uint64 { return 1 }},
			{"k<=1000", func() uint64 { return 1 + rng.Uint64N(1000) }},
			{"k<=1e6", func() uint64 { return 1 + rng.Uint64N(1_000_000) }},
		} {
			d := New()
			for _, id := range ids.ids {
				d.Context().AddRange(id, crdt.Range{Lo: 1, Hi: k.max()})
			}
			enc := d.Encode()
			t.Logf("%s, %s: %d bytes for %d replicas = %.1f bytes per replica entry (%d of them the id string)",
				ids.name, k.name, len(enc), nReplicas, float64(len(enc))/nReplicas, len(msgpackx.AppendString(nil, string(ids.ids[0]))))
			got, err := Decode(enc, DocLimits)
			if err != nil || !got.Equal(d) {
				t.Fatalf("round trip: %v", err)
			}
		}
	}
}

func BenchmarkEncodeContext10kReplicas(b *testing.B) {
	d := New()
	for i := range 10_000 {
		d.Context().AddRange(crdt.ReplicaID(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Append(nil, i)).String()), crdt.Range{Lo: 1, Hi: uint64(1 + i%1000)})
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(d.Encode())
	}
	b.ReportMetric(float64(n)/10_000, "bytes/replica")
}
