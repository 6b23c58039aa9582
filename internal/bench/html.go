package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WriteHTML writes a self-contained report: the table, and charts drawn as
// inline SVG (throughput and latency over time, latency percentile
// curves), so it opens offline, with no script.
func (r *Result) WriteHTML(w io.Writer) error {
	var table bytes.Buffer
	r.PrintTable(&table)
	charts := []struct {
		title string
		draw  func() (*plot.Plot, error)
	}{
		{"Throughput over time", r.throughputPlot},
		{"Latency over time (p50 and p99)", r.latencyPlot},
		{"Latency percentiles", r.percentilePlot},
	}
	type chart struct {
		Title string
		SVG   template.HTML
	}
	var out []chart
	for _, c := range charts {
		p, err := c.draw()
		if err != nil {
			return fmt.Errorf("%s: %w", c.title, err)
		}
		svg, err := renderSVG(p)
		if err != nil {
			return fmt.Errorf("%s: %w", c.title, err)
		}
		out = append(out, chart{c.title, template.HTML(svg)}) //nolint:gosec // our own SVG
	}
	return reportPage.Execute(w, struct {
		R       *Result
		Started string
		Table   string
		Charts  []chart
	}{r, r.Started.UTC().Format(time.RFC3339), table.String(), out})
}

var reportPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Berth bench {{.R.RunID}}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
pre { background: #f4f4f4; padding: 1em; overflow-x: auto; }
figure { margin: 2em 0; }
figcaption { font-weight: bold; margin-bottom: .5em; }
</style></head>
<body>
<h1>Berth bench: run {{.R.RunID}}</h1>
<p>{{.R.Mode}} mode, driver {{.R.Driver}}, backend {{.R.Backend}}, seed {{.R.Seed}}, started {{.Started}}.</p>
<pre>{{.Table}}</pre>
{{range .Charts}}<figure class="chart"><figcaption>{{.Title}}</figcaption>{{.SVG}}</figure>
{{end}}</body></html>
`))

func renderSVG(p *plot.Plot) ([]byte, error) {
	wt, err := p.WriterTo(8*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	// Drop the XML prolog: the SVG goes inline into HTML.
	if i := bytes.Index(b.Bytes(), []byte("<svg")); i > 0 {
		return b.Bytes()[i:], nil
	}
	return b.Bytes(), nil
}

func (r *Result) throughputPlot() (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = "MB/s"
	var lines []any
	for _, op := range []string{"push", "pull"} {
		var pts plotter.XYs
		for _, s := range r.fullSeconds() {
			pts = append(pts, plotter.XY{X: float64(s.T), Y: float64(s.Ops[op].Bytes) / 1e6})
		}
		if len(pts) > 0 {
			lines = append(lines, op, pts)
		}
	}
	return p, addLines(p, lines)
}

func (r *Result) latencyPlot() (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = "ms"
	var lines []any
	for _, op := range []string{"push", "pull"} {
		var p50, p99 plotter.XYs
		for _, s := range r.fullSeconds() {
			st, ok := s.Ops[op]
			if !ok {
				continue
			}
			p50 = append(p50, plotter.XY{X: float64(s.T), Y: float64(st.P50) / 1000})
			p99 = append(p99, plotter.XY{X: float64(s.T), Y: float64(st.P99) / 1000})
		}
		if len(p50) > 0 {
			lines = append(lines, op+" p50", p50, op+" p99", p99)
		}
	}
	return p, addLines(p, lines)
}

// percentilePlot draws latency against percentile on a "nines" axis, where
// 90, 99 and 99.9 are equally far apart.
func (r *Result) percentilePlot() (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "ms"
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{
		{Value: nines(50), Label: "50"}, {Value: nines(90), Label: "90"},
		{Value: nines(99), Label: "99"}, {Value: nines(99.9), Label: "99.9"}, {Value: nines(99.99), Label: "99.99"},
	})
	var lines []any
	for _, op := range sortedOps(r.Ops) {
		o := r.Ops[op]
		if o.Latency.Count() == 0 {
			continue
		}
		var pts plotter.XYs
		for q := 0.0; q <= 99.99; q = nextQ(q) {
			pts = append(pts, plotter.XY{X: nines(q), Y: float64(o.Latency.Quantile(q)) / 1000})
		}
		lines = append(lines, op, pts)
	}
	return p, addLines(p, lines)
}

// fullSeconds is the timeline without a last second that the window cut
// short, which would show as a drop to zero.
func (r *Result) fullSeconds() []Second {
	out := r.Timeline
	for len(out) > 0 && float64(out[len(out)-1].T+1) > r.Elapsed {
		out = out[:len(out)-1]
	}
	return out
}

func nines(q float64) float64 { return -math.Log10(1 - q/100) }

// nextQ steps through percentiles evenly on the nines axis.
func nextQ(q float64) float64 { return 100 - (100-q)*0.9 + 1e-9 }

func addLines(p *plot.Plot, lines []any) error {
	if len(lines) == 0 {
		// An empty chart still renders, with a note instead of lines.
		p.Title.Text = "no data"
		p.Add(plotter.NewGrid())
		return nil
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for i := 0; i+1 < len(lines); i += 2 {
		l, err := plotter.NewLine(lines[i+1].(plotter.XYs))
		if err != nil {
			return err
		}
		// Seven colours, then the same colours dashed.
		l.Color = plotutil.Color(i / 2)
		l.Dashes = plotutil.Dashes(i / 2 / 7)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(lines[i].(string), l)
	}
	return nil
}
