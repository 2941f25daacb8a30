package clv

import (
	"math"
	"sort"
)

// maxRestarts is how many times minimize restarts Nelder–Mead before it
// gives up on the restarts settling.
const maxRestarts = 20

// minimize finds a local minimum of f from x0 by Nelder–Mead, restarted
// from the best point with a fresh simplex until a restart no longer
// improves f. f may return +Inf (or NaN) for points outside its domain.
// It returns the minimiser, the minimum, the number of evaluations and
// whether it converged: false when it stopped because it ran out of
// evaluations or restarts while each restart still improved f (as it
// does when f keeps falling towards the edge of its domain).
func minimize(f func([]float64) float64, x0 []float64, step float64, maxEval int) ([]float64, float64, int, bool) {
	eval := func(x []float64) float64 {
		v := f(x)
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		return v
	}
	best := append([]float64(nil), x0...)
	bestF := eval(best)
	evals := 1
	for restart := 0; restart < maxRestarts && evals < maxEval; restart++ {
		x, fx, n := nelderMead(eval, best, step, maxEval-evals)
		evals += n
		improved := bestF - fx
		if fx < bestF {
			best, bestF = x, fx
		}
		if restart > 0 && improved <= 1e-10*(1+math.Abs(bestF)) {
			return best, bestF, evals, true
		}
		step = math.Max(step/2, 0.05)
	}
	return best, bestF, evals, false
}

// nelderMead is one run of the simplex method with the standard
// coefficients (reflection 1, expansion 2, contraction ½, shrink ½).
func nelderMead(f func([]float64) float64, x0 []float64, step float64, maxEval int) ([]float64, float64, int) {
	n := len(x0)
	type vertex struct {
		x []float64
		f float64
	}
	s := make([]vertex, n+1)
	evals := 0
	for i := range s {
		x := append([]float64(nil), x0...)
		if i > 0 {
			x[i-1] += step
		}
		s[i] = vertex{x, f(x)}
		evals++
	}
	point := func(c []float64, to []float64, t float64) []float64 {
		p := make([]float64, n)
		for j := range p {
			p[j] = c[j] + t*(to[j]-c[j])
		}
		return p
	}
	centroid := make([]float64, n)
	for evals < maxEval {
		sort.Slice(s, func(i, j int) bool { return s[i].f < s[j].f })
		lo, hi := s[0].f, s[n].f
		if !math.IsInf(hi, 1) && math.Abs(hi-lo) <= 1e-12*(math.Abs(lo)+1e-12) {
			size := 0.0
			for i := 1; i <= n; i++ {
				for j := range s[i].x {
					size = math.Max(size, math.Abs(s[i].x[j]-s[0].x[j]))
				}
			}
			if size < 1e-9 {
				break
			}
		}
		for j := range centroid {
			centroid[j] = 0
			for i := 0; i < n; i++ {
				centroid[j] += s[i].x[j] / float64(n)
			}
		}
		worst := s[n]
		xr := point(centroid, worst.x, -1)
		fr := f(xr)
		evals++
		switch {
		case fr < s[0].f:
			xe := point(centroid, worst.x, -2)
			fe := f(xe)
			evals++
			if fe < fr {
				s[n] = vertex{xe, fe}
			} else {
				s[n] = vertex{xr, fr}
			}
		case fr < s[n-1].f:
			s[n] = vertex{xr, fr}
		default:
			var xc []float64
			if fr < worst.f {
				xc = point(centroid, xr, 0.5) // outside contraction
			} else {
				xc = point(centroid, worst.x, 0.5) // inside contraction
			}
			fc := f(xc)
			evals++
			if fc < math.Min(fr, worst.f) {
				s[n] = vertex{xc, fc}
				continue
			}
			for i := 1; i <= n; i++ {
				x := point(s[0].x, s[i].x, 0.5)
				s[i] = vertex{x, f(x)}
				evals++
			}
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i].f < s[j].f })
	return s[0].x, s[0].f, evals
}

// logBound is the largest |log| of a parameter the fits search: beyond
// it the likelihood's terms over- or underflow.
const logBound = 25

// expParams maps log-parameters to parameters, refusing values whose
// exponent would over- or underflow the likelihood.
func expParams(logp []float64) ([]float64, bool) {
	p := make([]float64, len(logp))
	for i, l := range logp {
		if math.IsNaN(l) || l < -logBound || l > logBound {
			return nil, false
		}
		p[i] = math.Exp(l)
	}
	return p, true
}
