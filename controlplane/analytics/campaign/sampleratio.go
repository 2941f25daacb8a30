package campaign

import "math"

// SRMAlpha is the p-value below which a split is a sample ratio mismatch.
// It is far stricter than the 0.05 of the uplift: the test runs on every
// report, and a campaign's groups either follow its control percentage or
// something is broken, so it should cry wolf about once in a thousand
// healthy reports.
const SRMAlpha = 0.001

// SRMMinExpected is the smallest expected group size the test runs at:
// below it the chi-square approximation overstates the evidence (Cochran's
// rule of five), and with so few customers a mismatch would not be seen
// anyway.
const SRMMinExpected = 5

// SampleRatio is the sample-ratio-mismatch test of a treatment/control
// split against the control share the campaign asks for.
type SampleRatio struct {
	// ExpectedControlShare is the share of control customers the split
	// should show (controlGroupPercent / 100).
	ExpectedControlShare float64
	// ObservedControlShare is control / (treatment + control); not ok
	// when nobody was assigned.
	ObservedControlShare   float64
	ObservedControlShareOK bool
	// ChiSquare and PValue are the test's statistic and p-value; Tested
	// is false when the test was not run: an expected share of 0 or 1
	// (nothing to compare: either group must be empty), or an expected
	// group size below SRMMinExpected.
	ChiSquare, PValue float64
	Tested            bool
	// Mismatch is Tested and PValue < SRMAlpha.
	Mismatch bool
}

// CheckSampleRatio tests whether treatment and control customers split as
// expectedControlShare asks, with Pearson's chi-square goodness-of-fit
// test at 1 degree of freedom: with n = treatment + control and s the
// expected control share,
//
//	χ² = (control − n·s)² / (n·s) + (treatment − n·(1−s))² / (n·(1−s))
//	p  = P(χ²₁ ≥ χ²) = erfc(√(χ²/2))
//
// (a χ²₁ variable is the square of a standard normal one). A small p says
// the groups are not the random split the control percentage makes.
func CheckSampleRatio(treatment, control int64, expectedControlShare float64) SampleRatio {
	r := SampleRatio{ExpectedControlShare: expectedControlShare}
	if treatment < 0 || control < 0 {
		return r
	}
	n := float64(treatment + control)
	if n == 0 {
		return r
	}
	r.ObservedControlShare, r.ObservedControlShareOK = float64(control)/n, true
	s := expectedControlShare
	if !(s > 0 && s < 1) { // 0%, 100% (or NaN): no split to test
		return r
	}
	ec, et := n*s, n*(1-s)
	if ec < SRMMinExpected || et < SRMMinExpected {
		return r
	}
	dc, dt := float64(control)-ec, float64(treatment)-et
	r.ChiSquare = dc*dc/ec + dt*dt/et
	r.PValue = math.Erfc(math.Sqrt(r.ChiSquare / 2))
	r.Tested = true
	r.Mismatch = r.PValue < SRMAlpha
	return r
}
