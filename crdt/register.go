package crdt

// Register is a value stamped with the hybrid logical time of its write. The
// writing replica is the replica of the dot the register is stored under, so
// it is not stored twice.
type Register[V any] struct {
	Wall    int64
	Logical uint32
	Value   V
}

// Stamp returns the register's full timestamp given the dot it is stored
// under.
func (r Register[V]) Stamp(d Dot) Timestamp {
	return Timestamp{Wall: r.Wall, Logical: r.Logical, Replica: d.Replica}
}

// Winner returns the index of the register that last-writer-wins picks among
// concurrent values: the greatest timestamp, then the greatest dot. It returns
// -1 for an empty slice.
func Winner[V any](es []Dotted[Register[V]]) int {
	best := -1
	for i := range es {
		if best < 0 || laterThan(es[i], es[best]) {
			best = i
		}
	}
	return best
}

func laterThan[V any](a, b Dotted[Register[V]]) bool {
	if c := a.Value.Stamp(a.Dot).Compare(b.Value.Stamp(b.Dot)); c != 0 {
		return c > 0
	}
	return compareDots(a.Dot, b.Dot) > 0
}
