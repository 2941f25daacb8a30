package clv

import (
	"errors"
	"fmt"
	"math"
)

// GammaGamma holds the parameters of the Gamma-Gamma spend model: a
// customer's transaction values are gamma(p, ν) with ν gamma(q, v)
// distributed across customers.
type GammaGamma struct {
	P float64 `json:"p"`
	Q float64 `json:"q"`
	V float64 `json:"v"`
}

// GammaGammaFit is the result of FitGammaGamma. Warnings says what makes
// it doubtful.
type GammaGammaFit struct {
	GammaGamma
	LogLikelihood      float64 `json:"logLikelihood"`
	StartLogLikelihood float64 `json:"startLogLikelihood"`
	// Customers is how many customers were fitted: those with a repeat
	// purchase and a positive mean repeat spend (Repeaters).
	Customers   int `json:"customers"`
	Evaluations int `json:"evaluations"`
	// Converged is false when the optimiser stopped still improving the
	// likelihood (see minimize).
	Converged bool `json:"converged"`
}

// LogLikelihood is the Gamma-Gamma log-likelihood of the mean spends
// zbar of customers with x ≥ 1 repeat purchases, summed.
func (m GammaGamma) LogLikelihood(cs []Customer) float64 {
	p, q, v := m.P, m.Q, m.V
	if !(p > 0 && q > 0 && v > 0) || math.IsInf(p+q+v, 0) {
		return math.Inf(-1)
	}
	lgQ, qLnV := lgamma(q), q*math.Log(v)
	perX := map[float64]float64{} // the Γ terms depend on x only
	total := 0.0
	for _, c := range cs {
		px := p * c.X
		g, ok := perX[c.X]
		if !ok {
			g = lgamma(px+q) - lgamma(px) + px*math.Log(c.X)
			perX[c.X] = g
		}
		total += g - lgQ + qLnV + (px-1)*math.Log(c.Zbar) - (px+q)*math.Log(c.X*c.Zbar+v)
	}
	return total
}

// FitGammaGamma finds the maximum-likelihood Gamma-Gamma parameters over
// the customers with x > 0 and zbar > 0 (others are skipped; see
// Repeaters).
func FitGammaGamma(all []Customer) (GammaGammaFit, error) {
	cs := Repeaters(all)
	if len(cs) == 0 {
		return GammaGammaFit{}, ErrNoCustomers
	}
	for i, c := range cs {
		if err := c.check(); err != nil {
			return GammaGammaFit{}, fmt.Errorf("customer %d (%s): %w", i+1, c.ID, err)
		}
	}
	nll := func(lp []float64) float64 {
		p, ok := expParams(lp)
		if !ok {
			return math.Inf(1)
		}
		return -GammaGamma{p[0], p[1], p[2]}.LogLikelihood(cs)
	}
	start := GammaGamma{1, 1, 1}
	var best []float64
	bestF := math.Inf(1)
	evals, converged := 0, false
	for _, x0 := range [][]float64{{0, 0, 0}, {1, 1, 2}, {2, 0.5, 3}} {
		x, f, n, ok := minimize(nll, x0, 1, 20000)
		evals += n
		if f < bestF {
			best, bestF, converged = x, f, ok
		}
	}
	if math.IsInf(bestF, 0) || math.IsNaN(bestF) {
		return GammaGammaFit{}, errors.New("clv: Gamma-Gamma fit found no point with a finite likelihood")
	}
	p, _ := expParams(best)
	return GammaGammaFit{GammaGamma: GammaGamma{p[0], p[1], p[2]}, LogLikelihood: -bestF,
		StartLogLikelihood: start.LogLikelihood(cs), Customers: len(cs), Evaluations: evals, Converged: converged}, nil
}

// ExpectedSpend is the expected mean transaction value of a customer
// with x repeat purchases of mean value zbar, E[Z | x, zbar]; for x = 0
// it is the population mean p·v/(q−1) (infinite when q ≤ 1).
func (m GammaGamma) ExpectedSpend(c Customer) float64 {
	if c.X == 0 {
		if m.Q <= 1 {
			return math.Inf(1)
		}
		return m.P * m.V / (m.Q - 1)
	}
	return m.P * (m.V + c.X*c.Zbar) / (m.P*c.X + m.Q - 1)
}
