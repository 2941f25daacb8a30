package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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
	Customers int `json:"customers"`
	BGNBD     struct {
		R, Alpha, A, B, LogLikelihood float64
	} `json:"bgnbd"`
	GammaGamma *struct {
		P, Q, V   float64
		Customers int
	} `json:"gammaGamma"`
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
			out := mustTP(t, "", "", "clv", "fit", "--data", filepath.Join(data, tc.file), "-o", "json")
			var got clvJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if got.Customers != 2357 {
				t.Errorf("customers = %d, want 2357", got.Customers)
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
	for _, want := range []string{"customers", "2357", "r 0.2426", "log-likelihood -9582.4", "p 6.249", "946 customers"} {
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

func TestCLI_CLVFitTransactionLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log.txt")
	body := " customer_id  date number_of_cds  dollar_value\n" +
		"1 19970101 1 10\n1 19970101 2 5\n1 19970201 1 20\n1 19970301 1 30\n" +
		"2 19970102 1 12\n2 19970402 1 18\n3 19970103 1 7\n4 19970104 1 9\n4 19970110 1 11\n5 19970105 1 3\n"
	if err := os.WriteFile(log, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustTP(t, "", "", "clv", "fit", "--data", log, "--calibration-end", "1997-03-15", "-o", "json")
	var got clvJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Customers != 5 || got.GammaGamma == nil || got.GammaGamma.Customers != 2 {
		t.Errorf("got %s; want 5 customers, Gamma-Gamma over the 2 with repeat purchases before 15 March", out)
	}
}
