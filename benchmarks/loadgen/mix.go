package loadgen

import (
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
)

// OpKind is one kind of operation a benchmark client sends.
type OpKind int

// Operation kinds.
const (
	// KindPosition moves the client's own block (UpdatePosition); x carries
	// the send time.
	KindPosition OpKind = iota
	// KindSubBlock types into a sub-block of the client's own block
	// (UpdateSubBlock with a keystroke-sized value that starts with the
	// send time).
	KindSubBlock
	// KindStructural steps through a cycle of structural edits: add a
	// block, add an edge to it, remove the edge, add a loop container,
	// move the block into it, remove the container (which removes the
	// block). The adds carry the send time in their position.
	KindStructural
	// KindDrag sends a live Drag frame for the client's own block (never
	// stored, relayed latest-wins); x carries the send time.
	KindDrag
	numKinds
)

var kindNames = [numKinds]string{"position", "subblock", "structural", "drag"}

func (k OpKind) String() string {
	if k >= 0 && k < numKinds {
		return kindNames[k]
	}
	return "OpKind(" + strconv.Itoa(int(k)) + ")"
}

// Mix is the relative weight of each operation kind. A client picks each
// operation's kind at random with these weights.
type Mix [numKinds]int

// Named mixes, kept from the first slice of the harness.
const (
	MixMixed     = "mixed"     // position=50,subblock=50
	MixPositions = "positions" // position=100
	MixTyping    = "typing"    // subblock=100
)

// ParseMix reads "position=50,subblock=40,structural=10" (kinds: position,
// subblock, structural, drag; weights are relative, need not add to 100)
// or one of the named mixes. The empty string is MixMixed.
func ParseMix(s string) (Mix, error) {
	var m Mix
	switch strings.TrimSpace(s) {
	case "", MixMixed:
		m[KindPosition], m[KindSubBlock] = 50, 50
		return m, nil
	case MixPositions:
		m[KindPosition] = 100
		return m, nil
	case MixTyping:
		m[KindSubBlock] = 100
		return m, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return m, fmt.Errorf("loadgen: mix %q: want kind=weight, got %q", s, part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return m, fmt.Errorf("loadgen: mix %q: bad weight %q", s, w)
		}
		k := OpKind(-1)
		for i, kn := range kindNames {
			if strings.TrimSpace(name) == kn {
				k = OpKind(i)
			}
		}
		if k < 0 {
			return m, fmt.Errorf("loadgen: mix %q: unknown kind %q (want position, subblock, structural or drag)", s, name)
		}
		m[k] += n
	}
	if m.total() == 0 {
		return m, fmt.Errorf("loadgen: mix %q: all weights are zero", s)
	}
	return m, nil
}

func (m Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}

// String renders the mix as ParseMix reads it, zero weights left out.
func (m Mix) String() string {
	var parts []string
	for k, w := range m {
		if w > 0 {
			parts = append(parts, kindNames[k]+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}

// Has reports whether kind k has a non-zero weight.
func (m Mix) Has(k OpKind) bool { return m[k] > 0 }

// Durable reports whether the mix has any operation the server stores
// (every kind but drag).
func (m Mix) Durable() bool { return m.total() > m[KindDrag] }

// pick draws a kind with the mix's weights.
func (m Mix) pick(rng *mrand.Rand) OpKind {
	n := rng.IntN(m.total())
	for k, w := range m {
		if n < w {
			return OpKind(k)
		}
		n -= w
	}
	return KindPosition
}
