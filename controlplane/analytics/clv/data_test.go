package clv

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
)

func openData(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(analyticstest.SharedData(t), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// sig3 rounds v to three significant figures.
func sig3(v float64) float64 {
	s, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return s
}

func assertSig3(t *testing.T, name string, got, want float64) {
	t.Helper()
	if sig3(got) != sig3(want) {
		t.Errorf("%s = %.6g, want %.3g to three significant figures", name, got, want)
	}
}

func TestFitBGNBD_CDNOWSummaryMatchesPublishedFit(t *testing.T) {
	ds, err := ParseSummaryCSV(openData(t, "cdnow_customers_summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Customers) != 2357 || ds.HasSpend {
		t.Fatalf("read %d customers (spend %v), want 2357 without spend", len(ds.Customers), ds.HasSpend)
	}
	start := time.Now()
	fit, err := FitBGNBD(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BG/NBD r=%.6g alpha=%.6g a=%.6g b=%.6g LL=%.6f (%d evaluations, %v)", fit.R, fit.Alpha, fit.A, fit.B, fit.LogLikelihood, fit.Evaluations, time.Since(start))
	assertSig3(t, "r", fit.R, 0.243)
	assertSig3(t, "alpha", fit.Alpha, 4.414)
	assertSig3(t, "a", fit.A, 0.793)
	assertSig3(t, "b", fit.B, 2.426)
	if math.Abs(fit.LogLikelihood-(-9582.4)) > 0.1 {
		t.Errorf("log-likelihood = %.3f, want -9582.4", fit.LogLikelihood)
	}
	if ll := fit.BGNBD.LogLikelihood(ds.Customers); ll != fit.LogLikelihood {
		t.Errorf("LogLikelihood at the fit = %v, fit says %v", ll, fit.LogLikelihood)
	}
	if ws := fit.Warnings(); len(ws) != 0 || fit.Customers != 2357 || fit.Repeaters != 946 {
		t.Errorf("%d customers, %d repeaters, warnings %v; want 2357, 946 and none", fit.Customers, fit.Repeaters, ws)
	}
}

func TestFitGammaGamma_CDNOWRepeatersMatchPublishedFit(t *testing.T) {
	ds, err := ParseSummaryCSV(openData(t, "cdnow_customers_summary_with_transactions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !ds.HasSpend {
		t.Fatal("zbar column not detected")
	}
	fit, err := FitGammaGamma(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Gamma-Gamma p=%.6g q=%.6g v=%.6g LL=%.6f over %d customers", fit.P, fit.Q, fit.V, fit.LogLikelihood, fit.Customers)
	if fit.Customers != 946 {
		t.Errorf("fitted over %d customers, want the 946 with x > 0", fit.Customers)
	}
	assertSig3(t, "p", fit.P, 6.25)
	assertSig3(t, "q", fit.Q, 3.74)
	assertSig3(t, "v", fit.V, 15.44)
	if ws := fit.Warnings(); len(ws) != 0 {
		t.Errorf("warnings %v, want none", ws)
	}

	// Both layouts describe the same cohort: the BG/NBD fit agrees.
	bg, err := FitBGNBD(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	assertSig3(t, "r (x,t_x,T layout)", bg.R, 0.243)
	assertSig3(t, "b (x,t_x,T layout)", bg.B, 2.426)
}

func TestParseTransactions_CDNOWMasterFitsFullCohort(t *testing.T) {
	ds, err := ParseTransactions(openData(t, "CDNOW_master.txt"), TransactionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Customers) != 23570 {
		t.Fatalf("%d customers, want 23570", len(ds.Customers))
	}
	start := time.Now()
	fit, err := FitBGNBD(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CDNOW_master BG/NBD: r=%.4g alpha=%.4g a=%.4g b=%.4g LL=%.2f (start %.2f; %d evaluations, %v)",
		fit.R, fit.Alpha, fit.A, fit.B, fit.LogLikelihood, fit.StartLogLikelihood, fit.Evaluations, time.Since(start))
	for name, v := range map[string]float64{"r": fit.R, "alpha": fit.Alpha, "a": fit.A, "b": fit.B} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want finite and positive", name, v)
		}
	}
	if !(fit.LogLikelihood > fit.StartLogLikelihood) {
		t.Errorf("log-likelihood %v did not improve on the start %v", fit.LogLikelihood, fit.StartLogLikelihood)
	}
	if ws := fit.Warnings(); len(ws) != 0 {
		t.Errorf("BG/NBD warnings %v, want none", ws)
	}
	gg, err := FitGammaGamma(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CDNOW_master Gamma-Gamma: p=%.4g q=%.4g v=%.4g LL=%.2f (start %.2f) over %d customers",
		gg.P, gg.Q, gg.V, gg.LogLikelihood, gg.StartLogLikelihood, gg.Customers)
	for name, v := range map[string]float64{"p": gg.P, "q": gg.Q, "v": gg.V} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want finite and positive", name, v)
		}
	}
	if !(gg.LogLikelihood > gg.StartLogLikelihood) {
		t.Errorf("Gamma-Gamma log-likelihood %v did not improve on the start %v", gg.LogLikelihood, gg.StartLogLikelihood)
	}
	if ws := gg.Warnings(); len(ws) != 0 {
		t.Errorf("Gamma-Gamma warnings %v, want none", ws)
	}
	// docs/CLV.md: 11,516 customers bought again, 11,515 of them for more
	// than $0.
	if fit.Repeaters != 11516 || gg.Customers != 11515 {
		t.Errorf("%d repeaters, Gamma-Gamma over %d; want 11516 and 11515", fit.Repeaters, gg.Customers)
	}
}

// The fit of docs/CLV.md's table to the CDNOW summary files' period:
// 9,451 of the 23,570 customers bought again by 1997-09-30, and one of
// them (10244) only for $0, so Gamma-Gamma is fitted over 9,450.
func TestFits_CDNOWMasterToSeptember1997MatchDocs(t *testing.T) {
	ds, err := ParseTransactions(openData(t, "CDNOW_master.txt"), TransactionOptions{CalibrationEnd: time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	zeroSpend := ""
	for _, c := range ds.Customers {
		if c.X > 0 && c.Zbar == 0 {
			zeroSpend += " " + c.ID
		}
	}
	if zeroSpend != " 10244" {
		t.Errorf("repeaters with $0 repeat spend:%s; want 10244 alone", zeroSpend)
	}
	bg, err := FitBGNBD(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	gg, err := FitGammaGamma(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	if bg.Customers != 23570 || bg.Repeaters != 9451 || gg.Customers != 9450 {
		t.Errorf("%d customers, %d repeaters, Gamma-Gamma over %d; want 23570, 9451, 9450", bg.Customers, bg.Repeaters, gg.Customers)
	}
	assertSig3(t, "r", bg.R, 0.2516)
	assertSig3(t, "alpha", bg.Alpha, 4.789)
	assertSig3(t, "a", bg.A, 0.7234)
	assertSig3(t, "b", bg.B, 2.161)
	assertSig3(t, "p", gg.P, 6.275)
	assertSig3(t, "q", gg.Q, 3.624)
	assertSig3(t, "v", gg.V, 14.98)
	if ws := append(bg.Warnings(), gg.Warnings()...); len(ws) != 0 {
		t.Errorf("warnings %v, want none", ws)
	}
}
