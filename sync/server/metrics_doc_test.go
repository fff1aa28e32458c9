package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/cluster/clustertest"
	"github.com/flowsync/flowsync/sync/server"
)

// family is one metric family: from the exposition, or from a row of
// docs/METRICS.md.
type family struct {
	typ    string
	labels []string // sorted
}

func (f family) String() string { return f.typ + " {" + strings.Join(f.labels, ",") + "}" }

// sampleLine is "name{labels} value" or "name value".
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? `)

// labelPair is one name="value" of a sample's labels.
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// parseExposition returns the flowsync_ families of a Prometheus text
// exposition, and every label value seen.
func parseExposition(t *testing.T, text string) (map[string]family, []string) {
	t.Helper()
	fams := map[string]family{}
	labels := map[string]map[string]bool{}
	var values []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			if strings.HasPrefix(name, "flowsync_") {
				fams[name] = family{typ: typ}
				labels[name] = map[string]bool{}
			}
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsed exposition line %q", line)
		}
		name := m[1]
		if _, ok := fams[name]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && fams[base].typ == "histogram" {
					name = base
				}
			}
		}
		if _, ok := fams[name]; !ok {
			continue
		}
		for _, p := range labelPair.FindAllStringSubmatch(m[3], -1) {
			if p[1] != "le" {
				labels[name][p[1]] = true
			}
			values = append(values, p[2])
		}
	}
	for name, f := range fams {
		for l := range labels[name] {
			f.labels = append(f.labels, l)
		}
		slices.Sort(f.labels)
		fams[name] = f
	}
	return fams, values
}

// docRow is a table row of docs/METRICS.md naming a series:
// | `name` | type | `label`, `label` or — | meaning |
var docRow = regexp.MustCompile("^\\|\\s*`(flowsync_[a-z0-9_]+)`\\s*\\|\\s*([a-z]+)\\s*\\|([^|]*)\\|([^|]*)\\|")

// parseMetricsDoc returns the series docs/METRICS.md documents.
func parseMetricsDoc(t *testing.T) map[string]family {
	t.Helper()
	b, err := os.ReadFile("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]family{}
	for _, line := range strings.Split(string(b), "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := fams[m[1]]; dup {
			t.Errorf("docs/METRICS.md documents %s twice", m[1])
		}
		if strings.TrimSpace(m[4]) == "" {
			t.Errorf("docs/METRICS.md: %s has no meaning", m[1])
		}
		f := family{typ: m[2]}
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[3], -1) {
			f.labels = append(f.labels, l[1])
		}
		slices.Sort(f.labels)
		fams[m[1]] = f
	}
	if len(fams) == 0 {
		t.Fatal("docs/METRICS.md documents no series")
	}
	return fams
}

// A node on the embedded store joined to a cluster (every collector
// registered), after editing,
// a refused frame and a snapshot: every flowsync_ series /metrics exposes is
// documented in docs/METRICS.md with its type and labels, every documented
// series is exposed, and no label value is a placeholder such as
// FrameType(0x3f).
func TestMetricsDocumentedAndExposed(t *testing.T) {
	ns := clustertest.StartNATS(t, nil)
	hooks := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hooks.Close()
	srv, err := server.New(server.Config{
		Webhooks: server.WebhookConfig{URLs: []string{hooks.URL}, Secret: []byte(strings.Repeat("h", 32))},
		Dev:      true, ShutdownTimeout: 5 * time.Second,
		Store:   server.StoreConfig{Kind: server.StoreBolt, DataDir: t.TempDir()}, // the default store, with its write counters
		Cluster: server.ClusterConfig{NATSURL: ns.ClientURL(), NodeID: "metrics-1", AntiEntropyInterval: 100 * time.Millisecond},
		Rooms:   rooms.Config{SnapshotInterval: 20 * time.Millisecond},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + ln.Addr().String()
	url := "ws://" + ln.Addr().String() + "/v1/sync"

	ed := startEditor(t, "ann", "wf-metrics", url, nil)
	ed.waitLive(t)
	ed.edit(t, 3)
	// A frame that does not decode: refused and counted by code.
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, []byte{0xc1, 0xff})
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	ws.Close()

	var exposed map[string]family
	var values []string
	testutil.WaitReason(t, testutil.DefaultWait, "snapshot, invalid frame and cluster rounds exposed", func() string {
		code, body := get(t, base+"/metrics")
		if code != 200 {
			return fmt.Sprintf("/metrics: %d", code)
		}
		exposed, values = parseExposition(t, body)
		for _, want := range []string{"flowsync_room_snapshots_total", "flowsync_invalid_frames_total"} {
			if _, ok := exposed[want]; !ok {
				return want + " not exposed yet"
			}
		}
		return ""
	})

	documented := parseMetricsDoc(t)
	for name, f := range exposed {
		d, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("%s (%v) is exposed but not in docs/METRICS.md", name, f)
		case d.String() != f.String():
			t.Errorf("%s: docs/METRICS.md says %v, /metrics has %v", name, d, f)
		}
	}
	for name := range documented {
		if _, ok := exposed[name]; !ok {
			t.Errorf("%s is in docs/METRICS.md but not exposed", name)
		}
	}
	for _, v := range values {
		if strings.HasPrefix(v, "FrameType(") {
			t.Errorf("placeholder label value %q exposed", v)
		}
	}
	if os.Getenv("FLOWSYNC_DUMP_METRICS") != "" {
		_, body := get(t, base+"/metrics")
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "# HELP flowsync_") || strings.HasPrefix(line, "# TYPE flowsync_") {
				t.Log(line)
			}
		}
		for name, f := range exposed {
			t.Logf("FAM %s %v", name, f)
		}
	}
}

// docs/grafana-dashboard.json is valid JSON, has panels, and every series
// its queries use is documented in docs/METRICS.md (a histogram's _bucket,
// _sum and _count included).
func TestGrafanaDashboardUsesDocumentedSeries(t *testing.T) {
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string            `json:"title"`
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	if dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without a title or panels")
	}
	documented := parseMetricsDoc(t)
	type panel struct {
		Title   string  `json:"title"`
		Type    string  `json:"type"`
		Panels  []panel `json:"panels"` // a collapsed row's
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	series := regexp.MustCompile(`flowsync_[a-z0-9_]+`)
	var queries int
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Title == "" {
				t.Errorf("a %s panel has no title", p.Type)
			}
			walk(p.Panels)
			for _, tg := range p.Targets {
				queries++
				names := series.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q: query %q uses no flowsync_ series", p.Title, tg.Expr)
				}
				for _, name := range names {
					if _, ok := documented[name]; ok {
						continue
					}
					base := name
					for _, suffix := range []string{"_bucket", "_sum", "_count"} {
						if b, ok := strings.CutSuffix(name, suffix); ok && documented[b].typ == "histogram" {
							base = b
						}
					}
					if _, ok := documented[base]; !ok {
						t.Errorf("panel %q: %s is not documented in docs/METRICS.md", p.Title, name)
					}
				}
			}
		}
	}
	var ps []panel
	if err := json.Unmarshal(b, &struct {
		Panels *[]panel `json:"panels"`
	}{&ps}); err != nil {
		t.Fatal(err)
	}
	walk(ps)
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
}
