package workflow

import (
	"errors"
	"fmt"
	"math"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// Caps bound the work one delta can make its receiver do, counted rather
// than measured in bytes: merging costs per value, per replica and per
// context range, and checking a value costs per msgpack node, so a byte
// limit alone lets 1 MiB carry a hundred thousand of each. Decode refuses
// a delta beyond a cap as soon as a count header passes it, before
// allocating or merging anything for it. A zero field is no cap (the range
// cap of MaxRanges(lim) always applies).
type Caps struct {
	// MaxValues caps the entries (values) of the store.
	MaxValues int
	// MaxReplicas caps the replica table, and so the context's replicas.
	MaxReplicas int
	// MaxRanges caps the context's ranges in all (below MaxRanges(lim)).
	MaxRanges int
	// MaxValueNodes caps the msgpack nodes of all embedded values together
	// (msgpackx.CheckCanonicalNodes counts them): deep or wide values.
	MaxValueNodes int
}

// DeltaCaps bound a delta that a client or a cluster peer sends: what a
// server merges in its room loop, where every member waits for it. They
// sit far above an honest edit (adding a block writes a few dozen values
// and names one or two replicas) and keep the worst delta of each shape to
// a few milliseconds (BENCHMARKS.md). Larger honest payloads travel as
// several deltas: EncodeChunks cuts by these counts, so every chunk is
// admitted. Stored documents, and what a server sends its clients
// (catch-up, Joined), are not held to them.
var DeltaCaps = Caps{
	MaxValues:     2048,
	MaxReplicas:   4096,
	MaxRanges:     32768,
	MaxValueNodes: 65536,
}

// Errors of the caps, each wrapped in ErrMalformed by Decode.
var (
	// ErrTooManyValues: the store holds more entries than Caps.MaxValues.
	ErrTooManyValues = errors.New("workflow: delta has too many values")
	// ErrTooManyReplicas: the replica table is longer than Caps.MaxReplicas.
	ErrTooManyReplicas = errors.New("workflow: delta names too many replicas")
	// ErrTooManyValueNodes: the embedded values hold more msgpack nodes
	// than Caps.MaxValueNodes.
	ErrTooManyValueNodes = errors.New("workflow: delta values hold too many nodes")
	// ErrTooManyNodes: the input holds more msgpack nodes than any delta
	// within the caps can (Caps.maxNodes): it passes some cap, and the walk
	// that checks its form stops there rather than cross the rest.
	ErrTooManyNodes = errors.New("workflow: delta holds more nodes than the caps allow")
)

// maxNodes is how many msgpack nodes a delta within c (resolved) holds at
// most: the top level 4; per replica its id and 3 for its context entry;
// per range 2 numbers; per value a group's 4 (every group holds one at
// least) and an entry's 7 (nil counted); and the values' own nodes. A cap
// left unbounded leaves this unbounded too.
func (c Caps) maxNodes() int {
	const most = math.MaxInt / 64
	if c.MaxReplicas > most || c.MaxRanges > most || c.MaxValues > most || c.MaxValueNodes > most {
		return math.MaxInt
	}
	return 4 + 4*c.MaxReplicas + 2*c.MaxRanges + 11*c.MaxValues + c.MaxValueNodes
}

// IsOverCap reports whether err is a refusal for exceeding a count cap
// (values, replicas, ranges or value nodes) rather than a malformed input:
// the delta would be admissible cut into several (EncodeChunks).
func IsOverCap(err error) bool {
	return errors.Is(err, ErrTooManyValues) || errors.Is(err, ErrTooManyReplicas) ||
		errors.Is(err, ErrTooManyRanges) || errors.Is(err, ErrTooManyValueNodes) ||
		errors.Is(err, ErrTooManyNodes)
}

// DecodeDelta decodes a delta a client or a cluster peer sent: Decode
// under DeltaLimits and DeltaCaps.
func DecodeDelta(b []byte) (*Doc, error) {
	return DecodeCapped(b, DeltaLimits, DeltaCaps)
}

// resolved returns caps with every zero field unbounded and the range cap
// at most MaxRanges(lim).
func (c Caps) resolved(lim msgpackx.Limits) Caps {
	unbounded := func(n int) int {
		if n <= 0 {
			return math.MaxInt
		}
		return n
	}
	c.MaxValues = unbounded(c.MaxValues)
	c.MaxReplicas = unbounded(c.MaxReplicas)
	c.MaxValueNodes = unbounded(c.MaxValueNodes)
	c.MaxRanges = min(unbounded(c.MaxRanges), MaxRanges(lim))
	return c
}

// Counts is what a document holds of each thing Caps bound.
type Counts struct {
	Values, Replicas, Ranges, ValueNodes int
}

// Counts counts what d holds of each thing Caps bound.
func (d *Doc) Counts() Counts {
	c := Counts{Values: d.store.NumDots() + d.textValues(), Replicas: d.ctx.NumReplicas(), Ranges: d.ctx.NumRanges()}
	d.store.Range(func(_ Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			c.ValueNodes += valueNodes(e.Value.Value)
		}
		return true
	})
	return c
}

// Within reports whether c satisfies caps (zero fields unbounded).
func (c Counts) Within(caps Caps) bool {
	caps = caps.resolved(msgpackx.Limits{MaxBytes: math.MaxInt / 2})
	return c.Values <= caps.MaxValues && c.Replicas <= caps.MaxReplicas &&
		c.Ranges <= caps.MaxRanges && c.ValueNodes <= caps.MaxValueNodes
}

// valueNodes counts the msgpack nodes of a stored value (0 for none).
func valueNodes(v Value) int {
	if len(v) == 0 || v[0] == 0xc0 {
		return 0
	}
	n, err := msgpackx.CheckCanonicalNodes(v, math.MaxInt)
	if err != nil {
		// Stored values passed the canonical checks; count it as large
		// so that a caller cutting by counts isolates it.
		return math.MaxInt / 4
	}
	return n
}

func overCap(sentinel error, limit int) error {
	return fmt.Errorf("%w: more than %d", sentinel, limit)
}

// SafeBytes returns a size up to which no encoding can pass caps, so that a
// sender need not count what it sends: an entry takes at least 7 bytes, a
// replica 7 (its table entry and its context entry), a range 2 and a value
// node 1.
func (c Caps) SafeBytes() int {
	c = c.resolved(msgpackx.Limits{MaxBytes: math.MaxInt / 2})
	const most = math.MaxInt / 8
	return min(min(c.MaxValues, c.MaxReplicas, most)*7, min(c.MaxRanges, most)*2, c.MaxValueNodes)
}
