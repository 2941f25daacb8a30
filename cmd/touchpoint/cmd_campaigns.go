package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
)

func campaignsCommand(e *env) *cli.Command {
	chartWritten := "" // the chart file, once drawn, named after the table
	return &cli.Command{
		Name:  "campaigns",
		Usage: "campaign results: treatment against control, from the contact ledger",
		Subcommands: []*cli.Command{
			{
				Name:      "report",
				Usage:     "a campaign's funnel, success rates, uplift with 95% intervals, cost, value and return, by channel and by UTC day",
				ArgsUsage: "ID",
				Flags: []cli.Flag{
					outputFlag(),
					&cli.StringFlag{Name: "chart", Usage: "also draw the funnel and the daily acceptances into `FILE` (.png or .svg)"},
					&cli.BoolFlag{Name: "stale", Usage: "let any node answer from its own state"},
				},
				Action: adminAction(e, 1, 1, e.campMsg(cpgUsage),
					func(c *cli.Context, a []string) (*api.CampaignReport, error) {
						chart := c.String("chart")
						if chart != "" && chartFormat(chart) == "" {
							return nil, fmt.Errorf("%s", e.campMsg(cpgChartFormat, chart))
						}
						r, err := client(c).CampaignReport(c.Context, a[0], c.Bool("stale"))
						if err != nil {
							return nil, err
						}
						if chart != "" {
							if err := writeCampaignChart(r, chart); err != nil {
								return nil, err
							}
							chartWritten = chart
							if c.String("output") == "json" { // stdout holds only the JSON
								fmt.Fprintln(e.stderr, e.campMsg(cpgChartWritten, chart))
							}
						}
						return r, nil
					},
					func(r *api.CampaignReport, _ []string) error {
						if err := e.printCampaignReport(r); err != nil {
							return err
						}
						if chartWritten != "" {
							fmt.Fprintln(e.stdout)
							fmt.Fprintln(e.stdout, e.campMsg(cpgChartWritten, chartWritten))
						}
						return nil
					}),
			},
		},
	}
}

func (e *env) printCampaignReport(r *api.CampaignReport) error {
	name := ""
	if r.Name != "" {
		name = " (" + r.Name + ")"
	}
	fmt.Fprintln(e.stdout, e.campMsg(cpgTitle, r.CampaignID, name, r.ControlGroupPercent, r.Index))
	if r.Status != "" {
		fmt.Fprintln(e.stdout, e.campMsg(cpgStatus, r.Status))
	}
	if r.FirstEvent == nil {
		fmt.Fprintln(e.stdout, e.campMsg(cpgNoEvents))
	} else {
		fmt.Fprintln(e.stdout, e.campMsg(cpgEvents, r.FirstEvent.UTC().Format(time.RFC3339), r.LastEvent.UTC().Format(time.RFC3339)))
	}
	switch {
	case r.MixedCustomers == 1:
		fmt.Fprintln(e.stdout, e.campMsg(cpgMixedOne))
	case r.MixedCustomers > 1:
		fmt.Fprintln(e.stdout, e.campMsg(cpgMixed, r.MixedCustomers))
	}
	if r.UnknownOffers > 0 {
		fmt.Fprintln(e.stdout, e.campMsg(cpgUnknownOffers, r.UnknownOffers))
	}
	t, c := r.Total.Treatment, r.Total.Control
	if sr := r.SampleRatio; sr.Mismatch && sr.ObservedControlShare != nil && sr.PValue != nil {
		fmt.Fprintln(e.stdout)
		fmt.Fprintln(e.stdout, e.campMsg(cpgSRMWarning, *sr.ObservedControlShare*100, t.Targeted+c.Targeted,
			r.ControlGroupPercent, sr.ExpectedControlShare*100, pValue(*sr.PValue)))
		fmt.Fprintln(e.stdout, e.campMsg(cpgSRMCause))
	} else if sr.ObservedControlShare != nil && sr.PValue != nil {
		fmt.Fprintln(e.stdout, e.campMsg(cpgSRMOK, *sr.ObservedControlShare*100, t.Targeted+c.Targeted,
			r.ControlGroupPercent, sr.ExpectedControlShare*100, pValue(*sr.PValue)))
	}
	fmt.Fprintln(e.stdout)

	tw := e.table()
	fmt.Fprintf(tw, "%s\t%s\t%s\n", e.campMsg(cpgHdrMetric), e.campMsg(cpgHdrTreatment), e.campMsg(cpgHdrControl))
	row := func(k campKey, tv, cv string) { fmt.Fprintf(tw, "%s\t%s\t%s\n", e.campMsg(k), tv, cv) }
	row(cpgTargeted, count(t.Targeted), count(c.Targeted))
	row(cpgContacted, count(t.Contacted), count(c.Contacted))
	row(cpgContactRate, e.pct(t.ContactRate), e.pct(c.ContactRate))
	row(cpgPresented, count(t.Presented), count(c.Presented))
	row(cpgAccepted, count(t.Accepted), count(c.Accepted))
	row(cpgSuccessRate, e.pctWithCI(t.SuccessRate, t.SuccessRateCI), e.pctWithCI(c.SuccessRate, c.SuccessRateCI))
	row(cpgConversionRate, e.pct(t.ConversionRate), e.pct(c.ConversionRate))
	row(cpgCost, yuan(t.Cost), yuan(c.Cost))
	row(cpgValue, yuan(t.Value), yuan(c.Value))
	row(cpgROI, e.pct(t.ROI), e.pct(c.ROI))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	u := r.Total.Uplift
	switch {
	case u.Absolute == nil && r.ControlGroupPercent == 0:
		fmt.Fprintln(e.stdout, e.campMsg(cpgNoControlGroup))
	case u.Absolute == nil && c.Targeted == 0:
		fmt.Fprintln(e.stdout, e.campMsg(cpgNoHeldOut, r.ControlGroupPercent))
	case u.Absolute == nil && t.Targeted == 0:
		fmt.Fprintln(e.stdout, e.campMsg(cpgNoTreated))
	default:
		sig := ""
		if u.Absolute != nil {
			sig = " " + e.campMsg(cpgNotSignificant)
			if u.Significant {
				sig = " " + e.campMsg(cpgSignificant)
			}
			if r.SampleRatio.Mismatch {
				sig += e.campMsg(cpgSRMUntrustworthy)
			}
		}
		fmt.Fprintln(e.stdout, e.campMsg(cpgUpliftAbs, e.points(u.Absolute), e.pointsCI(u.AbsoluteCI), sig))
		fmt.Fprintln(e.stdout, e.campMsg(cpgUpliftRel, e.signedPct(u.Relative), e.signedPctCI(u.RelativeCI)))
		fmt.Fprintln(e.stdout, e.campMsg(cpgIncremental, e.num(u.IncrementalAccepted, "%.1f"), e.num(u.IncrementalValue, "%.2f"), e.pct(u.IncrementalROI)))
	}

	if len(r.Channels) > 0 {
		fmt.Fprintln(e.stdout)
		fmt.Fprintln(e.stdout, e.campMsg(cpgByChannel))
		tw = e.table()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.campMsg(cpgHdrChannel),
			e.campMsg(cpgHdrTTargeted), e.campMsg(cpgHdrTAccepted), e.campMsg(cpgHdrTSuccess),
			e.campMsg(cpgHdrCTargeted), e.campMsg(cpgHdrCAccepted), e.campMsg(cpgHdrCSuccess),
			e.campMsg(cpgHdrUplift), e.campMsg(cpgHdrCI))
		for _, ch := range r.Channels {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%s\t%s\t%s\n", ch.Channel,
				ch.Treatment.Targeted, ch.Treatment.Accepted, e.pct(ch.Treatment.SuccessRate),
				ch.Control.Targeted, ch.Control.Accepted, e.pct(ch.Control.SuccessRate),
				e.points(ch.Uplift.Absolute), e.pointsCI(ch.Uplift.AbsoluteCI))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Days) > 0 {
		fmt.Fprintln(e.stdout)
		fmt.Fprintln(e.stdout, e.campMsg(cpgByDay))
		tw = e.table()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.campMsg(cpgHdrDay),
			e.campMsg(cpgHdrTTargeted), e.campMsg(cpgHdrTAccepted), e.campMsg(cpgHdrTCost), e.campMsg(cpgHdrTValue),
			e.campMsg(cpgHdrCTargeted), e.campMsg(cpgHdrCAccepted), e.campMsg(cpgHdrCValue))
		for _, d := range r.Days {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%d\t%s\n", d.Day,
				d.Treatment.Targeted, d.Treatment.Accepted, yuan(d.Treatment.Cost), yuan(d.Treatment.Value),
				d.Control.Targeted, d.Control.Accepted, yuan(d.Control.Value))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// pValue prints a p-value after "p": "= 0.00042", "< 1e-300" (the
// smallest a float64 holds, near enough).
func pValue(p float64) string {
	if p < 1e-300 {
		return "< 1e-300"
	}
	return fmt.Sprintf("= %.2g", p)
}

func count(n int64) string  { return fmt.Sprintf("%d", n) }
func yuan(v float64) string { return fmt.Sprintf("%.2f", v) }

func (e *env) num(v *float64, format string) string {
	if v == nil {
		return e.campMsg(cpgNA)
	}
	return fmt.Sprintf(format, *v)
}

func (e *env) pct(v *float64) string {
	if v == nil {
		return e.campMsg(cpgNA)
	}
	return fmt.Sprintf("%.2f%%", *v*100)
}

// pctWithCI is a rate and its interval, when it has one.
func (e *env) pctWithCI(v *float64, i *api.Interval) string {
	if ci := e.pctCI(i); ci != "" {
		return e.pct(v) + " " + ci
	}
	return e.pct(v)
}

func (e *env) pctCI(i *api.Interval) string {
	if i == nil {
		return ""
	}
	return fmt.Sprintf("[%.2f%%, %.2f%%]", i.Low*100, i.High*100)
}

func (e *env) signedPct(v *float64) string {
	if v == nil {
		return e.campMsg(cpgNA)
	}
	return fmt.Sprintf("%+.1f%%", *v*100)
}

func (e *env) signedPctCI(i *api.Interval) string {
	if i == nil {
		return e.campMsg(cpgNA)
	}
	return fmt.Sprintf("[%+.1f%%, %+.1f%%]", i.Low*100, i.High*100)
}

// points prints a difference of rates in percentage points.
func (e *env) points(v *float64) string {
	if v == nil {
		return e.campMsg(cpgNA)
	}
	return fmt.Sprintf("%+.2f", *v*100)
}

func (e *env) pointsCI(i *api.Interval) string {
	if i == nil {
		return e.campMsg(cpgNA)
	}
	return fmt.Sprintf("[%+.2f, %+.2f]", i.Low*100, i.High*100)
}

// chartFormat is "png" or "svg" from the file name, "" for anything else.
func chartFormat(file string) string {
	switch f := strings.ToLower(file); {
	case strings.HasSuffix(f, ".png"):
		return "png"
	case strings.HasSuffix(f, ".svg"):
		return "svg"
	}
	return ""
}
