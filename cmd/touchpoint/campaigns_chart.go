package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"touchpoint.dev/touchpoint/protocol/api"
)

// Chart colours: treatment and control, the same in both panels.
var (
	treatmentColour = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	controlColour   = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
)

// writeCampaignChart draws the report's funnel (targeted → contacted →
// presented → accepted, treatment beside control) above its daily series
// (accepted per UTC day) into file, as PNG or SVG by its extension.
func writeCampaignChart(r *api.CampaignReport, file string) error {
	format := chartFormat(file)
	if format == "" {
		return fmt.Errorf("%s", chartMsg(cpgChartFormat, file))
	}
	funnel, err := funnelPlot(r)
	if err != nil {
		return fmt.Errorf("draw funnel: %w", err)
	}
	daily, err := dailyPlot(r)
	if err != nil {
		return fmt.Errorf("draw daily series: %w", err)
	}
	const w, h = 18 * vg.Centimeter, 20 * vg.Centimeter
	// The two back ends by name (not draw.NewFormattedCanvas), so the chart
	// also works in a `-tags minimal` build that drops plot's other formats.
	var c vg.CanvasWriterTo
	if format == "png" {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(144))}
	} else {
		c = vgsvg.New(w, h)
	}
	plots := [][]*plot.Plot{{funnel}, {daily}}
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Centimeter, PadTop: vg.Millimeter * 4, PadBottom: vg.Millimeter * 4,
		PadLeft: vg.Millimeter * 4, PadRight: vg.Millimeter * 6}
	canvases := plot.Align(plots, tiles, draw.New(c))
	funnel.Draw(canvases[0][0])
	daily.Draw(canvases[1][0])
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write chart %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write chart %s: %w", file, err)
	}
	return nil
}

func funnelPlot(r *api.CampaignReport) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = chartMsg(cpgChartFunnel, r.CampaignID)
	if r.SampleRatio.Mismatch {
		p.Title.Text += chartMsg(cpgChartSRM)
	}
	p.Y.Label.Text = chartMsg(cpgChartCustomers)
	p.Y.Min = 0
	stages := func(g api.CampaignGroup) plotter.Values {
		return plotter.Values{float64(g.Targeted), float64(g.Contacted), float64(g.Presented), float64(g.Accepted)}
	}
	const width = vg.Centimeter * 1.2
	bt, err := plotter.NewBarChart(stages(r.Total.Treatment), width)
	if err != nil {
		return nil, err
	}
	bc, err := plotter.NewBarChart(stages(r.Total.Control), width)
	if err != nil {
		return nil, err
	}
	bt.Color, bt.LineStyle.Width = treatmentColour, 0
	bc.Color, bc.LineStyle.Width = controlColour, 0
	bt.Offset, bc.Offset = -width/2, width/2
	p.Add(bt, bc)
	p.NominalX(chartMsg(cpgChartStageTargeted), chartMsg(cpgChartStageContacted), chartMsg(cpgChartStagePresented), chartMsg(cpgChartStageAccepted))
	// Room beside the outer bars, and above the tallest for the legend.
	p.X.Min, p.X.Max = -0.6, 3.6
	p.Y.Max = 1.3 * math.Max(1, float64(max(r.Total.Treatment.Targeted, r.Total.Control.Targeted)))
	p.Legend.Add(legendName(chartMsg(cpgChartTreatment), r.Total.Treatment.SuccessRate), bt)
	p.Legend.Add(legendName(chartMsg(cpgChartControl), r.Total.Control.SuccessRate), bc)
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

// legendName adds the group's success rate to its name.
func legendName(name string, rate *float64) string {
	if rate == nil {
		return name
	}
	return fmt.Sprintf("%s (success %.2f%%)", name, *rate*100)
}

func dailyPlot(r *api.CampaignReport) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = chartMsg(cpgChartDaily)
	p.X.Label.Text = chartMsg(cpgChartDay)
	p.Y.Label.Text = chartMsg(cpgChartAccepted)
	p.Y.Min = 0
	p.X.Tick.Marker = dayTicks{}
	p.Add(plotter.NewGrid())
	if len(r.Days) == 0 {
		// An empty ledger still gives a readable (empty) panel.
		p.X.Min, p.X.Max, p.Y.Max = 0, 86400, 1
		return p, nil
	}
	tr := make(plotter.XYs, 0, len(r.Days))
	ct := make(plotter.XYs, 0, len(r.Days))
	for _, d := range r.Days {
		day, err := time.Parse(time.DateOnly, d.Day)
		if err != nil {
			return nil, fmt.Errorf("day %q: %w", d.Day, err)
		}
		x := float64(day.Unix())
		tr = append(tr, plotter.XY{X: x, Y: float64(d.Treatment.Accepted)})
		ct = append(ct, plotter.XY{X: x, Y: float64(d.Control.Accepted)})
	}
	for _, s := range []struct {
		xys    plotter.XYs
		name   string
		colour color.Color
	}{{tr, chartMsg(cpgChartTreatment), treatmentColour}, {ct, chartMsg(cpgChartControl), controlColour}} {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = s.colour, s.colour
		l.Width = vg.Points(1.5)
		pts.Shape = draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	// Half a day either side, so the first and last points are not on the
	// frame (and a single day still has an axis).
	p.X.Min, p.X.Max = tr[0].X-43200, tr[len(tr)-1].X+43200
	p.Y.Max = 1.25 * math.Max(1, p.Y.Max)
	p.Legend.Top = true
	return p, nil
}

// dayTicks marks every UTC midnight of the axis, labelling at most about
// ten of them ("11-20"): a point of the daily series sits on its day's tick.
type dayTicks struct{}

func (dayTicks) Ticks(lo, hi float64) []plot.Tick {
	const day = 86400
	first := math.Ceil(lo/day) * day
	n := int((hi-first)/day) + 1
	if n <= 0 {
		return nil
	}
	every := (n + 9) / 10
	ticks := make([]plot.Tick, 0, n)
	for i := 0; i < n; i++ {
		x := first + float64(i)*day
		t := plot.Tick{Value: x}
		if i%every == 0 {
			t.Label = time.Unix(int64(x), 0).UTC().Format("01-02")
		}
		ticks = append(ticks, t)
	}
	return ticks
}
