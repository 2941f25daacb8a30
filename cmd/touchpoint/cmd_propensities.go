package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func propensitiesCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "propensities",
		Usage: "adaptive propensity: learn each offer's acceptance rate per segment from the ledger and push it to the agents",
		Subcommands: []*cli.Command{{
			Name: "learn",
			Usage: "count each offer's presentations, and the customers' acceptances that follow them, per (offer, segment) into " +
				"Beta posteriors and apply them as the catalogue's PropensityTable \"default\", which agents arbitrate with " +
				"(acceptances never presented, and held-out customers' events of the campaign, do not count)",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "segment-field", Value: "rfmSegment", Usage: "profile `FIELD` whose value is the customer's segment"},
				&cli.Float64Flag{Name: "prior-strength", Usage: "the prior's weight in `CONTACTS` (default 2)"},
				&cli.Int64Flag{Name: "explore-below", Usage: "arms with fewer `CONTACTS` are Thompson-sampled at each decision (default 100; -1 never)"},
				&cli.BoolFlag{Name: "dry-run", Usage: "learn and print without applying"},
				outputFlag(),
			},
			Action: adminAction(e, 0, 0, "",
				func(c *cli.Context, _ []string) (*api.PropensitiesLearnResult, error) {
					hc := httpClient(c)
					hc.Timeout = segmentsTimeout
					return api.NewClient(c.String("addr"), c.String("token"), hc).LearnPropensities(c.Context, api.PropensitiesLearnRequest{
						SegmentField: c.String("segment-field"), PriorStrength: c.Float64("prior-strength"),
						ExploreBelow: c.Int64("explore-below"), DryRun: c.Bool("dry-run")})
				},
				func(r *api.PropensitiesLearnResult, _ []string) error { return e.printPropensities(r) }),
		}},
	}
}

func (e *env) printPropensities(r *api.PropensitiesLearnResult) error {
	var t protocol.PropensityTable
	if err := json.Unmarshal(r.Table, &t); err != nil {
		return fmt.Errorf("decode the table: %w", err)
	}
	if r.NothingLearned {
		if r.Events == 0 {
			fmt.Fprintln(e.stdout, e.smsg(sgNothingLearnedNone))
		} else {
			fmt.Fprintln(e.stdout, e.smsg(plural(r.Events, sgNothingLearnedOne, sgNothingLearned), r.Events))
		}
		return nil
	}
	nArms, contacts := scount(e, len(t.Arms), sgNArm, sgNArms), scount(e, t.Contacts, sgNContact, sgNContacts)
	events, segs := scount(e, r.Events, sgNOfferEvent, sgNOfferEvents), scount(e, r.Segments, sgNSegment, sgNSegments)
	var head string
	switch {
	case r.DryRun:
		head = e.smsg(sgLearnedDry, nArms, contacts, events, segs, t.SegmentField)
	case r.Unchanged:
		head = e.smsg(sgLearnedSame, nArms, contacts, events, segs, t.SegmentField)
	default:
		head = e.smsg(sgLearned, nArms, contacts, events, segs, t.SegmentField, r.Index)
	}
	fmt.Fprintln(e.stdout, head)
	arms := t.Arms
	order := make([]int, len(arms))
	for i := range order {
		order[i] = i
	}
	// Most contacts first, then the table's order.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && arms[order[j]].N > arms[order[j-1]].N; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	tw := e.table()
	fmt.Fprintln(tw, e.smsg(sgArmHeader))
	for k, i := range order {
		if k == showArms {
			break
		}
		a := arms[i]
		b := a.Posterior()
		lo, hi := b.CredibleInterval(0.95)
		seg := a.Segment
		if seg == "" {
			seg = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.4f\t%.4f–%.4f\t%s\n", a.OfferID, seg, a.N, a.Accepted, b.Mean(), lo, hi, e.yesNo(a.N < t.Explore()))
	}
	return tw.Flush()
}

// showArms is how many arms the table prints.
const showArms = 20
