package cluster_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/cluster"
	"github.com/flowsync/flowsync/sync/cluster/clustertest"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, id := range []string{
		"wf-1", "3f1c2a9e-5b7d-4c1e-9a2b-7d8e9f0a1b2c", "a.b", "a*", ">", "with space", "tab\u00a0nbsp",
		"~plain-looking", "ünïcödé", "a/b", strings.Repeat("x", cluster.MaxIDLength),
	} {
		tok, err := cluster.Token(id)
		if err != nil {
			t.Fatalf("Token(%q): %v", id, err)
		}
		if strings.ContainsAny(tok, ".*> \t\r\n") || strings.ContainsFunc(tok, func(r rune) bool { return r > 0x7e }) {
			t.Errorf("Token(%q) = %q: not a safe subject token", id, tok)
		}
		back, err := cluster.ParseToken(tok)
		if err != nil || back != id {
			t.Errorf("ParseToken(Token(%q)) = %q, %v", id, back, err)
		}
	}
	for _, id := range []string{"", "a\nb", "nul\x00", string([]byte{0xff}), strings.Repeat("x", cluster.MaxIDLength+1)} {
		if _, err := cluster.Token(id); !errors.Is(err, cluster.ErrInvalidID) {
			t.Errorf("Token(%q) = %v, want ErrInvalidID", id, err)
		}
	}
	// A plain id written in the encoded form is refused: one id, one token.
	if _, err := cluster.ParseToken("~c5h0"); err == nil { // "~" + base32hex("ab")
		t.Error("non-canonical token accepted")
	}
	if id, err := cluster.ParseToken("~c4n0"); err != nil || id != "a." { // the canonical token of "a."
		t.Errorf("ParseToken(~c4n0) = %q, %v", id, err)
	}
}

func TestOwnerOf(t *testing.T) {
	if got := cluster.OwnerOf("wf", nil); got != "" {
		t.Fatalf("OwnerOf(no nodes) = %q", got)
	}
	nodes := []string{"n1", "n2", "n3", "n4"}
	counts := map[string]int{}
	moved := 0
	const docs = 4000
	for i := range docs {
		id := fmt.Sprintf("wf-%d", i)
		owner := cluster.OwnerOf(id, nodes)
		if again := cluster.OwnerOf(id, []string{"n4", "n3", "n2", "n1"}); again != owner {
			t.Fatalf("owner depends on list order: %q vs %q", owner, again)
		}
		counts[owner]++
		// Removing n4 moves only n4's documents.
		if after := cluster.OwnerOf(id, nodes[:3]); after != owner {
			moved++
			if owner != "n4" {
				t.Fatalf("%s moved from %s to %s when n4 left", id, owner, after)
			}
		}
	}
	for _, n := range nodes {
		if c := counts[n]; c < docs/4*8/10 || c > docs/4*12/10 {
			t.Errorf("%s owns %d of %d documents: unbalanced %v", n, c, docs, counts)
		}
	}
	if moved != counts["n4"] {
		t.Errorf("moved %d, n4 owned %d", moved, counts["n4"])
	}
}

func TestConfigValidation(t *testing.T) {
	s := clustertest.StartNATS(t, nil)
	nc := connect(t, s)
	for _, c := range []struct {
		field string
		cfg   cluster.Config
	}{
		{"NodeID", cluster.Config{NodeID: "bad\nid"}},
		{"SubjectPrefix", cluster.Config{SubjectPrefix: "a..b"}},
		{"SubjectPrefix", cluster.Config{SubjectPrefix: "a.>"}},
		{"AntiEntropyInterval", cluster.Config{AntiEntropyInterval: -1}},
		{"MaxClockSkew", cluster.Config{MaxClockSkew: -time.Second}},
		{"MaxMessageBytes", cluster.Config{MaxMessageBytes: 100}},
		{"Workers", cluster.Config{Workers: -1}},
	} {
		_, err := cluster.New(c.cfg, nc, clustertest.NewMemory(), nil, nil)
		if !errors.Is(err, cluster.ErrInvalidConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: err = %v, want ErrInvalidConfig naming %s", c.cfg, err, c.field)
		}
	}
	n, err := cluster.New(cluster.Config{}, nc, clustertest.NewMemory(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n.NodeID() == "" {
		t.Error("no default node id")
	}
	_ = n.Close()
	if err := n.Host("x"); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("Host after Close: %v", err)
	}
	if err := n.Publish("x", nil); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
}

// bigDelta returns a delta adding n variables with size-byte values.
func bigDelta(t testing.TB, doc *workflow.Doc, replica crdt.ReplicaID, n, size int) *workflow.Doc {
	t.Helper()
	out := workflow.New()
	for i := range n {
		ts := crdt.Timestamp{Wall: time.Now().UnixMilli(), Logical: uint32(i), Replica: replica}
		d, err := doc.Prepare(ts, workflow.AddVariable{ID: fmt.Sprintf("%s-%d", replica, i), VarName: "v", Type: "plain",
			Value: strings.Repeat("x", size)})
		if err != nil {
			t.Fatal(err)
		}
		doc.Merge(d)
		out.Merge(d)
	}
	return out
}

func TestSplitJoinsToTheDelta(t *testing.T) {
	doc := workflow.New()
	delta := bigDelta(t, doc, "r", 300, 200)
	// Remove some, so the delta's context holds dead dots too.
	for i := 0; i < 300; i += 7 {
		d, err := doc.Prepare(crdt.Timestamp{Wall: time.Now().UnixMilli(), Replica: "r"}, workflow.RemoveVariable{ID: fmt.Sprintf("r-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		doc.Merge(d)
		delta.Merge(d)
	}
	chunks := delta.EncodeChunks(8 << 10)
	if len(chunks) < 5 {
		t.Fatalf("%d chunks for a %d-byte delta", len(chunks), len(delta.Encode()))
	}
	// Any order joins to the delta.
	for _, order := range [][]int{identity(len(chunks)), reversed(len(chunks))} {
		got := workflow.New()
		for _, i := range order {
			if len(chunks[i]) > 8<<10 {
				t.Errorf("chunk %d has %d bytes", i, len(chunks[i]))
			}
			c, err := workflow.Decode(chunks[i], workflow.DocLimits)
			if err != nil {
				t.Fatal(err)
			}
			got.Merge(c)
		}
		if !got.Equal(delta) {
			t.Fatal("the chunks do not join to the delta")
		}
	}
}

func identity(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func reversed(n int) []int {
	s := identity(n)
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}

// A delta larger than a bus message travels in chunks, live and in a
// late joiner's catch-up.
func TestLargeDeltasAreChunked(t *testing.T) {
	s := clustertest.StartNATS(t, nil)
	cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: noAE, PresenceHeartbeat: testBeat, MaxMessageBytes: 8 << 10}}
	a, b := newMember(t, "a", s, 1, cfg), newMember(t, "b", s, 2, cfg)
	a.host(t, wfID)
	b.host(t, wfID)
	waitPresence(t, wfID, a, b)
	enc, err := a.mem.Edit(wfID, func(doc *workflow.Doc) (*workflow.Doc, error) {
		return bigDelta(t, doc.Clone(), "r-a", 200, 300), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.node.Publish(wfID, enc); err != nil {
		t.Fatal(err)
	}
	testutil.WaitWithin(t, 5*time.Second, "live chunks", func() bool { return converged(wfID, a, b) })
	if got := value(a.metrics.Published); got < 5 {
		t.Errorf("published %v messages for a %d-byte delta", got, len(enc))
	}
	c := newMember(t, "c", s, 3, cfg)
	c.host(t, wfID) // its request is answered in chunks by a and b
	testutil.WaitWithin(t, 5*time.Second, "catch-up chunks", func() bool { return converged(wfID, a, b, c) })
	if value(a.metrics.BusErrors)+value(b.metrics.BusErrors)+value(c.metrics.BusErrors) != 0 {
		t.Error("bus errors counted")
	}
}

// Messages that do not parse are counted and change nothing.
func TestGarbageOnTheBus(t *testing.T) {
	s := clustertest.StartNATS(t, nil)
	a := newMember(t, "a", s, 1, memberOpts{cfg: cluster.Config{AntiEntropyInterval: noAE}})
	a.host(t, wfID)
	nc := connect(t, s)
	send := func(h map[string]string, data []byte) {
		m := &nats.Msg{Subject: "flowsync.wf." + wfID + ".d", Data: data, Header: nats.Header{}}
		for k, v := range h {
			m.Header.Set(k, v)
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	good := map[string]string{cluster.HeaderVersion: cluster.BusVersion, cluster.HeaderKind: "d",
		cluster.HeaderOrigin: "x", cluster.HeaderWorkflow: wfID}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range good {
			h[a] = b
		}
		h[k] = v
		return h
	}
	send(with(cluster.HeaderVersion, "99"), nil)
	send(with(cluster.HeaderWorkflow, "~!!"), nil)
	send(with(cluster.HeaderKind, "zz"), nil)
	send(good, []byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	send(good, []byte{1, 0x91, 0x91})
	testutil.WaitWithin(t, 5*time.Second, "errors counted", func() bool { return value(a.metrics.BusErrors) == 5 })
	if d := a.mem.Doc(wfID); d == nil || !d.IsEmpty() {
		t.Fatal("garbage changed the document")
	}
}
