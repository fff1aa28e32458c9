// Package buildinfo says which build of flowsync is running: the module
// version, the VCS commit and its time (the build's date), and the Go
// version, as the Go
// toolchain stamps them into the binary (runtime/debug.ReadBuildInfo). It
// feeds `flowsync version` and the flowsync_build_info metric, so an
// operator can tell from either which code a node runs.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Unknown is reported for a field the build did not record (a binary built
// outside a VCS checkout, or with -buildvcs=false).
const Unknown = "unknown"

// Devel is the version of a binary built from a checkout rather than
// installed at a tagged module version (the toolchain says "(devel)").
const Devel = "devel"

// Info describes one build.
type Info struct {
	Version string // module version, or Devel
	Commit  string // VCS revision, with "-dirty" when built from a modified tree; or Unknown
	// Date is the VCS commit time (RFC 3339), or Unknown. The build info
	// records no build time (builds are reproducible): the commit's time
	// is the date of the code.
	Date      string
	GoVersion string // the toolchain that built the binary
}

// Read returns the running binary's Info. override, when not empty and
// not "dev", is the version set at link time (-ldflags -X) and wins over
// the module version.
func Read(override string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return FromBuildInfo(bi, override)
}

// FromBuildInfo is Read for a given build info (nil: none recorded).
func FromBuildInfo(bi *debug.BuildInfo, override string) Info {
	info := Info{Version: Devel, Commit: Unknown, Date: Unknown, GoVersion: runtime.Version()}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if s.Value != "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if s.Value != "" {
					info.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && info.Commit != Unknown {
			info.Commit += "-dirty"
		}
	}
	if o := strings.TrimSpace(override); o != "" && o != "dev" {
		info.Version = o
	}
	return info
}

// String is the one line `flowsync version` prints.
func (i Info) String() string {
	return fmt.Sprintf("flowsync %s (commit %s of %s, %s)", i.Version, i.Commit, i.Date, i.GoVersion)
}

// Register registers the flowsync_build_info gauge with reg: always 1,
// with the build in its labels, so a dashboard can join it to any other
// series of the node or count the builds a fleet runs.
func Register(reg prometheus.Registerer, i Info) error {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flowsync_build_info",
		Help: "Always 1; the labels say which build runs: module version, VCS commit and Go version.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(i.Version, i.Commit, i.GoVersion).Set(1)
	return reg.Register(g)
}
