// Package charts draws the PNG charts of a benchmark run: the
// latency distributions (delivery, durable ack, drag) of every target as
// CDFs on a log latency axis, where the tails the goals are about (p99,
// p99.9) are readable; the per-second throughput of every target over the
// run; and the offered-versus-sustained curve of a max-throughput search.
// It uses gonum.org/v1/plot, which renders without cgo or a display.
package charts

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/flowsync/flowsync/benchmarks/loadgen"
)

// minMs is the smallest latency drawn: a log axis cannot show 0, and the
// clock resolution makes anything below 10 µs noise anyway.
const minMs = 0.01

var (
	dashed = []vg.Length{vg.Points(6), vg.Points(3)}
	dotted = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
)

// targetColor keeps one color per target across every chart of a run.
func targetColor(results []*loadgen.Result, target string) color.Color {
	seen := map[string]int{}
	for _, r := range results {
		if _, ok := seen[r.Target]; !ok {
			seen[r.Target] = len(seen)
		}
	}
	return plotutil.Color(seen[target])
}

// LatencyCDF writes a PNG of the latency distributions of results: per
// target, delivery latency (solid), durable-ack latency (dashed) and drag
// latency (dotted), whichever it has. It returns an error when no result
// has any latency sample.
func LatencyCDF(path, title string, results []*loadgen.Result) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of samples ≤ latency"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.YOffs = vg.Points(10)
	p.Add(plotter.NewGrid())
	lines := 0
	for _, r := range results {
		for _, s := range []struct {
			name   string
			p      loadgen.Percentiles
			dashes []vg.Length
		}{{"delivery", r.DeliveryLatency, nil}, {"durable ack", r.AckLatency, dashed}, {"drag", r.DragLatency, dotted}} {
			if len(s.p.CDF) == 0 {
				continue
			}
			xys := make(plotter.XYs, 0, len(s.p.CDF))
			for _, pt := range s.p.CDF {
				xys = append(xys, plotter.XY{X: math.Max(pt[1], minMs), Y: pt[0]})
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			l.Color = targetColor(results, r.Target)
			l.Width = vg.Points(1.5)
			l.Dashes = s.dashes
			p.Add(l)
			p.Legend.Add(fmt.Sprintf("%s %s (p99 %.1f ms)", r.Target, s.name, s.p.P99), l)
			lines++
		}
	}
	if lines == 0 {
		return errors.New("charts: no latency samples to draw")
	}
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}

// Throughput writes a PNG of two stacked charts over the run: durable
// operations acknowledged per second (top) and deliveries per second
// (bottom), one line per target, from each result's timeline.
func Throughput(path, title string, results []*loadgen.Result) error {
	top, bottom := plot.New(), plot.New()
	top.Title.Text = title
	top.Y.Label.Text = "durable acks / s"
	bottom.Y.Label.Text = "deliveries / s"
	bottom.X.Label.Text = "seconds into the window"
	points := 0
	for _, pl := range []*plot.Plot{top, bottom} {
		pl.Add(plotter.NewGrid())
		pl.X.Min, pl.Y.Min = 0, 0
		pl.Legend.Top = true
	}
	for _, r := range results {
		if len(r.Timeline) == 0 {
			continue
		}
		ops, del := make(plotter.XYs, len(r.Timeline)), make(plotter.XYs, len(r.Timeline))
		for i, t := range r.Timeline {
			ops[i] = plotter.XY{X: t.ElapsedS, Y: t.OpsPerSec}
			del[i] = plotter.XY{X: t.ElapsedS, Y: t.DeliveriesPerSec}
		}
		points += len(r.Timeline)
		for _, x := range []struct {
			pl  *plot.Plot
			xys plotter.XYs
		}{{top, ops}, {bottom, del}} {
			l, pts, err := plotter.NewLinePoints(x.xys)
			if err != nil {
				return err
			}
			c := targetColor(results, r.Target)
			l.Color, pts.Color, l.Width = c, c, vg.Points(1.5)
			pts.Radius = vg.Points(2)
			x.pl.Add(l, pts)
			x.pl.Legend.Add(r.Target, l, pts)
		}
	}
	if points == 0 {
		return errors.New("charts: no timeline to draw")
	}
	return saveStacked(path, 9*vg.Inch, 7*vg.Inch, top, bottom)
}

// SearchPoint is one step of a max-throughput search.
type SearchPoint struct {
	OfferedPerSec   float64
	SustainedPerSec float64
	AckP99Ms        float64
}

// Search writes a PNG of max-throughput searches: sustained durable ops/s
// against offered ops/s (top; the diagonal is "everything accepted") and
// the durable-ack p99 at each step (bottom, log scale, with the bound),
// one line per target.
func Search(path, title string, boundMs float64, targets []string, steps map[string][]SearchPoint) error {
	top, bottom := plot.New(), plot.New()
	top.Title.Text = title
	top.Y.Label.Text = "sustained durable ops/s"
	bottom.Y.Label.Text = "durable-ack p99 (ms, log)"
	bottom.X.Label.Text = "offered durable ops/s"
	bottom.Y.Scale = plot.LogScale{}
	bottom.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	for _, pl := range []*plot.Plot{top, bottom} {
		pl.Add(plotter.NewGrid())
		pl.Legend.Top = true
		pl.Legend.Left = true
	}
	var maxOffered float64
	n := 0
	for i, t := range targets {
		pts := steps[t]
		if len(pts) == 0 {
			continue
		}
		sus, p99 := make(plotter.XYs, len(pts)), make(plotter.XYs, len(pts))
		for j, s := range pts {
			sus[j] = plotter.XY{X: s.OfferedPerSec, Y: s.SustainedPerSec}
			p99[j] = plotter.XY{X: s.OfferedPerSec, Y: math.Max(s.AckP99Ms, minMs)}
			maxOffered = math.Max(maxOffered, s.OfferedPerSec)
			n++
		}
		for _, x := range []struct {
			pl  *plot.Plot
			xys plotter.XYs
		}{{top, sus}, {bottom, p99}} {
			l, ps, err := plotter.NewLinePoints(x.xys)
			if err != nil {
				return err
			}
			l.Color, ps.Color, l.Width = plotutil.Color(i), plotutil.Color(i), vg.Points(1.5)
			x.pl.Add(l, ps)
			x.pl.Legend.Add(t, l, ps)
		}
	}
	if n == 0 {
		return errors.New("charts: no search steps to draw")
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: maxOffered, Y: maxOffered}})
	if err != nil {
		return err
	}
	diag.Color, diag.Dashes = color.Gray{Y: 128}, dotted
	top.Add(diag)
	top.Legend.Add("offered = sustained", diag)
	bound, err := plotter.NewLine(plotter.XYs{{X: 0, Y: boundMs}, {X: maxOffered, Y: boundMs}})
	if err != nil {
		return err
	}
	bound.Color, bound.Dashes = color.RGBA{R: 200, A: 255}, dashed
	bottom.Add(bound)
	bottom.Legend.Add(fmt.Sprintf("bound %.0f ms", boundMs), bound)
	return saveStacked(path, 9*vg.Inch, 7*vg.Inch, top, bottom)
}

// saveStacked draws plots one above the other, x axes aligned, as a PNG.
func saveStacked(path string, w, h vg.Length, plots ...*plot.Plot) error {
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	img := vgimg.New(w, h)
	dc := draw.New(img)
	t := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(8)}
	canvases := plot.Align(grid, t, dc)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
