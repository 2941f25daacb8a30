package propensity

import (
	"math"
	"math/rand/v2"
)

// Sample draws from the distribution with r: X/(X+Y) for X ~ Gamma(α),
// Y ~ Gamma(β). With a parameter below 1 the ratio is formed from the
// draws' logarithms, so that tiny draws cannot underflow to 0/0.
func (b Beta) Sample(r *rand.Rand) float64 {
	if b.Alpha >= 1 && b.Beta >= 1 {
		x, y := gammaMT(r, b.Alpha), gammaMT(r, b.Beta)
		return x / (x + y)
	}
	lx, ly := logGamma(r, b.Alpha), logGamma(r, b.Beta)
	return 1 / (1 + math.Exp(ly-lx))
}

// logGamma is the logarithm of a Gamma(shape, 1) draw. For shape < 1 it
// uses Gamma(shape) = Gamma(shape+1)·U^(1/shape) (Marsaglia & Tsang).
func logGamma(r *rand.Rand, shape float64) float64 {
	if shape >= 1 {
		return math.Log(gammaMT(r, shape))
	}
	u := 1 - r.Float64() // (0, 1]
	return math.Log(gammaMT(r, shape+1)) + math.Log(u)/shape
}

// gammaMT draws from Gamma(shape, 1), shape ≥ 1, by Marsaglia & Tsang's
// method ("A simple method for generating gamma variables", ACM TOMS
// 2000): a transformed normal draw accepted by a squeeze, else by the
// exact log test.
func gammaMT(r *rand.Rand, shape float64) float64 {
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		var x, v float64
		for {
			x = r.NormFloat64()
			v = 1 + c*x
			if v > 0 {
				break
			}
		}
		v = v * v * v
		u := r.Float64()
		x2 := x * x
		if u < 1-0.0331*x2*x2 {
			return d * v
		}
		if math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Thompson draws one acceptance probability from each arm's posterior
// with r and returns the index of the largest draw (the first of equal
// draws), or -1 when there are no arms. draws, if not nil, must have
// len(arms) and receives the draws.
func Thompson(r *rand.Rand, arms []Beta, draws []float64) int {
	best, bestDraw := -1, math.Inf(-1)
	for i, a := range arms {
		d := a.Sample(r)
		if draws != nil {
			draws[i] = d
		}
		if d > bestDraw {
			best, bestDraw = i, d
		}
	}
	return best
}
