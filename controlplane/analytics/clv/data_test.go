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
}
