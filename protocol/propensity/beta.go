package propensity

import (
	"fmt"
	"math"
)

// Beta is a Beta(Alpha, Beta) distribution of an acceptance probability;
// both parameters are > 0.
type Beta struct {
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
}

// Validate reports parameters that are not finite and > 0.
func (b Beta) Validate() error {
	for _, v := range [...]float64{b.Alpha, b.Beta} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return fmt.Errorf("beta(%v, %v): parameters must be finite and > 0", b.Alpha, b.Beta)
		}
	}
	return nil
}

// Mean is α / (α + β).
func (b Beta) Mean() float64 { return b.Alpha / (b.Alpha + b.Beta) }

// Variance is αβ / ((α + β)²(α + β + 1)).
func (b Beta) Variance() float64 {
	s := b.Alpha + b.Beta
	return b.Alpha * b.Beta / (s * s * (s + 1))
}

// logBeta is ln B(a, b).
func logBeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// PDF is the density at x.
func (b Beta) PDF(x float64) float64 {
	switch {
	case x < 0 || x > 1:
		return 0
	case x == 0 || x == 1:
		// The density's limit: 0, the finite value at α (or β) = 1, or +Inf.
		e := b.Alpha
		if x == 1 {
			e = b.Beta
		}
		switch {
		case e > 1:
			return 0
		case e < 1:
			return math.Inf(1)
		}
		return math.Exp(-logBeta(b.Alpha, b.Beta))
	}
	return math.Exp((b.Alpha-1)*math.Log(x) + (b.Beta-1)*math.Log1p(-x) - logBeta(b.Alpha, b.Beta))
}

// CDF is P(X ≤ x), the regularised incomplete beta function I_x(α, β),
// evaluated by its continued fraction (modified Lentz), on whichever of
// x and 1 − x makes it converge fast.
func (b Beta) CDF(x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	a, bb := b.Alpha, b.Beta
	// x^a (1−x)^b / B(a, b)
	front := math.Exp(a*math.Log(x) + bb*math.Log1p(-x) - logBeta(a, bb))
	if x < (a+1)/(a+bb+2) {
		return front * betaCF(a, bb, x) / a
	}
	return 1 - front*betaCF(bb, a, 1-x)/bb
}

// betaCF evaluates the continued fraction of I_x(a, b) (Numerical
// Recipes §6.4) by the modified Lentz method.
func betaCF(a, b, x float64) float64 {
	const (
		eps  = 1e-16
		tiny = 1e-300
	)
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 100000; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) <= eps {
			break
		}
	}
	return h
}

// Quantile is the x with CDF(x) = p (the inverse of the regularised
// incomplete beta function): Newton's method on the CDF from the starting
// guess of Numerical Recipes' invbetai, kept inside a shrinking bracket
// (a step that would leave it bisects instead), to full precision. With
// parameters far below 1 a quantile can lie closer to 0 or 1 than a
// float64 can; the result is then the nearest value the search reaches.
func (b Beta) Quantile(p float64) float64 {
	switch {
	case math.IsNaN(p):
		return math.NaN()
	case p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	lo, hi := 0.0, 1.0
	x := b.quantileGuess(p)
	for range 500 {
		f := b.CDF(x) - p
		if f == 0 {
			return x
		}
		if f < 0 {
			lo = x
		} else {
			hi = x
		}
		next := math.NaN()
		if d := b.PDF(x); d > 0 && !math.IsInf(d, 0) {
			next = x - f/d
		}
		if !(next > lo && next < hi) {
			next = lo + (hi-lo)/2
		}
		if math.Abs(next-x) <= 1e-15*x || hi-lo <= 1e-15*lo {
			return next
		}
		x = next
	}
	return x
}

// quantileGuess is Numerical Recipes' (3rd ed., §6.14.11) first guess at
// the quantile, moved inside (0, 1).
func (b Beta) quantileGuess(p float64) float64 {
	a, bb := b.Alpha, b.Beta
	var x float64
	if a >= 1 && bb >= 1 {
		pp := p
		if p >= 0.5 {
			pp = 1 - p
		}
		t := math.Sqrt(-2 * math.Log(pp))
		x = (2.30753+t*0.27061)/(1+t*(0.99229+t*0.04481)) - t
		if p < 0.5 {
			x = -x
		}
		al := (x*x - 3) / 6
		h := 2 / (1/(2*a-1) + 1/(2*bb-1))
		w := x*math.Sqrt(al+h)/h - (1/(2*bb-1)-1/(2*a-1))*(al+5.0/6-2/(3*h))
		x = a / (a + bb*math.Exp(2*w))
	} else {
		lna, lnb := math.Log(a/(a+bb)), math.Log(bb/(a+bb))
		t, u := math.Exp(a*lna)/a, math.Exp(bb*lnb)/bb
		w := t + u
		if p < t/w {
			x = math.Pow(a*w*p, 1/a)
		} else {
			x = 1 - math.Pow(bb*w*(1-p), 1/bb)
		}
	}
	if !(x > 0 && x < 1) {
		x = b.Mean()
	}
	return x
}

// CredibleInterval is the equal-tailed interval holding level (e.g. 0.95)
// of the probability: the (1−level)/2 and (1+level)/2 quantiles.
func (b Beta) CredibleInterval(level float64) (lo, hi float64) {
	return b.Quantile((1 - level) / 2), b.Quantile((1 + level) / 2)
}
