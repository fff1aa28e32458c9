package text

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// The golden vectors pin the text encoding, merge and admission so that the
// TypeScript replica in clients/js (test/text_conformance.test.ts) can prove
// it is byte-identical to this package: scripted edits between replicas
// with every delta's bytes and each replica's final state, a slice of a
// real editing trace, decoder mutants with Go's verdict, and hostile deltas
// with Admit's and Merge's verdicts and the state a merge leaves. The file
// is regenerated in memory on every run and compared with the committed
// one, so a change to the encoding cannot silently leave the other
// language behind:
//
//	go test ./crdt/text -run TestGolden -update

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden/vectors.json instead of comparing against it")

const goldenPath = "testdata/golden/vectors.json"

type goldenFile struct {
	Version int            `json:"version"`
	Scripts []goldenScript `json:"scripts"`
	Trace   goldenTrace    `json:"trace"`
	Decode  []goldenDecode `json:"decode"`
	// AdmitBase is the state every Admit entry starts from.
	AdmitBase string        `json:"admitBase"`
	Admit     []goldenAdmit `json:"admit"`
}

// goldenScript is a run of edits and exchanges between replicas. A step is
// one of: a local insert or delete (Replica, Insert or Delete, and Delta:
// the bytes it returned), the merge of an earlier step's delta (Replica,
// MergeStep), or a catch-up (Replica merges Since.DeltaSince(Replica's
// context), whose bytes are Delta). Final holds each replica's text,
// encoded whole state and a few anchors. The TypeScript → Go file has the same shape.
type goldenScript struct {
	Name     string                 `json:"name"`
	Replicas []string               `json:"replicas"`
	Steps    []goldenStep           `json:"steps"`
	Final    map[string]goldenFinal `json:"final"`
}

type goldenStep struct {
	Replica   string        `json:"replica"`
	Insert    *goldenInsert `json:"insert,omitempty"`
	Delete    *goldenDelete `json:"delete,omitempty"`
	MergeStep *int          `json:"mergeStep,omitempty"`
	Since     string        `json:"since,omitempty"`
	Delta     string        `json:"delta,omitempty"`
}

type goldenInsert struct {
	Pos  int    `json:"pos"`
	Text string `json:"text"`
}

type goldenDelete struct {
	Pos int `json:"pos"`
	N   int `json:"n"`
}

type goldenFinal struct {
	Text  string `json:"text"`
	State string `json:"state"`
	// Anchors are the stable positions of a few indexes of the final text
	// (0, the middle, the end), each as [index, after-dot replica, counter].
	Anchors [][3]any `json:"anchors,omitempty"`
}

// goldenTrace is the first Patches patches of a trace in testdata applied
// as local edits of Replica: the final text and state, and the catch-up a
// replica holding the first half would be sent.
type goldenTrace struct {
	Name      string `json:"name"`
	Replica   string `json:"replica"`
	Patches   int    `json:"patches"`
	Text      string `json:"text"`
	State     string `json:"state"`
	Half      int    `json:"half"`
	SinceHalf string `json:"sinceHalf"`
}

// goldenDecode is one input to DecodeDelta under DeltaLimits and Go's
// verdict: Error is "" (accepted: Delta is the re-encoding, always the
// input), "FormatVersion", "NotCanonical", "TooManyItems" or "Malformed".
type goldenDecode struct {
	Bytes string `json:"bytes"`
	Error string `json:"error,omitempty"`
	Delta string `json:"delta,omitempty"`
}

// goldenAdmit is a delta (as JSON: it need not be encodable) offered by
// Sender to a replica holding AdmitBase: Admit's verdict, Merge's verdict,
// and the state the merge leaves (the base when refused).
type goldenAdmit struct {
	Sender string      `json:"sender"`
	Delta  goldenDelta `json:"delta"`
	Admit  string      `json:"admit,omitempty"`
	Merge  string      `json:"merge,omitempty"`
	After  string      `json:"after"`
}

type goldenDelta struct {
	Runs    []goldenRun  `json:"runs"`
	Deleted []goldenDead `json:"deleted"`
}

type goldenRun struct {
	ID    goldenDot `json:"id"`
	Len   int       `json:"len"`
	Text  string    `json:"text"`
	Left  goldenDot `json:"left"`
	Right goldenDot `json:"right"`
}

// goldenDot is [replica, counter]; ["", 0] is none.
type goldenDot [2]any

type goldenDead struct {
	Replica string `json:"replica"`
	Lo      uint64 `json:"lo"`
	Hi      uint64 `json:"hi"`
}

func toGoldenDot(d crdt.Dot) goldenDot { return goldenDot{string(d.Replica), d.Counter} }

func toGoldenDelta(d Delta) goldenDelta {
	g := goldenDelta{Runs: []goldenRun{}, Deleted: []goldenDead{}}
	for _, r := range d.Runs {
		g.Runs = append(g.Runs, goldenRun{toGoldenDot(r.ID), r.Len, r.Text, toGoldenDot(r.Left), toGoldenDot(r.Right)})
	}
	for _, x := range d.Deleted {
		g.Deleted = append(g.Deleted, goldenDead{string(x.Replica), x.Lo, x.Hi})
	}
	return g
}

var b64 = base64.StdEncoding

// errorCode names err the way the TypeScript TextError codes do: the Go
// sentinel without "Err", the most specific first.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range []struct {
		code string
		err  error
	}{
		{"FormatVersion", ErrFormatVersion}, {"NotCanonical", ErrNotCanonical}, {"TooManyItems", ErrTooManyItems},
		{"Malformed", ErrMalformed},
		{"ForeignDot", ErrForeignDot}, {"MissingOrigin", ErrMissingOrigin}, {"UnknownDelete", ErrUnknownDelete},
		{"OriginOrder", ErrOriginOrder}, {"ChangedItem", ErrChangedItem}, {"OriginCycle", ErrOriginCycle},
		{"NoContent", ErrNoContent}, {"Overlap", ErrOverlap}, {"Counter", ErrCounter}, {"InvalidUTF8", ErrInvalidUTF8},
		{"BadRun", ErrBadRun}, {"Range", ErrRange}, {"Replica", ErrReplica},
	} {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "unclassified: " + err.Error()
}

// scriptRunner plays a goldenScript on Go replicas; record fills in the
// deltas, check compares them.
type scriptRunner struct {
	tb   testing.TB
	docs map[string]*Text
}

func newScriptRunner(tb testing.TB, replicas []string) *scriptRunner {
	s := &scriptRunner{tb: tb, docs: map[string]*Text{}}
	for _, r := range replicas {
		s.docs[r] = New()
	}
	return s
}

func (s *scriptRunner) doc(where, id string) *Text {
	d := s.docs[id]
	if d == nil {
		s.tb.Fatalf("%s: unknown replica %q", where, id)
	}
	return d
}

// step applies step i of sc and returns the bytes of the delta it made or
// merged (nil for a merge of an earlier step).
func (s *scriptRunner) step(sc *goldenScript, i int) []byte {
	st := &sc.Steps[i]
	where := sc.Name + " step " + strconv.Itoa(i)
	t := s.doc(where, st.Replica)
	var d Delta
	var err error
	switch {
	case st.Insert != nil:
		d, err = t.Insert(crdt.ReplicaID(st.Replica), st.Insert.Pos, st.Insert.Text)
	case st.Delete != nil:
		d, err = t.Delete(st.Delete.Pos, st.Delete.N)
	case st.MergeStep != nil:
		k := *st.MergeStep
		if k < 0 || k >= i || sc.Steps[k].Delta == "" {
			s.tb.Fatalf("%s: merges step %d, which has no delta", where, k)
		}
		b, _ := b64.DecodeString(sc.Steps[k].Delta)
		dd, err := DecodeDelta(b, DeltaLimits)
		if err != nil {
			s.tb.Fatalf("%s: %v", where, err)
		}
		if err := t.Merge(dd); err != nil {
			s.tb.Fatalf("%s: %v", where, err)
		}
		return nil
	case st.Since != "":
		d = s.doc(where, st.Since).DeltaSince(t.Context())
		b := Encode(&d)
		back, err := DecodeDelta(b, StateLimits)
		if err != nil {
			s.tb.Fatalf("%s: %v", where, err)
		}
		if err := t.Merge(back); err != nil {
			s.tb.Fatalf("%s: %v", where, err)
		}
		return b
	default:
		s.tb.Fatalf("%s: empty step", where)
	}
	if err != nil {
		s.tb.Fatalf("%s: %v", where, err)
	}
	return Encode(&d)
}

func (s *scriptRunner) final(replicas []string) map[string]goldenFinal {
	out := map[string]goldenFinal{}
	for _, r := range replicas {
		t := s.docs[r]
		st := t.DeltaSince(nil)
		f := goldenFinal{Text: t.String(), State: b64.EncodeToString(Encode(&st))}
		for _, pos := range []int{0, t.Len() / 2, t.Len()} {
			a, err := t.Anchor(pos)
			if err != nil {
				s.tb.Fatal(err)
			}
			if back, err := t.Resolve(a); err != nil || back != pos {
				s.tb.Fatalf("anchor of %d resolves to %d (%v)", pos, back, err)
			}
			f.Anchors = append(f.Anchors, [3]any{pos, string(a.After.Replica), a.After.Counter})
		}
		out[r] = f
	}
	return out
}

// record plays sc and fills in every delta and the final states.
func recordScript(tb testing.TB, sc goldenScript) goldenScript {
	s := newScriptRunner(tb, sc.Replicas)
	for i := range sc.Steps {
		if b := s.step(&sc, i); b != nil {
			sc.Steps[i].Delta = b64.EncodeToString(b)
		}
	}
	sc.Final = s.final(sc.Replicas)
	return sc
}

// checkScript plays a recorded sc and fails where Go's bytes differ.
func checkScript(tb testing.TB, sc goldenScript) {
	s := newScriptRunner(tb, sc.Replicas)
	for i := range sc.Steps {
		b := s.step(&sc, i)
		if b == nil {
			continue
		}
		if got := b64.EncodeToString(b); got != sc.Steps[i].Delta {
			want, _ := b64.DecodeString(sc.Steps[i].Delta)
			tb.Fatalf("%s step %d: delta differs\n recorded: %x\n go:       %x", sc.Name, i, want, b)
		}
	}
	for r, want := range s.final(sc.Replicas) {
		got := sc.Final[r]
		ga, _ := json.Marshal(got.Anchors)
		wa, _ := json.Marshal(want.Anchors)
		if got.Text != want.Text || got.State != want.State || !bytes.Equal(ga, wa) {
			tb.Fatalf("%s: final state of %s differs\n recorded: %q %s %s\n go:       %q %s %s", sc.Name, r, got.Text, got.State, ga, want.Text, want.State, wa)
		}
	}
}

func ins(r string, pos int, s string) goldenStep {
	return goldenStep{Replica: r, Insert: &goldenInsert{pos, s}}
}
func del(r string, pos, n int) goldenStep {
	return goldenStep{Replica: r, Delete: &goldenDelete{pos, n}}
}
func mergeStep(r string, k int) goldenStep {
	return goldenStep{Replica: r, MergeStep: &k}
}
func since(r, from string) goldenStep { return goldenStep{Replica: r, Since: from} }

// goldenScripts are the hand-written scripts and seeded random ones.
func goldenScripts(tb testing.TB) []goldenScript {
	scripts := []goldenScript{
		{Name: "protocol-example", Replicas: []string{"alice", "bob"}, Steps: []goldenStep{
			ins("alice", 0, "hi"), mergeStep("bob", 0), ins("alice", 2, " you"), ins("bob", 2, "!!"),
			mergeStep("alice", 3), mergeStep("bob", 2), del("alice", 1, 1), mergeStep("bob", 6),
		}},
		{Name: "concurrent-words", Replicas: []string{"a", "b", "c"}, Steps: []goldenStep{
			ins("a", 0, "[]"), since("b", "a"), since("c", "a"),
			ins("a", 1, "h"), ins("a", 2, "e"), ins("a", 3, "y"),
			ins("b", 1, "Y"), ins("b", 1, "O"), ins("b", 1, "U"), // typed backwards
			ins("c", 1, "日本😀"), del("c", 2, 1),
			since("a", "b"), since("a", "c"), since("b", "a"), since("c", "b"),
		}},
		{Name: "delete-before-insert", Replicas: []string{"alice", "carol"}, Steps: []goldenStep{
			ins("alice", 0, "abc"), del("alice", 1, 1), mergeStep("carol", 1), mergeStep("carol", 0),
			ins("carol", 2, "é"), since("alice", "carol"),
		}},
	}
	rng := rand.New(rand.NewPCG(17, 1))
	words := []string{"a", "bc", "é", "日本", "😀x", "hello ", "\n"}
	for k := range 4 {
		names := []string{"r1", "r2", "r3"}
		sc := goldenScript{Name: fmt.Sprintf("random-%d", k), Replicas: names}
		lens := map[string]int{}
		s := newScriptRunner(tb, names)
		for range 80 {
			r := names[rng.IntN(3)]
			var st goldenStep
			switch n := lens[r]; {
			case rng.IntN(5) == 0:
				st = since(r, names[rng.IntN(3)])
			case n > 0 && rng.IntN(3) == 0:
				pos := rng.IntN(n)
				st = del(r, pos, 1+rng.IntN(min(5, n-pos)))
			default:
				st = ins(r, rng.IntN(n+1), words[rng.IntN(len(words))])
			}
			sc.Steps = append(sc.Steps, st)
			s.step(&sc, len(sc.Steps)-1)
			lens[r] = s.docs[r].Len()
		}
		for _, a := range names {
			for _, b := range names {
				if a != b {
					sc.Steps = append(sc.Steps, since(a, b))
				}
			}
		}
		scripts = append(scripts, sc)
	}
	for i := range scripts {
		scripts[i] = recordScript(tb, scripts[i])
	}
	return scripts
}

// traceSlice is how much of automerge-paper the vectors replay: enough to
// split, join and delete across leaves, small enough for a test file.
const traceSlice = 4000

func goldenTraceSlice(tb testing.TB) goldenTrace {
	tr := loadTrace(tb, "automerge-paper")
	ps := tr.patches()[:traceSlice]
	half, _ := replay(tb, tr, ps[:traceSlice/2], false)
	t, _ := replay(tb, tr, ps, false)
	st := t.DeltaSince(nil)
	sh := t.DeltaSince(half.Context())
	return goldenTrace{
		Name: "automerge-paper", Replica: "a", Patches: traceSlice, Text: t.String(),
		State: b64.EncodeToString(Encode(&st)), Half: traceSlice / 2, SinceHalf: b64.EncodeToString(Encode(&sh)),
	}
}

// goldenDecodes mutates encodings from the scripts (truncated, a byte
// changed, inserted or removed) and adds hand-built hostile inputs.
func goldenDecodes(scripts []goldenScript) []goldenDecode {
	var seeds [][]byte
	for _, sc := range scripts[:3] {
		for _, st := range sc.Steps {
			if st.Delta != "" {
				b, _ := b64.DecodeString(st.Delta)
				seeds = append(seeds, b)
			}
		}
		for _, r := range sc.Replicas {
			b, _ := b64.DecodeString(sc.Final[r].State)
			seeds = append(seeds, b)
		}
	}
	rng := rand.New(rand.NewPCG(17, 2))
	var inputs [][]byte
	for _, s := range seeds {
		inputs = append(inputs, s)
		for range 16 {
			m := bytes.Clone(s)
			switch rng.IntN(4) {
			case 0:
				m = m[:rng.IntN(len(m))]
			case 1:
				m[rng.IntN(len(m))] ^= byte(1 + rng.IntN(255))
			case 2:
				i := rng.IntN(len(m) + 1)
				m = append(m[:i:i], append([]byte{byte(rng.IntN(256))}, s[i:]...)...)
			case 3:
				i := rng.IntN(len(m))
				m = append(m[:i:i], s[i+1:]...)
			}
			inputs = append(inputs, m)
		}
	}
	// A deleted run of 2^30 items: a few bytes claiming a billion items.
	huge := Delta{Runs: []Run{{ID: crdt.Dot{Replica: "m", Counter: 1}, Len: 1 << 30}},
		Deleted: []Dead{{"m", crdt.Range{Lo: 1, Hi: 1 << 30}}}}
	inputs = append(inputs, Encode(&huge))
	// A run at the last counter, and one past it.
	last := Delta{Runs: []Run{{ID: crdt.Dot{Replica: "m", Counter: crdt.MaxCounter}, Len: 1, Text: "x"}}}
	inputs = append(inputs, Encode(&last))
	last.Runs[0].Len, last.Runs[0].Text = 2, "xy"
	inputs = append(inputs, Encode(&last))
	// Invalid UTF-8 in the text column, and a replica table out of order.
	inputs = append(inputs,
		[]byte{1, 0x94, 0x91, 0xa1, 'm', 0xc4, 0x03, 0x03, 0x00, 0x00, 0xa1, 0xff, 0x90},
		[]byte{1, 0x94, 0x92, 0xa1, 'n', 0xa1, 'm', 0xc4, 0x03, 0x03, 0x00, 0x00, 0xa1, 'x', 0x90},
		[]byte{2, 0x94, 0x90, 0xc4, 0x00, 0xa0, 0x90},
		[]byte{1, 0x94, 0x90, 0xc4, 0x00, 0xa0, 0x90},
		[]byte{1, 0x94, 0x90, 0xc5, 0x00, 0x00, 0xa0, 0x90},
	)
	var out []goldenDecode
	for _, b := range inputs {
		g := goldenDecode{Bytes: b64.EncodeToString(b)}
		d, err := DecodeDelta(b, DeltaLimits)
		if err != nil {
			g.Error = errorCode(err)
		} else {
			g.Delta = b64.EncodeToString(Encode(&d))
		}
		out = append(out, g)
	}
	return out
}

// goldenAdmits offers hostile and honest deltas of sender "m" to bases.
func goldenAdmits(tb testing.TB) (string, []goldenAdmit) {
	rng := rand.New(rand.NewPCG(17, 3))
	base := New()
	mustD := func(d Delta, err error) Delta {
		if err != nil {
			tb.Fatal(err)
		}
		return d
	}
	mustD(base.Insert("a", 0, "hello world"))
	b2 := clone(tb, base)
	base.Merge(mustD(b2.Insert("b", 5, ",")))
	mustD(base.Delete(2, 3))
	mustD(base.Insert("m", 0, "Mé"))
	dots := contextDots(base.Context())
	baseState := base.DeltaSince(nil)
	baseBytes := b64.EncodeToString(Encode(&baseState))
	origin := func() crdt.Dot {
		switch rng.IntN(12) {
		case 0, 1:
			return crdt.Dot{}
		case 2, 3, 4, 5, 6:
			return dots[rng.IntN(len(dots))]
		case 7, 8, 9, 10:
			return crdt.Dot{Replica: "m", Counter: uint64(1 + rng.IntN(10))}
		}
		return crdt.Dot{Replica: "z", Counter: 1}
	}
	var deltas []Delta
	// Honest edits of m, and the same with one origin changed.
	for range 30 {
		m := clone(tb, base)
		for range 1 + rng.IntN(3) {
			if m.Len() > 0 && rng.IntN(3) == 0 {
				pos := rng.IntN(m.Len())
				mustD(m.Delete(pos, 1+rng.IntN(min(3, m.Len()-pos))))
			} else {
				mustD(m.Insert("m", rng.IntN(m.Len()+1), []string{"x", "yz", "😀"}[rng.IntN(3)]))
			}
		}
		d := m.DeltaSince(base.Context())
		deltas = append(deltas, d)
		if len(d.Runs) > 0 {
			h := Delta{Runs: append([]Run(nil), d.Runs...), Deleted: d.Deleted}
			r := &h.Runs[rng.IntN(len(h.Runs))]
			switch rng.IntN(3) {
			case 0:
				r.Left = origin()
			case 1:
				r.Right = origin()
			case 2:
				r.Left, r.Right = r.Right, r.Left
			}
			deltas = append(deltas, h)
		}
	}
	// Deltas drawn at random.
	for range 120 {
		var d Delta
		next := uint64(1 + rng.IntN(3))
		for range 1 + rng.IntN(4) {
			r := Run{ID: crdt.Dot{Replica: "m", Counter: next}, Left: origin(), Right: origin()}
			if rng.IntN(5) == 0 {
				r.Len = 1 + rng.IntN(3)
				d.Deleted = append(d.Deleted, Dead{"m", crdt.Range{Lo: r.ID.Counter, Hi: r.ID.Counter + uint64(r.Len) - 1}})
			} else {
				r.Text = []string{"q", "rs", "日", "tuv"}[rng.IntN(4)]
				r.Len = len([]rune(r.Text))
			}
			d.Runs = append(d.Runs, r)
			// Mostly disjoint runs (an overlap is refused before anything
			// else is looked at), in a shuffled order.
			next += uint64(r.Len + rng.IntN(2))
			if rng.IntN(8) == 0 {
				next = uint64(1 + rng.IntN(8))
			}
		}
		rng.Shuffle(len(d.Runs), func(i, j int) { d.Runs[i], d.Runs[j] = d.Runs[j], d.Runs[i] })
		for range rng.IntN(3) {
			if o := origin(); o != (crdt.Dot{}) {
				d.Deleted = append(d.Deleted, Dead{o.Replica, crdt.Range{Lo: o.Counter, Hi: o.Counter + uint64(rng.IntN(3))}})
			}
		}
		deltas = append(deltas, d)
	}
	var out []goldenAdmit
	for i, d := range deltas {
		sender := "m"
		if i%25 == 7 {
			sender = "a"
		}
		g := goldenAdmit{Sender: sender, Delta: toGoldenDelta(d)}
		t := clone(tb, base)
		g.Admit = errorCode(t.Admit(&d, crdt.ReplicaID(sender)))
		g.Merge = errorCode(t.Merge(d))
		after := t.DeltaSince(nil)
		g.After = b64.EncodeToString(Encode(&after))
		out = append(out, g)
	}
	return baseBytes, out
}

func buildGolden(tb testing.TB) goldenFile {
	scripts := goldenScripts(tb)
	base, admits := goldenAdmits(tb)
	return goldenFile{
		Version:   1,
		Scripts:   scripts,
		Trace:     goldenTraceSlice(tb),
		Decode:    goldenDecodes(scripts),
		AdmitBase: base,
		Admit:     admits,
	}
}

func TestGolden(t *testing.T) {
	g := buildGolden(t)
	for _, sc := range g.Scripts {
		checkScript(t, sc)
	}
	for i, d := range g.Decode {
		if d.Error == "" && d.Delta != d.Bytes {
			t.Fatalf("decode %d: accepted input re-encodes differently", i)
		}
	}
	got, err := json.MarshalIndent(g, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *updateGolden {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (write it with go test ./crdt/text -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: the encoding or an operation changed; rerun with -update and run the TypeScript conformance tests (clients/js test/text_conformance.test.ts)", goldenPath)
	}
}

// TestTSVectors is the TypeScript → Go half: the SDK's
// test/text_ts_vectors.test.ts plays seeded scripts on TypeScript replicas
// and commits every delta's bytes and the final states to
// clients/js/test/vectors/text-ts-vectors.json; Go replays each script and
// must produce the same bytes. A missing file fails the test.
func TestTSVectors(t *testing.T) {
	path := filepath.Join("..", "..", "clients", "js", "test", "vectors", "text-ts-vectors.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (regenerate it with UPDATE_VECTORS=1 npx vitest run test/text_ts_vectors in clients/js)", path, err)
	}
	var file struct {
		Version int            `json:"version"`
		Scripts []goldenScript `json:"scripts"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if file.Version != 1 || len(file.Scripts) == 0 {
		t.Fatalf("%s: version %d with %d scripts", path, file.Version, len(file.Scripts))
	}
	for _, sc := range file.Scripts {
		t.Run(sc.Name, func(t *testing.T) { checkScript(t, sc) })
	}
}
