package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/controlplane/analytics/clv"
)

// clvCommand fits customer-lifetime-value models to a file on this
// machine: it needs no control plane (the global --addr and --token are
// not used).
func clvCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "clv",
		Usage: "customer lifetime value: BG/NBD and Gamma-Gamma fits, computed locally",
		Subcommands: []*cli.Command{
			{
				Name:  "fit",
				Usage: "fit BG/NBD (and Gamma-Gamma when spend is present) to a summary CSV or a transaction log",
				Description: "Reads --data locally; no control plane is needed. FILE is either a per-customer summary CSV\n" +
					"with header ID,frequency,recency,T or ID,x,t_x,T,zbar (times in weeks), or a whitespace-separated\n" +
					"transaction log: customer_id date(YYYYMMDD) quantity value, like CDNOW_master.txt, summarised per\n" +
					"customer in weeks up to --calibration-end (default: the last date in the log; a later date is refused).\n" +
					fmt.Sprintf("A fit resting on fewer than %d repeat customers, with parameters at extreme values or that did not\n", clv.MinRepeaters) +
					"converge is printed with warnings on stderr (and in -o json's \"warnings\"); see docs/CLV.md.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "data", Required: true, Usage: "summary CSV or transaction log `FILE`"},
					&cli.StringFlag{Name: "calibration-end", Usage: "last `YYYY-MM-DD` of the calibration period (transaction logs only)"},
					outputFlag(),
				},
				Action: func(c *cli.Context) error {
					out, err := format(c)
					if err != nil {
						return err
					}
					if _, err := args(c, 0, 0, "--data FILE [--calibration-end YYYY-MM-DD]"); err != nil {
						return err
					}
					var opt clv.TransactionOptions
					if s := c.String("calibration-end"); s != "" {
						if opt.CalibrationEnd, err = time.Parse(time.DateOnly, s); err != nil {
							return usageError(fmt.Errorf("--calibration-end %q: want YYYY-MM-DD", s))
						}
					}
					res, err := fitCLV(c.String("data"), opt, c.IsSet("calibration-end"))
					if err != nil {
						return err
					}
					for _, w := range res.Warnings {
						fmt.Fprintf(e.stderr, "warning: %s\n", w)
					}
					if out == "json" {
						return e.printJSON(res)
					}
					return e.printCLV(res)
				},
			},
		},
	}
}

// clvResult is `clv fit -o json`. RepeatCustomers counts the customers
// with x > 0; GammaGamma.Customers those of them with a positive mean
// repeat spend, the ones it is fitted over. Warnings is never null.
type clvResult struct {
	Customers       int            `json:"customers"`
	RepeatCustomers int            `json:"repeatCustomers"`
	BGNBD           clvBGNBD       `json:"bgnbd"`
	GammaGamma      *clvGammaGamma `json:"gammaGamma,omitempty"`
	Warnings        []clv.Warning  `json:"warnings"`
	// hasSpend is whether the data carried spend (text output only).
	hasSpend bool
}

type clvGammaGamma struct {
	P             float64 `json:"p"`
	Q             float64 `json:"q"`
	V             float64 `json:"v"`
	Customers     int     `json:"customers"`
	LogLikelihood float64 `json:"logLikelihood"`
}

type clvBGNBD struct {
	R             float64 `json:"r"`
	Alpha         float64 `json:"alpha"`
	A             float64 `json:"a"`
	B             float64 `json:"b"`
	LogLikelihood float64 `json:"logLikelihood"`
}

// fitCLV reads file (a summary CSV when its first line has a comma, else
// a transaction log) and fits the models.
func fitCLV(file string, opt clv.TransactionOptions, calibrationSet bool) (*clvResult, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	first, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	var ds *clv.Dataset
	if bytes.IndexByte(first, ',') >= 0 {
		if calibrationSet {
			return nil, fmt.Errorf("%s is a summary CSV: --calibration-end applies to transaction logs only", file)
		}
		ds, err = clv.ParseSummaryCSV(br)
	} else {
		ds, err = clv.ParseTransactions(br, opt)
	}
	if ce := (*clv.CalibrationEndError)(nil); errors.As(err, &ce) {
		return nil, usageError(fmt.Errorf("--calibration-end %s is after the last transaction date in %s, %s: the log cannot tell whether customers bought in between; give a date on or before it",
			ce.End.Format(time.DateOnly), file, ce.LastDate.Format(time.DateOnly)))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	bg, err := clv.FitBGNBD(ds.Customers)
	if err != nil {
		return nil, fmt.Errorf("fit BG/NBD: %w", err)
	}
	res := &clvResult{Customers: bg.Customers, RepeatCustomers: bg.Repeaters, BGNBD: clvBGNBD{bg.R, bg.Alpha, bg.A, bg.B, bg.LogLikelihood},
		Warnings: append([]clv.Warning{}, bg.Warnings()...), hasSpend: ds.HasSpend}
	if ds.HasSpend {
		gg, err := clv.FitGammaGamma(ds.Customers)
		switch {
		case errors.Is(err, clv.ErrNoCustomers): // no repeat buyer with spend: nothing to fit
		case err != nil:
			return nil, fmt.Errorf("fit Gamma-Gamma: %w", err)
		default:
			res.GammaGamma = &clvGammaGamma{gg.P, gg.Q, gg.V, gg.Customers, gg.LogLikelihood}
			res.Warnings = append(res.Warnings, gg.Warnings()...)
		}
	}
	return res, nil
}

func (e *env) printCLV(res *clvResult) error {
	tw := e.table()
	fmt.Fprintf(tw, "customers\t%d\t(%d with repeat purchases)\n", res.Customers, res.RepeatCustomers)
	fmt.Fprintf(tw, "BG/NBD\tr %.4g\talpha %.4g\ta %.4g\tb %.4g\tlog-likelihood %.1f\n",
		res.BGNBD.R, res.BGNBD.Alpha, res.BGNBD.A, res.BGNBD.B, res.BGNBD.LogLikelihood)
	switch gg := res.GammaGamma; {
	case gg != nil:
		fmt.Fprintf(tw, "Gamma-Gamma\tp %.4g\tq %.4g\tv %.4g\tlog-likelihood %.1f\t(%d customers with positive repeat spend)\n",
			gg.P, gg.Q, gg.V, gg.LogLikelihood, gg.Customers)
	case res.hasSpend:
		fmt.Fprintf(tw, "Gamma-Gamma\tnot fitted: no customer has a repeat purchase with positive spend\n")
	default:
		fmt.Fprintf(tw, "Gamma-Gamma\tnot fitted: the data has no spend\n")
	}
	return tw.Flush()
}
