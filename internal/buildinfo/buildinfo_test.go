package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	got := FromBuildInfo(bi, "dev")
	want := Info{Version: "v1.2.3", Commit: "abc123-dirty", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.99"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := FromBuildInfo(bi, "v9.9.9").Version; got != "v9.9.9" {
		t.Fatalf("link-time version ignored: %s", got)
	}
	// A checkout build without VCS stamps, and no build info at all.
	for _, bi := range []*debug.BuildInfo{{Main: debug.Module{Version: "(devel)"}}, nil} {
		got := FromBuildInfo(bi, "")
		if got.Version != Devel || got.Commit != Unknown || got.Date != Unknown || !strings.HasPrefix(got.GoVersion, "go") {
			t.Fatalf("%+v", got)
		}
	}
	if s := want.String(); s != "flowsync v1.2.3 (commit abc123-dirty of 2026-01-02T03:04:05Z, go1.99)" {
		t.Fatalf("String() = %q", s)
	}
}

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, Info{Version: "v1", Commit: "c", Date: "d", GoVersion: "go1"}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "flowsync_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, %v", mfs, err)
	}
	m := mfs[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if m.GetGauge().GetValue() != 1 || len(labels) != 3 || labels["version"] != "v1" || labels["commit"] != "c" || labels["goversion"] != "go1" {
		t.Fatalf("flowsync_build_info = %v", m)
	}
}
