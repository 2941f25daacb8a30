package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"touchpoint.dev/touchpoint/protocol/api"
)

// segmentsTimeout bounds a run: a million customers take tens of seconds.
const segmentsTimeout = 10 * time.Minute

// segmentNone is the RFM segment a run gives the customers it does not
// rank (no purchase by the as-of date, or RFM attributes missing).
const segmentNone = "none"

func segmentsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "segments",
		Usage: "customer segmentation: RFM, value tiers, lifecycle stages and lifetime value, written into the profiles",
		Subcommands: []*cli.Command{{
			Name:  "run",
			Usage: "score every customer from the contact ledger (or attributes) and store the scores as derived profile fields",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "as-of", Usage: "score as of `DATE` (YYYY-MM-DD or RFC 3339; default now)"},
				&cli.StringFlag{Name: "config", Usage: "YAML or JSON `FILE` with tiers, lifecycle and segments thresholds (docs/SEGMENTS.md)"},
				&cli.StringFlag{Name: "recency", Usage: "`ATTRIBUTE` holding days since the last purchase (with --frequency and --monetary: instead of the ledger)"},
				&cli.StringFlag{Name: "frequency", Usage: "`ATTRIBUTE` holding the number of purchases"},
				&cli.StringFlag{Name: "monetary", Usage: "`ATTRIBUTE` holding the total spend"},
				&cli.StringFlag{Name: "tenure", Usage: "`ATTRIBUTE` holding tenure in months (default tenureMonths)"},
				&cli.StringFlag{Name: "recent-usage", Usage: "`ATTRIBUTE` holding the recent period's usage (default recentUsage)"},
				&cli.StringFlag{Name: "earlier-usage", Usage: "`ATTRIBUTE` holding the earlier period's usage (default earlierUsage)"},
				&cli.StringFlag{Name: "inactive-days", Usage: "`ATTRIBUTE` holding days since the last activity (default: the ledger's last contact)"},
				&cli.Float64Flag{Name: "clv-weeks", Value: 52, Usage: "lifetime-value horizon in `WEEKS`; 0 skips lifetime value"},
				&cli.BoolFlag{Name: "dry-run", Usage: "score and report without writing"},
				outputFlag(),
			},
			Action: func(c *cli.Context) error {
				var req api.SegmentsRunRequest // what was asked, for the text answer
				return adminAction(e, 0, 0, "",
					func(c *cli.Context, _ []string) (*api.SegmentsRunResult, error) {
						var err error
						if req, err = segmentsRequest(c); err != nil {
							return nil, err
						}
						hc := httpClient(c)
						hc.Timeout = segmentsTimeout
						return api.NewClient(c.String("addr"), c.String("token"), hc).RunSegments(c.Context, req)
					},
					func(r *api.SegmentsRunResult, _ []string) error { return e.printSegments(r, &req) })(c)
			},
		}},
	}
}

func segmentsRequest(c *cli.Context) (api.SegmentsRunRequest, error) {
	req := api.SegmentsRunRequest{DryRun: c.Bool("dry-run"), Inputs: api.SegmentInputs{
		Recency: c.String("recency"), Frequency: c.String("frequency"), Monetary: c.String("monetary"),
		Tenure: c.String("tenure"), RecentUsage: c.String("recent-usage"), EarlierUsage: c.String("earlier-usage"),
		InactiveDays: c.String("inactive-days"),
	}}
	if in := req.Inputs; (in.Recency == "") != (in.Frequency == "") || (in.Recency == "") != (in.Monetary == "") {
		return req, usageError(errors.New("--recency, --frequency and --monetary name attributes together: give all three, or none for RFM from the ledger"))
	}
	// The API takes 0 for its default and a negative horizon for none;
	// the flag's 0 is none.
	switch w := c.Float64("clv-weeks"); {
	case !(w >= 0) || math.IsInf(w, 0):
		return req, usageError(fmt.Errorf("--clv-weeks %v: want a number of weeks ≥ 0 (0 skips lifetime value)", w))
	case w == 0:
		req.CLVHorizonWeeks = -1
	default:
		req.CLVHorizonWeeks = w
	}
	if s := c.String("as-of"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, s); err != nil {
				return req, usageError(fmt.Errorf("--as-of %q: want YYYY-MM-DD or an RFC 3339 time", s))
			}
		}
		req.AsOf = t
	}
	if f := c.String("config"); f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return req, fmt.Errorf("--config: %w", err)
		}
		var v any
		if err := yaml.Unmarshal(raw, &v); err != nil { // YAML is a superset of JSON
			return req, fmt.Errorf("--config %s: %v", f, err)
		}
		if req.Config, err = json.Marshal(v); err != nil {
			return req, fmt.Errorf("--config %s: %v", f, err)
		}
	}
	return req, nil
}

// printSegments prints a run's answer to req for people.
func (e *env) printSegments(r *api.SegmentsRunResult, req *api.SegmentsRunRequest) error {
	var verb string
	switch {
	case r.DryRun:
		verb = e.smsg(plural(r.Updated, sgDryRunOne, sgDryRun), r.Updated)
	case r.Updated == 0:
		verb = e.smsg(sgNoneWritten)
	default:
		verb = e.smsg(plural(r.Updated, sgWrittenOne, sgWritten), r.Updated, r.Index)
	}
	fmt.Fprintln(e.stdout, e.smsg(sgSummary, scount(e, r.Customers, sgNCustomer, sgNCustomers), r.AsOf.Format(time.DateOnly), r.Source))
	fmt.Fprintln(e.stdout, verb+e.smsg(sgUnchanged, r.Unchanged, r.Missing))
	if r.Skipped > 0 {
		fmt.Fprintln(e.stdout, e.smsg(plural(r.Skipped, sgSkippedOne, sgSkipped), r.Skipped))
		for _, why := range r.SkippedCustomers {
			fmt.Fprintln(e.stdout, "  "+why)
		}
	}
	if n := r.Segments[segmentNone]; n > 0 {
		// Customers without RFM inputs are not ranked (docs/SEGMENTS.md).
		who := scount(e, n, sgNCustomer, sgNCustomers)
		if r.Source == "attributes" {
			in := req.Inputs
			fmt.Fprintln(e.stdout, e.smsg(sgUnrankedAttrs, who, in.Recency, in.Frequency, in.Monetary))
		} else {
			fmt.Fprintln(e.stdout, e.smsg(sgUnrankedLedger, who, r.AsOf.Format(time.DateOnly)))
		}
	}
	fmt.Fprintln(e.stdout, e.smsg(sgTimes, r.ReadSeconds, r.ScoreSeconds, r.WriteSeconds))
	for _, part := range []struct {
		title string
		m     map[string]int
	}{{e.smsg(sgSegments), r.Segments}, {e.smsg(sgTiers), r.Tiers}, {e.smsg(sgStages), r.Stages}} {
		var cells []string
		for _, k := range sortedKeys(part.m) {
			cells = append(cells, fmt.Sprintf("%s %d", k, part.m[k]))
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", part.title, strings.Join(cells, ", "))
	}
	switch {
	case r.CLV.BGNBD != nil:
		b := r.CLV.BGNBD
		purchasers := scount(e, r.CLV.Customers, sgNPurchaser, sgNPurchasers)
		repeaters := scount(e, r.CLV.Repeaters, sgNRepeater, sgNRepeaters)
		fmt.Fprintln(e.stdout, e.smsg(sgCLV, purchasers, r.CLV.HorizonWeeks, b["r"], b["alpha"], b["a"], b["b"]))
		if g := r.CLV.GammaGamma; g != nil {
			fmt.Fprintln(e.stdout, e.smsg(sgGammaGamma, repeaters, g["p"], g["q"], g["v"]))
		}
		if c := r.CLV; c.FittedOn < c.Customers || c.GammaGamma != nil && c.SpendFittedOn < c.Repeaters {
			fmt.Fprintln(e.stdout, e.smsg(sgFittedOn, c.FittedOn, purchasers, c.SpendFittedOn, repeaters))
		}
		if r.CLV.Skipped != "" {
			fmt.Fprintln(e.stdout, "  "+r.CLV.Skipped)
		}
	case req.CLVHorizonWeeks < 0:
		fmt.Fprintln(e.stdout, e.smsg(sgCLVNotAsked))
	default:
		fmt.Fprintln(e.stdout, e.smsg(sgNoCLV, r.CLV.Skipped))
	}
	return nil
}
