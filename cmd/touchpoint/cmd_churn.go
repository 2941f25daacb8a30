package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// churnCommand reads churn early warning from the control plane: the
// watchlist of customers at risk under the active model.
func churnCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "churn",
		Usage: "churn early warning: the watchlist of customers at risk",
		Subcommands: []*cli.Command{
			{
				Name:  "watchlist",
				Usage: "customers at or above a warning level under the active model, highest risk first",
				Description: "The control plane scores every stored customer profile with the active churn model\n" +
					"(`touchpoint models activate`) and lists those whose risk is at or above --level's\n" +
					"cut-off, with the features that raise each one's risk most: coefficient × standardised\n" +
					"input for a logistic model, per-feature path attribution (Saabas) for trees, in log-odds.\n" +
					"See docs/MODELS.md.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "level", Value: churnmodel.LevelHigh, Usage: "lowest warning `LEVEL` listed: low, medium, high or critical"},
					&cli.IntFlag{Name: "limit", Value: api.DefaultWatchlistLimit, Usage: fmt.Sprintf("at most `N` customers (1–%d)", api.MaxWatchlistLimit)},
					&cli.IntFlag{Name: "factors", Value: api.DefaultWatchlistFactors, Usage: fmt.Sprintf("`N` risk factors per customer (1–%d)", api.MaxWatchlistFactors)},
					&cli.StringFlag{Name: "region", Usage: "only customers of `REGION` (default: every region)"},
					outputFlag(),
				},
				Action: func(c *cli.Context) error { return e.churnWatchlist(c) },
			},
		},
	}
}

func (e *env) churnWatchlist(c *cli.Context) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	if churnmodel.LevelRank(c.String("level")) < 0 {
		return usageError(fmt.Errorf("--level %q: use low, medium, high or critical", c.String("level")))
	}
	limit, err := intFlag(c, "limit", 1, api.MaxWatchlistLimit)
	if err != nil {
		return err
	}
	factors, err := intFlag(c, "factors", 1, api.MaxWatchlistFactors)
	if err != nil {
		return err
	}
	wl, err := client(c).ChurnWatchlist(c.Context, api.WatchlistQuery{
		Level: c.String("level"), Limit: limit, Factors: factors, Region: c.String("region"),
	})
	if err != nil {
		return err
	}
	if out == "json" {
		return e.printJSON(wl)
	}
	fmt.Fprintln(e.stdout, e.modelMsg(mdlWatchTitle, wl.Model, wl.ModelVersion, wl.Level, wl.MinRisk, wl.Matched, wl.Scanned))
	if wl.Unscored > 0 {
		fmt.Fprintln(e.stdout, e.modelMsg(mdlWatchUnscored, wl.Unscored))
	}
	if wl.Masked {
		fmt.Fprintln(e.stdout, e.modelMsg(mdlMasked))
	}
	if len(wl.Customers) == 0 {
		fmt.Fprintln(e.stdout, e.modelMsg(mdlWatchEmpty))
		return nil
	}
	fmt.Fprintln(e.stdout)
	tw := e.table()
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.modelMsg(mdlHdrCustomer), e.modelMsg(mdlHdrRegion), e.modelMsg(mdlHdrRisk), e.modelMsg(mdlHdrLevel), e.modelMsg(mdlHdrFactors))
	for _, w := range wl.Customers {
		parts := make([]string, 0, len(w.Factors))
		for _, f := range w.Factors {
			parts = append(parts, fmt.Sprintf("%s=%s (+%.2f)", f.Feature, factorValue(f.Value), f.Contribution))
		}
		region := w.Region
		if region == "" {
			region = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%s\t%s\n", w.CustomerID, region, w.ChurnRisk, w.ChurnLevel, strings.Join(parts, ", "))
	}
	return tw.Flush()
}

func factorValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "(missing)"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	return fmt.Sprint(v)
}
