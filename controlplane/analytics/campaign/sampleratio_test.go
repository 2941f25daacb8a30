package campaign

import "testing"

// The p-values are P(χ²₁ ≥ x), which a χ² table brackets: 6.635 is the
// 1% point, 10.828 the 0.1% point.
//
//	540/460 at 50%: E = 500/500, χ² = 40²/500 + 40²/500 = 6.4           → p = 0.011412
//	654/346 at 30%: E = 700/300, χ² = 46²/300 + 46²/700 = 10.0761905    → p = 0.0015020
//	650/350 at 30%: E = 700/300, χ² = 50²/300 + 50²/700 = 11.9047619    → p = 0.00055991
//	31/357 at 20% (the user test): E = 310.4/77.6,
//	                χ² = 279.4² · (1/77.6 + 1/310.4) = 1257.48          → p ≈ 2e-275
func TestCheckSampleRatio_ChiSquareGoodnessOfFit(t *testing.T) {
	for _, tc := range []struct {
		name               string
		treatment, control int64
		share              float64
		chi2, p            float64
		mismatch           bool
	}{
		{"exact split", 700, 300, 0.3, 0, 1, false},
		{"off but plausible", 540, 460, 0.5, 6.4, 0.011412036, false},
		{"just above the threshold", 654, 346, 0.3, 10.0761905, 0.0015019755, false},
		{"just below the threshold", 650, 350, 0.3, 11.9047619, 0.00055990625, true},
		{"the user test: 31 treatment, 357 control at 20%", 31, 357, 0.2, 1257.48003, 1.9657e-275, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckSampleRatio(tc.treatment, tc.control, tc.share)
			if !r.Tested || r.Mismatch != tc.mismatch || !near(r.ChiSquare, tc.chi2, 1e-5) || !near(r.PValue/tc.p, 1, 1e-4) {
				t.Errorf("CheckSampleRatio(%d, %d, %v) = %+v, want χ² %v, p %v, mismatch %v", tc.treatment, tc.control, tc.share, r, tc.chi2, tc.p, tc.mismatch)
			}
			if want := float64(tc.control) / float64(tc.treatment+tc.control); !r.ObservedControlShareOK || !near(r.ObservedControlShare, want, 1e-12) {
				t.Errorf("observed share %v %v, want %v", r.ObservedControlShare, r.ObservedControlShareOK, want)
			}
		})
	}
}

// Splits the test cannot judge are not tested, and so never a mismatch.
func TestCheckSampleRatio_Untested(t *testing.T) {
	for _, tc := range []struct {
		name               string
		treatment, control int64
		share              float64
		observedOK         bool
	}{
		// 0% and 100%: one group must be empty, and it is (or a control
		// percentage changed from something else: nothing to test either).
		{"no control group", 1000, 0, 0, true},
		{"no control group, some held out before a change", 1000, 40, 0, true},
		{"everyone held out", 0, 1000, 1, true},
		{"everyone held out, some treated before a change", 30, 1000, 1, true},
		{"nobody assigned", 0, 0, 0.3, false},
		// An expected control group of 0.3, below five: the χ²
		// approximation would call 3 of 30 at 1% a mismatch (χ² = 24.5,
		// p = 7e-7) where the exact binomial tail P(X ≥ 3) is 0.0033.
		{"expected group too small", 27, 3, 0.01, true},
		{"negative count", -1, 5, 0.5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckSampleRatio(tc.treatment, tc.control, tc.share)
			if r.Tested || r.Mismatch || r.ObservedControlShareOK != tc.observedOK || r.ExpectedControlShare != tc.share {
				t.Errorf("CheckSampleRatio(%d, %d, %v) = %+v, want untested", tc.treatment, tc.control, tc.share, r)
			}
		})
	}
}
