package fuzz

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// Config parameterizes one simulation. Zero fields take the defaults.
type Config struct {
	Seed uint64
	// Steps is the number of scheduler steps. Default: 300.
	Steps int
	// Replicas is the number of replicas. Default: 5.
	Replicas int
	// DropRate is the probability that a delta sent to one peer is lost.
	// Default: 0.05.
	DropRate float64
	// DupRate is the probability that a delivered delta is delivered again
	// later. Default: 0.10.
	DupRate float64
	// CheckEvery compares merge(a, b) with merge(b, a) on every n-th
	// delivery. Default: 25.
	CheckEvery int
	// Source, when set, drives every random choice instead of a PCG seeded
	// with Seed (the native fuzz target feeds its input through it).
	Source rand.Source
}

func (c Config) withDefaults() Config {
	if c.Steps <= 0 {
		c.Steps = 300
	}
	if c.Replicas <= 0 {
		c.Replicas = 5
	}
	if c.DropRate == 0 {
		c.DropRate = 0.05
	}
	if c.DupRate == 0 {
		c.DupRate = 0.10
	}
	if c.CheckEvery <= 0 {
		c.CheckEvery = 25
	}
	return c
}

// Report counts what a simulation did.
type Report struct {
	Seed        uint64
	Steps       int
	Applied     int // operations that produced a delta
	Refused     int // operations refused with a typed error
	Delivered   int
	Dropped     int
	Duplicated  int
	AntiEntropy int // anti-entropy exchanges
	Blocks      int // visible blocks at the end
	Edges       int // visible edges at the end
	TextEdits   int // text-insert and text-delete operations applied
	TextChars   int // code points of the texts at the end
}

func (r Report) String() string {
	return fmt.Sprintf("seed=%d steps=%d applied=%d refused=%d delivered=%d dropped=%d duplicated=%d anti-entropy=%d blocks=%d edges=%d text-edits=%d text-chars=%d",
		r.Seed, r.Steps, r.Applied, r.Refused, r.Delivered, r.Dropped, r.Duplicated, r.AntiEntropy, r.Blocks, r.Edges, r.TextEdits, r.TextChars)
}

type replica struct {
	id     crdt.ReplicaID
	doc    *workflow.Doc
	clock  *crdt.Clock
	skew   int64
	inbox  []*workflow.Doc
	online bool
}

// Run simulates cfg and returns an error describing the first divergence or
// broken law, or nil when every replica converged.
func Run(cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	src := cfg.Source
	if src == nil {
		src = rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)
	}
	rng := rand.New(src)
	rep := Report{Seed: cfg.Seed, Steps: cfg.Steps}
	rs := make([]*replica, cfg.Replicas)
	for i := range rs {
		id := crdt.ReplicaID(fmt.Sprintf("r%d", i))
		rs[i] = &replica{id: id, doc: workflow.New(), clock: crdt.NewClock(id), skew: rng.Int64N(100) - 50, online: true}
	}
	wall := int64(1_700_000_000_000)
	deliveries := 0

	deliver := func(to *replica, i int) error {
		d := to.inbox[i]
		to.inbox = append(to.inbox[:i], to.inbox[i+1:]...)
		deliveries++
		if deliveries%cfg.CheckEvery == 0 {
			if err := checkCommutes(to.doc, d); err != nil {
				return err
			}
		}
		to.doc.Merge(d)
		to.observe(d, wall+to.skew)
		rep.Delivered++
		if deliveries%cfg.CheckEvery == 0 {
			if err := checkTree(to.doc, deliveries/cfg.CheckEvery); err != nil {
				return err
			}
		}
		if rng.Float64() < cfg.DupRate {
			// Deliver it again at a random later point.
			to.inbox = append(to.inbox, d)
			rep.Duplicated++
		}
		return nil
	}

	for step := 0; step < cfg.Steps; step++ {
		wall += rng.Int64N(4)
		r := rs[rng.IntN(len(rs))]
		switch p := rng.Float64(); {
		case p < 0.45: // a local edit
			op := randomOp(rng, r.doc)
			delta, err := r.doc.Apply(r.clock.Now(wall+r.skew), op)
			if err != nil {
				rep.Refused++
				continue
			}
			rep.Applied++
			switch op.(type) {
			case workflow.InsertText, workflow.DeleteText:
				rep.TextEdits++
			}
			for _, peer := range rs {
				if peer == r {
					continue
				}
				if !r.online || !peer.online || rng.Float64() < cfg.DropRate {
					rep.Dropped++
					continue
				}
				peer.inbox = append(peer.inbox, delta)
			}
		case p < 0.95: // deliver one queued message, chosen at random
			if len(r.inbox) > 0 && r.online {
				if err := deliver(r, rng.IntN(len(r.inbox))); err != nil {
					return rep, fmt.Errorf("step %d: %w", step, err)
				}
			}
		case p < 0.97: // disconnect, or reconnect with anti-entropy
			if r.online {
				r.online = false
				continue
			}
			r.online = true
			peer := rs[rng.IntN(len(rs))]
			if peer != r && peer.online {
				antiEntropy(r, peer)
				rep.AntiEntropy++
			}
		case p < 0.98: // flush everything queued to r
			for len(r.inbox) > 0 && r.online {
				if err := deliver(r, 0); err != nil {
					return rep, fmt.Errorf("step %d: %w", step, err)
				}
			}
		default: // anti-entropy between two online replicas
			peer := rs[rng.IntN(len(rs))]
			if peer != r && r.online && peer.online {
				antiEntropy(r, peer)
				rep.AntiEntropy++
			}
		}
	}

	// Quiescence: heal, drain every inbox, then repair losses.
	for _, r := range rs {
		r.online = true
		for len(r.inbox) > 0 {
			if err := deliver(r, rng.IntN(len(r.inbox))); err != nil {
				return rep, err
			}
		}
	}
	for i := range rs {
		for j := range rs {
			if i != j {
				antiEntropy(rs[i], rs[j])
				rep.AntiEntropy++
			}
		}
	}
	if err := checkConverged(rs); err != nil {
		return rep, err
	}
	for i := range 3 {
		if err := checkTree(rs[0].doc, rng.IntN(1<<20)+i); err != nil {
			return rep, fmt.Errorf("converged: %w", err)
		}
	}
	v := rs[0].doc.View()
	rep.Blocks, rep.Edges = len(v.Blocks), len(v.Edges)
	for id := range v.Blocks {
		rep.TextChars += rs[0].doc.TextLen(workflow.TextTarget{BlockID: id, SubBlockID: "prompt"})
	}
	return rep, nil
}

// antiEntropy sends to r what its causal context lacks from peer, as a
// reconnecting client or a rejoining node does.
func antiEntropy(r, peer *replica) {
	d := peer.doc.DeltaSince(r.doc.Context())
	r.doc.Merge(d)
	r.observe(d, 0) // the clock's own reading is ahead of 0
}

// observe moves r's clock past what it merged, as the clients and the rooms
// do, so that its later edits order after what they edit.
func (r *replica) observe(d *workflow.Doc, wallMillis int64) {
	if latest := d.Latest(); !latest.IsZero() {
		r.clock.Observe(latest, wallMillis)
	}
}

// checkCommutes verifies merge(a, d) = merge(d, a) on copies.
func checkCommutes(a, d *workflow.Doc) error {
	ad := a.Clone()
	ad.Merge(d)
	da := d.Clone()
	da.Merge(a)
	if !ad.Equal(da) {
		return fmt.Errorf("merge does not commute")
	}
	return nil
}

func checkConverged(rs []*replica) error {
	first := rs[0]
	enc := first.doc.Encode()
	view := first.doc.View()
	for _, r := range rs[1:] {
		if !r.doc.Equal(first.doc) {
			return fmt.Errorf("replica %s state differs from %s", r.id, first.id)
		}
		if !bytes.Equal(r.doc.Encode(), enc) {
			return fmt.Errorf("replica %s encoding differs from %s", r.id, first.id)
		}
		if !reflect.DeepEqual(r.doc.View(), view) {
			return fmt.Errorf("replica %s view differs from %s", r.id, first.id)
		}
	}
	// The encoding must round-trip to the same state.
	back, err := workflow.Decode(enc, workflow.DocLimits)
	if err != nil {
		return fmt.Errorf("decode converged state: %w", err)
	}
	if !back.Equal(first.doc) {
		return fmt.Errorf("decoded state differs")
	}
	return nil
}
