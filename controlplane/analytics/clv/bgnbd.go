package clv

import (
	"errors"
	"fmt"
	"math"
)

// BGNBD holds the parameters of the BG/NBD model: purchasing while alive
// is Poisson with a gamma(r, α) distributed rate across customers, and
// after each purchase a customer drops out with a beta(a, b) distributed
// probability.
type BGNBD struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

// BGNBDFit is the result of FitBGNBD. Warnings says what makes it
// doubtful.
type BGNBDFit struct {
	BGNBD
	LogLikelihood      float64 `json:"logLikelihood"`
	StartLogLikelihood float64 `json:"startLogLikelihood"`
	Evaluations        int     `json:"evaluations"`
	// Customers is how many customers were fitted, Repeaters how many of
	// them made a repeat purchase (x > 0): only they inform the dropout
	// parameters a and b.
	Customers int `json:"customers"`
	Repeaters int `json:"repeaters"`
	// Converged is false when the optimiser stopped still improving the
	// likelihood (see minimize).
	Converged bool `json:"converged"`
}

func (m BGNBD) valid() bool {
	for _, v := range []float64{m.R, m.Alpha, m.A, m.B} {
		if !(v > 0) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// bgnbdGroup is the customers sharing one frequency: the terms of the
// likelihood that depend only on x are computed once per group.
// Customers with the same (x, t_x, T) are one weighted entry: a raw log
// summarised in days has many.
type bgnbdGroup struct {
	x    float64
	hist []bgnbdHist
}

type bgnbdHist struct {
	tx, t int // indexes into bgnbdData.values
	n     float64
}

// bgnbdData is the grouped customers and the distinct t_x and T values,
// whose log(α + ·) is computed once per evaluation.
type bgnbdData struct {
	groups []bgnbdGroup
	values []float64
}

func groupByX(cs []Customer) *bgnbdData {
	type key struct{ x, tx, t float64 }
	d := &bgnbdData{}
	vidx := map[float64]int{}
	value := func(v float64) int {
		i, ok := vidx[v]
		if !ok {
			i = len(d.values)
			vidx[v] = i
			d.values = append(d.values, v)
		}
		return i
	}
	idx := map[float64]int{}
	seen := map[key][2]int{}
	var gs []bgnbdGroup
	for _, c := range cs {
		if at, ok := seen[key{c.X, c.Tx, c.T}]; ok {
			gs[at[0]].hist[at[1]].n++
			continue
		}
		i, ok := idx[c.X]
		if !ok {
			i = len(gs)
			idx[c.X] = i
			gs = append(gs, bgnbdGroup{x: c.X})
		}
		seen[key{c.X, c.Tx, c.T}] = [2]int{i, len(gs[i].hist)}
		gs[i].hist = append(gs[i].hist, bgnbdHist{tx: value(c.Tx), t: value(c.T), n: 1})
	}
	d.groups = gs
	return d
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// logSumExp returns log(e^a + e^b) without overflow.
func logSumExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// LogLikelihood is the BG/NBD log-likelihood of the customers (equation 6
// of Fader, Hardie & Lee 2005), summed.
func (m BGNBD) LogLikelihood(cs []Customer) float64 {
	return m.logLikelihood(groupByX(cs))
}

func (m BGNBD) logLikelihood(d *bgnbdData) float64 {
	if !m.valid() {
		return math.Inf(-1)
	}
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	lnAlpha := math.Log(alpha)
	lnAT := make([]float64, len(d.values)) // log(α + t) for each distinct t
	for i, v := range d.values {
		lnAT[i] = math.Log(alpha + v)
	}
	lgR, lgB, lgAB := lgamma(r), lgamma(b), lgamma(a+b)
	total := 0.0
	for _, g := range d.groups {
		x := g.x
		// Terms that depend on x only: Γ(r+x)α^r/Γ(r) and B(a, b+x)/B(a, b).
		common := lgamma(r+x) - lgR + r*lnAlpha + lgAB + lgamma(b+x) - lgB - lgamma(a+b+x)
		var dropTerm float64 // log of a/(b+x-1), relative to the first term
		if x > 0 {
			dropTerm = math.Log(a) - math.Log(b+x-1)
		}
		for _, h := range g.hist {
			alive := -(r + x) * lnAT[h.t]
			ll := alive
			if x > 0 {
				ll = logSumExp(alive, dropTerm-(r+x)*lnAT[h.tx])
			}
			total += h.n * (common + ll)
		}
	}
	return total
}

// ErrNoCustomers is returned by the fits when there is nothing to fit.
var ErrNoCustomers = errors.New("clv: no customers to fit")

// FitBGNBD finds the maximum-likelihood BG/NBD parameters by Nelder–Mead
// on the logarithms of the parameters (so they stay positive), from a few
// starting points, each restarted until it stops improving.
func FitBGNBD(cs []Customer) (BGNBDFit, error) {
	if len(cs) == 0 {
		return BGNBDFit{}, ErrNoCustomers
	}
	for i, c := range cs {
		if err := c.check(); err != nil {
			return BGNBDFit{}, fmt.Errorf("customer %d (%s): %w", i+1, c.ID, err)
		}
	}
	gs := groupByX(cs)
	nll := func(lp []float64) float64 {
		p, ok := expParams(lp)
		if !ok {
			return math.Inf(1)
		}
		return -BGNBD{p[0], p[1], p[2], p[3]}.logLikelihood(gs)
	}
	start := BGNBD{1, 1, 1, 1}
	startLL := start.logLikelihood(gs)
	var best []float64
	bestF := math.Inf(1)
	evals, converged := 0, false
	for _, x0 := range [][]float64{{0, 0, 0, 0}, {-1, 1, -1, 1}, {-2, 2, 0, 0.5}} {
		x, f, n, ok := minimize(nll, x0, 1, 20000)
		evals += n
		if f < bestF {
			best, bestF, converged = x, f, ok
		}
	}
	if math.IsInf(bestF, 0) || math.IsNaN(bestF) {
		return BGNBDFit{}, errors.New("clv: BG/NBD fit found no point with a finite likelihood")
	}
	repeaters := 0
	for _, c := range cs {
		if c.X > 0 {
			repeaters++
		}
	}
	p, _ := expParams(best)
	return BGNBDFit{BGNBD: BGNBD{p[0], p[1], p[2], p[3]}, LogLikelihood: -bestF, StartLogLikelihood: startLL, Evaluations: evals,
		Customers: len(cs), Repeaters: repeaters, Converged: converged}, nil
}

// check reports a summary the models cannot use.
func (c Customer) check() error {
	switch {
	case math.IsNaN(c.X) || math.IsInf(c.X, 0) || c.X < 0 || c.X != math.Trunc(c.X):
		return fmt.Errorf("frequency %v: want a whole number ≥ 0", c.X)
	case !(c.T > 0) || math.IsInf(c.T, 0):
		return fmt.Errorf("age T %v: want a positive number", c.T)
	case !(c.Tx >= 0) || c.Tx > c.T:
		return fmt.Errorf("recency %v: want 0 ≤ recency ≤ T (%v)", c.Tx, c.T)
	case !(c.Zbar >= 0) || math.IsInf(c.Zbar, 0):
		return fmt.Errorf("zbar %v: want a number ≥ 0", c.Zbar)
	}
	return nil
}

// PAlive is the probability that the customer is still active at T
// (equation 13 of Fader, Hardie & Lee 2005).
func (m BGNBD) PAlive(c Customer) float64 {
	if c.X == 0 {
		return 1
	}
	r, alpha, a, b, x := m.R, m.Alpha, m.A, m.B, c.X
	lnRatio := math.Log(a) - math.Log(b+x-1) + (r+x)*(math.Log(alpha+c.T)-math.Log(alpha+c.Tx))
	return 1 / (1 + math.Exp(lnRatio))
}

// ExpectedPurchases is the expected number of purchases in the next t
// weeks by a customer with this history (equation 10 of Fader, Hardie &
// Lee 2005).
func (m BGNBD) ExpectedPurchases(t float64, c Customer) float64 {
	if !(t > 0) {
		return 0
	}
	r, alpha, a, b, x := m.R, m.Alpha, m.A, m.B, c.X
	z := t / (alpha + c.T + t)
	hyp := hyp2f1(r+x, b+x, a+b+x-1, z)
	lead := (a + b + x - 1) / (a - 1)
	num := 1 - math.Exp((r+x)*math.Log((alpha+c.T)/(alpha+c.T+t)))*hyp
	den := 1.0
	if x > 0 {
		den += a / (b + x - 1) * math.Exp((r+x)*(math.Log(alpha+c.T)-math.Log(alpha+c.Tx)))
	}
	return lead * num / den
}

// hyp2f1 is the Gauss hypergeometric function ₂F₁(a, b; c; z) for
// 0 ≤ z < 1, summed as its power series.
func hyp2f1(a, b, c, z float64) float64 {
	term, sum := 1.0, 1.0
	for k := 0.0; k < 1e6; k++ {
		term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
		sum += term
		if math.Abs(term) <= 1e-15*math.Abs(sum) {
			break
		}
	}
	return sum
}
