package clv

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func codes(ws []Warning) []string {
	var cs []string
	for _, w := range ws {
		cs = append(cs, w.Code)
	}
	return cs
}

func TestWarnings_FlagFewRepeatersExtremeValuesAndNoConvergence(t *testing.T) {
	// The published CDNOW fits: nothing to warn about.
	good := BGNBDFit{BGNBD: BGNBD{0.243, 4.414, 0.793, 2.426}, Customers: 2357, Repeaters: 946, Converged: true}
	goodGG := GammaGammaFit{GammaGamma: GammaGamma{6.25, 3.74, 15.44}, Customers: 946, Converged: true}
	with := func(f func(*BGNBDFit)) BGNBDFit { c := good; f(&c); return c }
	withGG := func(f func(*GammaGammaFit)) GammaGammaFit { c := goodGG; f(&c); return c }
	for name, tc := range map[string]struct {
		ws   []Warning
		want []string
		text string // in the first warning's message
	}{
		"published BG/NBD":           {good.Warnings(), nil, ""},
		"published Gamma-Gamma":      {goodGG.Warnings(), nil, ""},
		"29 repeaters":               {with(func(f *BGNBDFit) { f.Repeaters = MinRepeaters - 1 }).Warnings(), []string{WarnFewRepeaters}, "only 29 of 2357"},
		"30 repeaters":               {with(func(f *BGNBDFit) { f.Repeaters = MinRepeaters }).Warnings(), nil, ""},
		"r huge, b tiny":             {with(func(f *BGNBDFit) { f.R, f.B = 2.689e4, 2.906e-10 }).Warnings(), []string{WarnExtremeParameter}, "r 2.689e+04, b 2.906e-10"},
		"large alpha is a unit":      {with(func(f *BGNBDFit) { f.Alpha = 5e4 }).Warnings(), nil, ""},
		"alpha at the search bound":  {with(func(f *BGNBDFit) { f.Alpha = 7e10 }).Warnings(), []string{WarnExtremeParameter}, "alpha 7e+10"},
		"not converged":              {with(func(f *BGNBDFit) { f.Converged = false; f.Evaluations = 60000 }).Warnings(), []string{WarnNotConverged}, "60000 evaluations"},
		"Gamma-Gamma, 3 customers":   {withGG(func(f *GammaGammaFit) { f.Customers = 3 }).Warnings(), []string{WarnFewRepeaters}, "only 3 customers with positive repeat spend"},
		"Gamma-Gamma p huge":         {withGG(func(f *GammaGammaFit) { f.P = 4.055e7 }).Warnings(), []string{WarnExtremeParameter}, "p 4.055e+07"},
		"Gamma-Gamma q ≤ 1":          {withGG(func(f *GammaGammaFit) { f.Q = 0.8 }).Warnings(), []string{WarnInfiniteMeanSpend}, "infinite"},
		"Gamma-Gamma not converged":  {withGG(func(f *GammaGammaFit) { f.Converged = false }).Warnings(), []string{WarnNotConverged}, "Gamma-Gamma"},
		"several at once, in order":  {with(func(f *BGNBDFit) { f.Repeaters, f.A, f.Converged = 3, 1e-5, false }).Warnings(), []string{WarnFewRepeaters, WarnExtremeParameter, WarnNotConverged}, "BG/NBD"},
		"Gamma-Gamma v is in yuan":   {withGG(func(f *GammaGammaFit) { f.V = 1e6 }).Warnings(), nil, ""},
		"Gamma-Gamma v at the bound": {withGG(func(f *GammaGammaFit) { f.V = 1.91e-11 }).Warnings(), []string{WarnExtremeParameter}, "v 1.91e-11"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := codes(tc.ws); !slices.Equal(got, tc.want) {
				t.Fatalf("warnings %v, want codes %v", tc.ws, tc.want)
			}
			if tc.text != "" && !strings.Contains(tc.ws[0].Message, tc.text) {
				t.Errorf("message %q lacks %q", tc.ws[0].Message, tc.text)
			}
		})
	}
}

// A calibration period of two days (209 customers, 3 of them repeaters)
// gives degenerate fits, and says so. (The fits the docs quote have no
// warnings: data_test.go.)
func TestWarnings_CDNOWMasterTwoDayCalibrationIsFlagged(t *testing.T) {
	ds, err := ParseTransactions(openData(t, "CDNOW_master.txt"), TransactionOptions{CalibrationEnd: time.Date(1997, 1, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	bg, err := FitBGNBD(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	gg, err := FitGammaGamma(ds.Customers)
	if err != nil {
		t.Fatal(err)
	}
	if bg.Customers != 209 || bg.Repeaters != 3 || gg.Customers != 3 {
		t.Errorf("%d customers, %d repeaters, Gamma-Gamma over %d; want 209, 3, 3", bg.Customers, bg.Repeaters, gg.Customers)
	}
	if got, want := codes(bg.Warnings()), []string{WarnFewRepeaters, WarnExtremeParameter, WarnNotConverged}; !slices.Equal(got, want) {
		t.Errorf("BG/NBD %+v: warnings %v, want %v", bg.BGNBD, bg.Warnings(), want)
	}
	if got, want := codes(gg.Warnings()), []string{WarnFewRepeaters, WarnExtremeParameter}; !slices.Equal(got, want) {
		t.Errorf("Gamma-Gamma %+v: warnings %v, want %v", gg.GammaGamma, gg.Warnings(), want)
	}
}
