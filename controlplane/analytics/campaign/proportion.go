package campaign

import "math"

// Z95 is the two-sided 95% standard normal quantile, Φ⁻¹(0.975).
const Z95 = 1.959963984540054

// Interval is a confidence interval [Low, High].
type Interval struct {
	Low, High float64
}

// Contains reports whether v lies in the interval (bounds included).
func (i Interval) Contains(v float64) bool { return i.Low <= v && v <= i.High }

// Proportion is K successes out of N trials.
type Proportion struct {
	K, N int64
}

// Rate is K/N; ok is false when N is 0 (a rate over nobody).
func (p Proportion) Rate() (rate float64, ok bool) {
	if p.N <= 0 {
		return 0, false
	}
	return float64(p.K) / float64(p.N), true
}

// Wilson is the Wilson score interval of the proportion at normal quantile
// z (Z95 for 95%):
//
//	centre    = (p + z²/2n) / (1 + z²/n)
//	halfwidth = z / (1 + z²/n) · √(p(1−p)/n + z²/4n²)
//
// Unlike the Wald interval it stays inside [0, 1] and is not degenerate at
// p = 0 or p = 1. ok is false when N is 0 or K is outside [0, N].
func (p Proportion) Wilson(z float64) (Interval, bool) {
	if p.N <= 0 || p.K < 0 || p.K > p.N {
		return Interval{}, false
	}
	n := float64(p.N)
	r := float64(p.K) / n
	z2 := z * z
	d := 1 + z2/n
	centre := (r + z2/(2*n)) / d
	half := z / d * math.Sqrt(r*(1-r)/n+z2/(4*n*n))
	lo, hi := centre-half, centre+half
	// Exact bounds at the edges (rounding would leave 1e-17 off).
	if p.K == 0 {
		lo = 0
	}
	if p.K == p.N {
		hi = 1
	}
	return Interval{Low: math.Max(0, lo), High: math.Min(1, hi)}, true
}

// ROI is the return on investment (value − cost) / cost; ok is false when
// cost is not positive (nothing was spent, so no return can be stated).
func ROI(value, cost float64) (float64, bool) {
	if !(cost > 0) {
		return 0, false
	}
	return (value - cost) / cost, true
}
