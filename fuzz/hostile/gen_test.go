package hostile

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// input hands out the fuzzer's bytes; past the end it gives zeros, so every
// input, however short, is a complete program.
type input struct {
	b []byte
	i int
}

func (in *input) done() bool { return in.i >= len(in.b) }

func (in *input) byte() byte {
	if in.i >= len(in.b) {
		return 0
	}
	in.i++
	return in.b[in.i-1]
}

func (in *input) bit() bool { return in.byte()&1 == 1 }

// intn returns a number below n (n ≤ 65536) from two bytes.
func (in *input) intn(n int) int {
	v := int(in.byte())<<8 | int(in.byte())
	return v % n
}

// bytes returns up to n of the remaining bytes.
func (in *input) bytes(n int) []byte {
	n = min(n, len(in.b)-in.i)
	out := in.b[in.i : in.i+n]
	in.i += n
	return out
}

// Generators: the first byte of each step picks one, the bytes after it
// parameterise it. The numbers are part of the seed corpus's meaning:
// append new ones, do not renumber.
const (
	genOp          = 0  // an edit of the attacker's own replica, possibly concurrent with the honest ones
	genInterleaved = 1  // contexts of ranges 2,4,6… then 3,5,7…
	genWall        = 2  // huge, negative and extreme HLC wall and logical times
	genNaN         = 3  // NaN and ±Inf positions and heights
	genNonCanon    = 4  // a valid delta written non-canonically
	genForeign     = 5  // dots and context ranges of honest replicas
	genDrag        = 6  // huge Drag maps, hostile coordinates
	genPresence    = 7  // a presence flood
	genJoins       = 8  // joins of many workflows
	genVouch       = 9  // forged and replayed receipts
	genRandom      = 10 // random bytes as a frame
	genMutate      = 11 // the previous frame with bytes flipped
	genRejoin      = 12 // leave, then join again with a hostile context
	genParent      = 13 // a parentId written by hand: itself, a non-container, a block that never existed
	numGenerators  = 14
)

// attacker is the fuzzer's member of the room.
type attacker struct {
	*peer
	in     *input
	wf     string
	honest []crdt.ReplicaID
	own    uint64 // the greatest counter of its own replica it has spent
	last   []byte // the last frame sent
	joins  int
}

// nextCounter spends one of the attacker's own dots.
func (a *attacker) nextCounter() uint64 {
	a.own = max(a.own, a.doc.Context().Max(a.replica)) + 1
	// Recorded in its own document too, so that its next operation spends
	// a new dot.
	a.doc.Context().Add(crdt.Dot{Replica: a.replica, Counter: a.own})
	return a.own
}

func (a *attacker) sendRaw(b []byte) {
	a.last = b
	a.peer.sendRaw(b)
}

func (a *attacker) send(f protocol.Frame) { a.sendRaw(protocol.AppendFrame(nil, f)) }

func (a *attacker) sendDelta(raw []byte) {
	a.ops++
	a.send(&protocol.Delta{WorkflowID: a.wf, OpID: fmt.Sprintf("x-op-%d", a.ops), Delta: raw})
}

var (
	attackIDs      = []string{"b1", "b2", "b3", "loop1", "par1", "x1", "x2"}
	attackTypes    = []string{"agent", "loop", "parallel", "api"}
	containerIDs   = []string{"loop1", "par1", "x1", "x2", "b1"}
	hostileWalls   = []int64{-(1 << 60), -(1 << 53), 1<<53 - 1, 1 << 53, math.MinInt64, math.MaxInt64, 0, -1}
	hostileLogical = []uint64{0, 1, math.MaxUint32 - 1, math.MaxUint32}
	hostileFloats  = []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64, 0, 1e300, math.SmallestNonzeroFloat64}
)

// step sends the frames of one generator.
func (a *attacker) step() {
	switch g := int(a.in.byte()) % numGenerators; g {
	case genOp:
		a.sendDelta(a.opDelta())
	case genInterleaved:
		a.interleaved()
	case genWall:
		a.wallTimes()
	case genNaN:
		a.nanValues()
	case genNonCanon:
		a.nonCanonical()
	case genForeign:
		a.foreign()
	case genDrag:
		a.drag()
	case genPresence:
		a.presence()
	case genJoins:
		a.manyJoins()
	case genVouch:
		a.vouch()
	case genRandom:
		a.sendRaw(a.in.bytes(1 + a.in.intn(4096)))
	case genMutate:
		a.mutate()
	case genRejoin:
		a.rejoin()
	case genParent:
		a.parent()
	}
}

// opDelta makes an edit on the attacker's replica. Its document may be
// stale (it does not merge what it is sent), so its adds and moves can be
// concurrent with the honest members' ones.
func (a *attacker) opDelta() []byte {
	in := a.in
	id := attackIDs[in.intn(len(attackIDs))]
	var op workflow.Op
	switch in.intn(7) {
	case 0, 1:
		b := workflow.BlockInput{ID: id, Type: attackTypes[in.intn(len(attackTypes))], Name: fmt.Sprintf("X %d", in.byte()),
			Position: &workflow.Position{X: float64(in.byte()), Y: 1}}
		if in.bit() {
			b.Data = map[string]any{"parentId": containerIDs[in.intn(len(containerIDs))], "extent": "parent"}
		}
		op = workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{b}}
	case 2:
		op = workflow.UpdateParent{ID: id, ParentID: containerIDs[in.intn(len(containerIDs))], Extent: "parent"}
	case 3:
		op = workflow.UpdateName{ID: id, NewName: fmt.Sprintf("renamed %d", in.byte())}
	case 4:
		op = workflow.BatchRemoveBlocks{IDs: []string{id}}
	case 5:
		op = workflow.AddEdge{Edge: workflow.EdgeInput{ID: fmt.Sprintf("xe%d", in.byte()%4), Source: id,
			Target: attackIDs[in.intn(len(attackIDs))]}}
	default:
		op = workflow.UpdatePosition{ID: id, Position: workflow.Position{X: float64(in.intn(5000)), Y: -3}}
	}
	d, err := a.doc.Apply(a.clock.Now(time.Now().UnixMilli()), op)
	if err != nil {
		// The op does not apply to this replica's view: add a block of
		// its own instead, by hand.
		return a.entryDelta(fmt.Sprintf("x%d", in.byte()%8), workflow.FieldName, time.Now().UnixMilli(), 0,
			msgpackx.AppendString(nil, "fallback")).encode(spelling{})
	}
	a.own = max(a.own, a.doc.Context().Max(a.replica))
	return d.Encode()
}

// entryDelta is a block membership plus one field of it, both under the
// attacker's next dots, written at wall and logical.
func (a *attacker) entryDelta(id, field string, wall int64, logical uint64, value []byte) rawDelta {
	c1, c2 := a.nextCounter(), a.nextCounter()
	rep := string(a.replica)
	return rawDelta{
		ctx: []rawRanges{{replica: rep, ranges: []crdt.Range{{Lo: 1, Hi: c2}}}},
		entries: []rawEntry{
			{kind: workflow.KindBlock, id: id, replica: rep, counter: c1, wall: wall, logical: logical},
			{kind: workflow.KindBlockField, id: id, sub: field, replica: rep, counter: c2, wall: wall, logical: logical, value: value},
		},
	}
}

// interleaved sends contexts whose ranges interleave with each other: the
// first delta holds every second counter, the next the ones between. A
// context that merges them one range at a time into a sorted slice does
// quadratic work.
func (a *attacker) interleaved() {
	n := 1024 * (1 + int(a.in.byte())%80) // up to 81,920 ranges (~160 KiB): seconds of quadratic work, not minutes
	rep := a.replica
	if a.in.byte()%4 == 0 {
		rep = a.honest[0]
	}
	base := a.own + 2
	both := a.in.bit()
	half := func(parity uint64) []byte {
		rs := make([]crdt.Range, n)
		for i := range rs {
			c := base + 2*uint64(i) + parity
			rs[i] = crdt.Range{Lo: c, Hi: c}
		}
		return rawDelta{ctx: []rawRanges{{replica: string(rep), ranges: rs}}}.encode(spelling{})
	}
	if rep == a.replica {
		a.own = base + 2*uint64(n)
		a.doc.Context().AddRange(rep, crdt.Range{Lo: 1, Hi: a.own})
	}
	a.sendDelta(half(0))
	if both {
		a.sendDelta(half(1))
	}
}

func (a *attacker) wallTimes() {
	now := time.Now().UnixMilli()
	walls := slices.Concat(hostileWalls, []int64{now - 365*24*3600*1000, now + 4*60*1000, now + 10*60*1000})
	wall := walls[a.in.intn(len(walls))]
	logical := hostileLogical[a.in.intn(len(hostileLogical))]
	id := attackIDs[a.in.intn(len(attackIDs))]
	a.sendDelta(a.entryDelta(id, workflow.FieldName, wall, logical, msgpackx.AppendString(nil, "wall")).encode(spelling{}))
}

func (a *attacker) nanValues() {
	x := hostileFloats[a.in.intn(len(hostileFloats))]
	y := hostileFloats[a.in.intn(len(hostileFloats))]
	id := attackIDs[a.in.intn(len(attackIDs))]
	now := time.Now().UnixMilli()
	if a.in.bit() {
		a.sendDelta(a.entryDelta(id, workflow.FieldHeight, now, 0, float64Value(x)).encode(spelling{}))
		return
	}
	a.sendDelta(a.entryDelta(id, workflow.FieldPosition, now, 0, positionValue(x, y)).encode(spelling{}))
}

func (a *attacker) nonCanonical() {
	s := spelling{}
	for s == (spelling{}) {
		bits := a.in.byte()
		if a.in.done() && bits == 0 {
			bits = 1
		}
		s = spelling{groupsReversed: bits&1 != 0, splitGroups: bits&2 != 0, unusedReplica: bits&4 != 0,
			ctxReversed: bits&8 != 0, widened: bits&16 != 0}
	}
	raw := a.entryDelta(attackIDs[a.in.intn(len(attackIDs))], workflow.FieldName, time.Now().UnixMilli(), 0,
		msgpackx.AppendString(nil, "noncanon"))
	// A second replica in the context, so that context order matters.
	raw.ctx = append(raw.ctx, rawRanges{replica: string(a.honest[0]), ranges: []crdt.Range{{Lo: 1, Hi: 1}}})
	a.sendDelta(raw.encode(s))
}

// foreign writes under an honest replica's dots, or names its counters in
// the context: the room may take neither from this member.
func (a *attacker) foreign() {
	victim := string(a.honest[a.in.intn(len(a.honest))])
	counter := []uint64{1, 2, 3, 5, 40, crdt.MaxCounter}[a.in.intn(6)]
	own := string(a.replica)
	c := a.nextCounter()
	raw := rawDelta{ctx: []rawRanges{
		{replica: own, ranges: []crdt.Range{{Lo: 1, Hi: c}}},
		{replica: victim, ranges: []crdt.Range{{Lo: 1, Hi: counter}}},
	}}
	if a.in.bit() {
		raw.entries = append(raw.entries, rawEntry{kind: workflow.KindBlockField, id: attackIDs[a.in.intn(len(attackIDs))],
			sub: workflow.FieldName, replica: victim, counter: counter, wall: time.Now().UnixMilli(),
			value: msgpackx.AppendString(nil, "forged")})
	}
	a.sendDelta(raw.encode(spelling{}))
}

func (a *attacker) drag() {
	n := 1 + a.in.intn(20000)
	pos := make(map[string]protocol.Point, n)
	x := hostileFloats[a.in.intn(len(hostileFloats))]
	if a.in.byte()%4 != 0 && math.IsNaN(x) {
		x = 1 // NaN is refused by the frame decoder; keep most drags decodable
	}
	for i := range n {
		id := fmt.Sprintf("d%d", i)
		if i < len(attackIDs) {
			id = attackIDs[i]
		}
		pos[id] = protocol.Point{X: x, Y: float64(i)}
	}
	a.send(&protocol.Drag{WorkflowID: a.wf, Positions: pos})
}

func (a *attacker) presence() {
	n := 1 + int(a.in.byte())
	for i := range n {
		a.send(&protocol.Presence{WorkflowID: a.wf, Cursor: &protocol.Point{X: float64(i), Y: 2},
			Selection: protocol.Selection{Type: "block", ID: attackIDs[i%len(attackIDs)]}})
	}
}

func (a *attacker) manyJoins() {
	n := 1 + int(a.in.byte())%48
	for range n {
		a.joins++
		a.send(&protocol.Join{WorkflowID: fmt.Sprintf("%s-other-%d", a.wf, a.joins)})
	}
}

func (a *attacker) vouch() {
	op := fmt.Sprintf("x-vouch-%d", a.ops)
	a.ops++
	var delta []byte
	rc := protocol.Receipt{KeyID: receiptKey.ID, MAC: make([]byte, 32)}
	switch a.in.intn(4) {
	case 0, 1:
		if len(a.kept) > 0 {
			k := a.kept[a.in.intn(len(a.kept))]
			delta, rc = k.delta, k.receipt
			if a.in.bit() { // the receipt, on other bytes
				delta = append([]byte(nil), delta...)
				delta[a.in.intn(len(delta))] ^= 1 << (a.in.byte() % 8)
			}
			break
		}
		fallthrough
	case 2: // a forged MAC on content of an honest replica
		victim := string(a.honest[0])
		delta = rawDelta{ctx: []rawRanges{{replica: victim, ranges: []crdt.Range{{Lo: 1, Hi: 1000}}}},
			entries: []rawEntry{{kind: workflow.KindBlock, id: "forged", replica: victim, counter: 1000, wall: time.Now().UnixMilli()}}}.encode(spelling{})
		copy(rc.MAC, a.in.bytes(32))
	default: // a key id the server does not hold
		delta = workflow.New().Encode()
		rc.KeyID = string(a.in.bytes(8))
	}
	a.send(&protocol.Vouch{WorkflowID: a.wf, OpID: op, Delta: delta, Receipt: rc})
}

func (a *attacker) mutate() {
	b := append([]byte(nil), a.last...)
	if len(b) == 0 {
		b = protocol.AppendFrame(nil, &protocol.Delta{WorkflowID: a.wf, OpID: "m", Delta: a.opDelta()})
	}
	for n := 1 + int(a.in.byte())%8; n > 0; n-- {
		i := a.in.intn(len(b))
		switch a.in.byte() % 3 {
		case 0:
			b[i] ^= 1 << (a.in.byte() % 8)
		case 1:
			b[i] = a.in.byte()
		default:
			b = append(b[:i:i], append([]byte{a.in.byte()}, b[i:]...)...)
		}
	}
	a.sendRaw(b)
}

// rejoin leaves the room and joins again with a hostile context: ranges
// that interleave with the room's, or non-canonical bytes.
func (a *attacker) rejoin() {
	a.send(&protocol.Leave{WorkflowID: a.wf})
	n := 1 + a.in.intn(40000)
	rs := make([]crdt.Range, n)
	for i := range rs {
		c := 2 + 2*uint64(i)
		rs[i] = crdt.Range{Lo: c, Hi: c}
	}
	rep := string(a.honest[a.in.intn(len(a.honest))])
	ctx := rawDelta{ctx: []rawRanges{{replica: rep, ranges: rs}}}.encode(spelling{widened: a.in.bit()})
	a.send(&protocol.Join{WorkflowID: a.wf, Context: ctx, TabSessionID: "tab-x"})
}

// parent writes a block's parentId by hand, past the checks an operation
// makes: the block itself, a block that is no container, one that never
// existed, or a container (concurrently with the honest members' moves).
func (a *attacker) parent() {
	id := attackIDs[a.in.intn(len(attackIDs))]
	parents := append([]string{id, "ghost", ""}, attackIDs...)
	p := parents[a.in.intn(len(parents))]
	v := msgpackx.AppendString(nil, p)
	if p == "" {
		v = nil
	}
	a.sendDelta(a.entryDelta(id, workflow.FieldParentID, time.Now().UnixMilli(), 0, v).encode(spelling{}))
}
