package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
)

func sameTo3(got, want float64) bool {
	g, _ := strconv.ParseFloat(strconv.FormatFloat(got, 'g', 3, 64), 64)
	w, _ := strconv.ParseFloat(strconv.FormatFloat(want, 'g', 3, 64), 64)
	return g == w
}

type clvJSON struct {
	Customers       int `json:"customers"`
	RepeatCustomers int `json:"repeatCustomers"`
	BGNBD           struct {
		R, Alpha, A, B, LogLikelihood float64
	} `json:"bgnbd"`
	GammaGamma *struct {
		P, Q, V   float64
		Customers int
	} `json:"gammaGamma"`
	Warnings []struct{ Code, Message string } `json:"warnings"`
}

func (j clvJSON) warningCodes() []string {
	var cs []string
	for _, w := range j.Warnings {
		cs = append(cs, w.Code)
	}
	return cs
}

// writeLog writes a transaction log to a temporary file.
func writeLog(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "log.txt")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLI_CLVFitReproducesCDNOWFigures(t *testing.T) {
	data := analyticstest.SharedData(t)
	for _, tc := range []struct {
		file  string
		spend bool
	}{
		{"cdnow_customers_summary.csv", false},
		{"cdnow_customers_summary_with_transactions.csv", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, errs, code := tp(t, "", "", "clv", "fit", "--data", filepath.Join(data, tc.file), "-o", "json")
			if code != 0 || errs != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and no warnings", code, errs)
			}
			var got clvJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if got.Customers != 2357 || got.RepeatCustomers != 946 {
				t.Errorf("customers = %d, %d repeating; want 2357, 946", got.Customers, got.RepeatCustomers)
			}
			if got.Warnings == nil || len(got.Warnings) != 0 || !strings.Contains(out, `"warnings": []`) {
				t.Errorf("warnings %v; want an empty list", got.Warnings)
			}
			bg := got.BGNBD
			for _, p := range []struct {
				name      string
				got, want float64
			}{{"r", bg.R, 0.243}, {"alpha", bg.Alpha, 4.414}, {"a", bg.A, 0.793}, {"b", bg.B, 2.426}, {"logLikelihood", bg.LogLikelihood, -9582.4}} {
				if !sameTo3(p.got, p.want) {
					t.Errorf("bgnbd.%s = %v, want %v to three significant figures", p.name, p.got, p.want)
				}
			}
			gg := got.GammaGamma
			if !tc.spend {
				if gg != nil {
					t.Errorf("gammaGamma present without spend: %+v", gg)
				}
				return
			}
			if gg == nil {
				t.Fatalf("no gammaGamma in %s", out)
			}
			if gg.Customers != 946 || !sameTo3(gg.P, 6.25) || !sameTo3(gg.Q, 3.74) || !sameTo3(gg.V, 15.44) {
				t.Errorf("gammaGamma = %+v, want p 6.25, q 3.74, v 15.44 over 946 customers", *gg)
			}
		})
	}
}

func TestCLI_CLVFitTable(t *testing.T) {
	out := mustTP(t, "", "", "clv", "fit", "--data", filepath.Join(analyticstest.SharedData(t), "cdnow_customers_summary_with_transactions.csv"))
	for _, want := range []string{"customers", "2357", "(946 with repeat purchases)", "r 0.2426", "log-likelihood -9582.4", "p 6.249", "(946 customers with positive repeat spend)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCLI_CLVFitReportsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing file":   {[]string{"--data", filepath.Join(dir, "nope.csv")}, "no such file"},
		"unknown column": {[]string{"--data", write("a.csv", "ID,frequency,recency,T,age\n1,0,0,3,4\n")}, `unknown column "age"`},
		"bad row":        {[]string{"--data", write("b.csv", "ID,x,t_x,T\n1,0,0,38\n2,x,0,38\n")}, "line 3"},
		"bad log row":    {[]string{"--data", write("c.txt", "id date n v\n1 19970101 1 2\n1 1997-01-02 1 2\n")}, "line 3: date"},
		"bad date flag":  {[]string{"--data", write("d.txt", "1 19970101 1 2\n"), "--calibration-end", "1997/01/01"}, "--calibration-end"},
		"bad -o":         {[]string{"--data", "x", "-o", "yaml"}, "-o"},
	} {
		t.Run(name, func(t *testing.T) {
			_, errs, code := tp(t, "", "", append([]string{"clv", "fit"}, tc.args...)...)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want non-zero and %q", code, errs, tc.want)
			}
		})
	}
}

// Customer 6's repeat purchase is $0: it counts as a repeat customer for
// BG/NBD, but Gamma-Gamma has no spend of it to fit.
const clvTestLog = " customer_id  date number_of_cds  dollar_value\n" +
	"1 19970101 1 10\n1 19970101 2 5\n1 19970201 1 20\n1 19970301 1 30\n" +
	"2 19970102 1 12\n2 19970402 1 18\n3 19970103 1 7\n4 19970104 1 9\n4 19970110 1 11\n5 19970105 1 3\n" +
	"6 19970106 1 4\n6 19970107 1 0\n"

func TestCLI_CLVFitTransactionLog(t *testing.T) {
	log := writeLog(t, clvTestLog)
	out := mustTP(t, "", "", "clv", "fit", "--data", log, "--calibration-end", "1997-03-15", "-o", "json")
	var got clvJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Customers != 6 || got.RepeatCustomers != 3 || got.GammaGamma == nil || got.GammaGamma.Customers != 2 {
		t.Errorf("got %s; want 6 customers, 3 with repeat purchases before 15 March, Gamma-Gamma over the 2 with positive repeat spend", out)
	}
	table := mustTP(t, "", "", "clv", "fit", "--data", log, "--calibration-end", "1997-03-15")
	for _, want := range []string{"(3 with repeat purchases)", "(2 customers with positive repeat spend)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// Spend, but no repeat purchase with any: Gamma-Gamma is not fitted,
	// and the table does not claim the data has no spend.
	table = mustTP(t, "", "", "clv", "fit", "--data", writeLog(t, "1 19970101 1 2\n2 19970102 1 3\n2 19970103 1 0\n3 19970104 1 5\n"))
	if !strings.Contains(table, "not fitted: no customer has a repeat purchase with positive spend") {
		t.Errorf("table:\n%s", table)
	}
}

// A calibration end after the log's last date would count the days past
// it as days without purchases; it is refused, not fitted.
func TestCLI_CLVFitRefusesCalibrationEndAfterTheLog(t *testing.T) {
	log := writeLog(t, clvTestLog) // the last date is 1997-04-02
	for _, end := range []string{"1997-04-03", "2030-01-01"} {
		out, errs, code := tp(t, "", "", "clv", "fit", "--data", log, "--calibration-end", end, "-o", "json")
		want := "error: usage: --calibration-end " + end + " is after the last transaction date in " + log + ", 1997-04-02"
		if code == 0 || !strings.Contains(errs, want) || out != "" {
			t.Errorf("--calibration-end %s: exit %d, stdout %q, stderr %q; want non-zero and %q", end, code, out, errs, want)
		}
	}
	mustTP(t, "", "", "clv", "fit", "--data", log, "--calibration-end", "1997-04-02")
}

// A fit to CDNOW's first two days (209 customers, 3 of whom bought
// again) is degenerate: it is printed, with warnings on stderr and in
// -o json.
func TestCLI_CLVFitWarnsWhenTheFitRestsOnFewRepeaters(t *testing.T) {
	data := filepath.Join(analyticstest.SharedData(t), "CDNOW_master.txt")
	wantCodes := []string{"few_repeaters", "extreme_parameter", "not_converged", "few_repeaters", "extreme_parameter"}
	out, errs, code := tp(t, "", "", "clv", "fit", "--data", data, "--calibration-end", "1997-01-02", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got clvJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Customers != 209 || got.RepeatCustomers != 3 || !slices.Equal(got.warningCodes(), wantCodes) {
		t.Errorf("%d customers, %d repeating, warnings %v; want 209, 3 and codes %v", got.Customers, got.RepeatCustomers, got.Warnings, wantCodes)
	}
	for _, want := range []string{
		"warning: few_repeaters: BG/NBD: only 3 of 209 customers made a repeat purchase (fewer than 30)",
		"warning: extreme_parameter: BG/NBD: extreme parameter values r ",
		"warning: few_repeaters: Gamma-Gamma: fitted over only 3 customers",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	table, terrs, code := tp(t, "", "", "clv", "fit", "--data", data, "--calibration-end", "1997-01-02")
	if code != 0 || terrs != errs || strings.Contains(table, "warning") {
		t.Errorf("table: exit %d, stderr %q, stdout %q; want 0 and the same warnings on stderr alone", code, terrs, table)
	}
}
