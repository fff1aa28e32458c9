package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowsync/flowsync/crdt/workflow"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// delivery is one request the receiver got.
type delivery struct {
	id, typ string
	ev      Event
}

// receiver is a real HTTP endpoint that checks every signature and answers
// with status() (200 when nil).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivery
	status func(n int) int // n: requests so far, this one included
	n      atomic.Int32
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{t: t, status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := Verify(testSecret, body, req.Header.Get(HeaderSignature), 0, time.Now()); err != nil {
			t.Errorf("receiver: %v", err)
		}
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("receiver: body %q: %v", body, err)
		}
		if ev.ID != req.Header.Get(HeaderEventID) || ev.Type != req.Header.Get(HeaderEventType) {
			t.Errorf("receiver: headers %v disagree with body %s", req.Header, body)
		}
		n := int(r.n.Add(1))
		code := http.StatusOK
		if r.status != nil {
			code = r.status(n)
		}
		r.mu.Lock()
		r.got = append(r.got, delivery{id: ev.ID, typ: ev.Type, ev: ev})
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor polls until cond holds, failing after 30 s (generous: the
// queue's fsyncs share a disk with whatever else the machine runs).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testConfig(t *testing.T, path string, urls ...string) Config {
	if path == "" {
		path = filepath.Join(t.TempDir(), "webhooks.db")
	}
	return Config{URLs: urls, Secret: testSecret, QueuePath: path, Quiet: 30 * time.Millisecond,
		MaxDelay: 5 * time.Second, RetryBase: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond,
		Metrics: NewMetrics(nil)}
}

func open(t *testing.T, cfg Config) *Dispatcher {
	t.Helper()
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func TestDebounceManyEditsOneEvent(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := testConfig(t, "", rc.srv.URL)
	cfg.Quiet = 100 * time.Millisecond
	d := open(t, cfg)
	for i := range 50 {
		d.Notify("wf", []string{[]string{"alice", "bob"}[i%2]})
	}
	waitFor(t, "the change event", func() bool { return len(rc.deliveries()) >= 1 })
	time.Sleep(300 * time.Millisecond) // 3 quiet periods: nothing more may come
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries for one burst of edits, want 1: %+v", len(got), got)
	}
	ev := got[0].ev
	if ev.Type != TypeChanged || ev.WorkflowID != "wf" || ev.Sequence != 1 || !slices.Equal(ev.Users, []string{"alice", "bob"}) {
		t.Fatalf("event %+v", ev)
	}
}

func TestMaxDelayReportsBusyWorkflow(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := testConfig(t, "", rc.srv.URL)
	cfg.Quiet, cfg.MaxDelay = 200*time.Millisecond, 200*time.Millisecond
	d := open(t, cfg)
	// Edits every 20 ms never leave the workflow quiet for 200 ms: only
	// MaxDelay can close the window.
	stop := time.Now().Add(time.Second)
	for time.Now().Before(stop) {
		d.Notify("busy", []string{"u"})
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(rc.deliveries()); n < 2 {
		t.Fatalf("%d events during 1 s of constant editing with MaxDelay 200 ms, want several", n)
	}
}

func TestRetryAfterOutageKeepsTheEventID(t *testing.T) {
	// Down for the first three attempts, then back.
	rc := newReceiver(t, func(n int) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	cfg := testConfig(t, "", rc.srv.URL)
	d := open(t, cfg)
	if err := d.Lifecycle("wf", TypeLocked, "admin-1"); err != nil {
		t.Fatal(err)
	}
	m := cfg.Metrics
	waitFor(t, "the delivery", func() bool { return value(m.Deliveries.WithLabelValues("ok")) == 1 })
	got := rc.deliveries()
	if len(got) != 4 {
		t.Fatalf("%d attempts, want 4", len(got))
	}
	for _, g := range got {
		if g.id != got[0].id {
			t.Fatalf("retries changed the event id: %q then %q", got[0].id, g.id)
		}
	}
	if f := value(m.Deliveries.WithLabelValues("failed")); f != 3 {
		t.Fatalf("failed attempts metric %v, want 3", f)
	}
	waitFor(t, "an empty queue", func() bool { return value(m.Queue) == 0 })
}

func TestDistinctEventsDistinctIDs(t *testing.T) {
	rc := newReceiver(t, nil)
	d := open(t, testConfig(t, "", rc.srv.URL))
	const n = 40
	for i := range n {
		typ := []string{TypeLocked, TypeUnlocked}[i%2]
		if err := d.Lifecycle("wf", typ, ""); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every event", func() bool { return len(rc.deliveries()) == n })
	ids := map[string]bool{}
	seqs := map[uint64]bool{}
	for _, g := range rc.deliveries() {
		ids[g.id] = true
		seqs[g.ev.Sequence] = true
	}
	if len(ids) != n || len(seqs) != n {
		t.Fatalf("%d distinct ids and %d distinct sequences for %d events", len(ids), len(seqs), n)
	}
}

func TestUndeliveredSurviveCrash(t *testing.T) {
	var up atomic.Bool
	rc := newReceiver(t, func(int) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	path := filepath.Join(t.TempDir(), "webhooks.db")
	cfg := testConfig(t, path, rc.srv.URL)
	cfg.Quiet = time.Hour // the window stays open until the crash
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Lifecycle("wf", TypeDeleted, ""); err != nil {
		t.Fatal(err)
	}
	d.Notify("other", []string{"carol"})
	waitFor(t, "a failed attempt and the recorded window", func() bool {
		_, wins, err := d.q.loadAll()
		return err == nil && len(wins) == 1 && len(rc.deliveries()) >= 1
	})
	d.crash()
	first := rc.deliveries()[0].id

	up.Store(true)
	cfg.Quiet = 30 * time.Millisecond
	d2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both events after the restart", func() bool {
		var deleted, changed bool
		for _, g := range rc.deliveries() {
			deleted = deleted || (g.typ == TypeDeleted && g.id == first)
			changed = changed || (g.typ == TypeChanged && g.ev.WorkflowID == "other" && slices.Equal(g.ev.Users, []string{"carol"}))
		}
		return deleted && changed
	})
	// Once reported, the window is gone from the file: another restart
	// reports nothing more.
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := len(rc.deliveries())
	open(t, cfg)
	time.Sleep(10 * cfg.Quiet)
	if got := rc.deliveries()[n:]; len(got) != 0 {
		t.Fatalf("a second restart sent %+v again", got)
	}
}

func TestQueueFullDropsAndCounts(t *testing.T) {
	rc := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	cfg := testConfig(t, "", rc.srv.URL)
	cfg.MaxQueue, cfg.RetryBase, cfg.RetryMax = 3, time.Hour, time.Hour
	d := open(t, cfg)
	var full int
	for range 5 {
		if err := d.Lifecycle("wf", TypeUpdated, ""); errors.Is(err, errFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full != 2 {
		t.Fatalf("%d events refused by a queue of 3, want 2", full)
	}
	if f := value(cfg.Metrics.Dropped.WithLabelValues("queue_full")); f != 2 {
		t.Fatalf("dropped{queue_full} = %v, want 2", f)
	}
	if q := value(cfg.Metrics.Queue); q != 3 {
		t.Fatalf("queue gauge %v, want 3", q)
	}
}

func TestExpiredAfterMaxAttempts(t *testing.T) {
	rc := newReceiver(t, func(int) int { return http.StatusBadGateway })
	cfg := testConfig(t, "", rc.srv.URL)
	cfg.MaxAttempts = 3
	d := open(t, cfg)
	if err := d.Lifecycle("wf", TypeReverted, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the give-up", func() bool { return value(cfg.Metrics.Dropped.WithLabelValues("expired")) == 1 })
	if n := len(rc.deliveries()); n != 3 {
		t.Fatalf("%d attempts, want MaxAttempts = 3", n)
	}
	if q := value(cfg.Metrics.Queue); q != 0 {
		t.Fatalf("queue gauge %v after giving up, want 0", q)
	}
}

func TestSummaryFromViews(t *testing.T) {
	rc := newReceiver(t, nil)
	var mu sync.Mutex
	view := &workflow.View{
		Blocks:    map[string]*workflow.BlockView{"a": {ID: "a", Name: "A"}, "b": {ID: "b", Name: "B"}},
		Edges:     []workflow.Edge{{ID: "e1", Source: "a", Target: "b"}},
		Variables: map[string]*workflow.VariableView{},
	}
	cfg := testConfig(t, "", rc.srv.URL)
	cfg.IncludeView = true
	cfg.View = func(context.Context, string) (*workflow.View, error) {
		mu.Lock()
		defer mu.Unlock()
		return view, nil
	}
	d := open(t, cfg)
	d.Notify("wf", []string{"u"})
	waitFor(t, "the first event", func() bool { return len(rc.deliveries()) == 1 })
	mu.Lock()
	view = &workflow.View{
		Blocks:    map[string]*workflow.BlockView{"a": {ID: "a", Name: "renamed"}, "c": {ID: "c"}, "d": {ID: "d"}},
		Edges:     nil,
		Variables: map[string]*workflow.VariableView{"v": {ID: "v", Name: "x"}},
	}
	mu.Unlock()
	d.Notify("wf", []string{"u"})
	waitFor(t, "the second event", func() bool { return len(rc.deliveries()) == 2 })
	got := rc.deliveries()
	s0, s1 := got[0].ev.Summary, got[1].ev.Summary
	if s0 == nil || s0.Baseline || s0.Totals != (Totals{Blocks: 2, Edges: 1}) {
		t.Fatalf("first summary %+v", s0)
	}
	want := Summary{Baseline: true, Blocks: Counts{Added: 2, Removed: 1, Changed: 1}, Edges: Counts{Removed: 1},
		Variables: Counts{Added: 1}, Totals: Totals{Blocks: 3, Variables: 1}}
	if s1 == nil || *s1 != want {
		t.Fatalf("second summary %+v, want %+v", s1, want)
	}
	if !strings.Contains(string(got[1].ev.View), `"renamed"`) {
		t.Fatalf("IncludeView: view %s", got[1].ev.View)
	}
}

func TestConfigRefusesBadValues(t *testing.T) {
	for _, c := range []Config{
		{Secret: testSecret, QueuePath: "x"},
		{URLs: []string{"ftp://x"}, Secret: testSecret, QueuePath: "x"},
		{URLs: []string{"http://x"}, Secret: []byte("short"), QueuePath: "x"},
		{URLs: []string{"http://x"}, Secret: testSecret},
		{URLs: []string{"http://x"}, Secret: testSecret, QueuePath: "x", Quiet: -1},
	} {
		if _, err := Open(c); err == nil {
			t.Errorf("Open(%+v) accepted", c)
		}
	}
}

// value reads a counter's or gauge's current value.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
