package churn

import (
	"errors"
	"math"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// LogisticConfig tunes the logistic regression.
type LogisticConfig struct {
	// Lambda is the L2 penalty on the coefficients (not the intercept)
	// against the summed log-loss: minimise Σ loss + λ/2·‖w‖². With the
	// loss summed over n rows this is a per-row penalty of λ/n; the
	// default 1 matches scikit-learn's C = 1.
	Lambda float64
	// MaxIter bounds the Newton iterations (default 100).
	MaxIter int
}

func (c *LogisticConfig) defaults() {
	if c.Lambda <= 0 {
		c.Lambda = 1
	}
	if c.MaxIter <= 0 {
		c.MaxIter = 100
	}
}

// logLoss is the log-loss of one row with margin z and label y.
func logLoss(z float64, y bool) float64 {
	// log(1+e^z) - y·z, computed stably.
	l := math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
	if y {
		l -= z
	}
	return l
}

// fitLogistic fits coefficients and an intercept by Newton's method
// (iteratively reweighted least squares) with a backtracking step, which
// is deterministic and converges in a handful of iterations.
func fitLogistic(x [][]float64, y []bool, cfg LogisticConfig) (w []float64, b float64, err error) {
	cfg.defaults()
	n := len(x)
	if n == 0 {
		return nil, 0, errors.New("no training rows")
	}
	d := len(x[0])
	p := d + 1 // the intercept is the last parameter
	theta := make([]float64, p)
	pos := 0
	for _, l := range y {
		if l {
			pos++
		}
	}
	if pos == 0 || pos == n {
		return nil, 0, errors.New("training labels are all one class")
	}
	theta[d] = math.Log(float64(pos) / float64(n-pos))
	objective := func(t []float64) float64 {
		s := 0.0
		for i, r := range x {
			z := t[d]
			for j, v := range r {
				z += t[j] * v
			}
			s += logLoss(z, y[i])
		}
		for j := range d {
			s += cfg.Lambda / 2 * t[j] * t[j]
		}
		return s
	}
	g := make([]float64, p)
	h := make([]float64, p*p)
	step := make([]float64, p)
	trial := make([]float64, p)
	cur := objective(theta)
	for range cfg.MaxIter {
		clear(g)
		clear(h)
		for i, r := range x {
			z := theta[d]
			for j, v := range r {
				z += theta[j] * v
			}
			pr := churnmodel.Sigmoid(z)
			res := pr
			if y[i] {
				res -= 1
			}
			wt := pr * (1 - pr)
			for j, v := range r {
				if v == 0 {
					continue
				}
				g[j] += res * v
				row := h[j*p:]
				for k := j; k < d; k++ {
					row[k] += wt * v * r[k]
				}
				row[d] += wt * v
			}
			g[d] += res
			h[d*p+d] += wt
		}
		for j := range d {
			g[j] += cfg.Lambda * theta[j]
			h[j*p+j] += cfg.Lambda
		}
		h[d*p+d] += 1e-9
		for j := range p { // mirror the upper triangle
			for k := j + 1; k < p; k++ {
				h[k*p+j] = h[j*p+k]
			}
		}
		if err := choleskySolve(h, g, step, p); err != nil {
			return nil, 0, err
		}
		t := 1.0
		var next float64
		for {
			for j := range p {
				trial[j] = theta[j] - t*step[j]
			}
			next = objective(trial)
			if next <= cur || t < 1e-6 {
				break
			}
			t /= 2
		}
		copy(theta, trial)
		maxStep := 0.0
		for j := range p {
			maxStep = math.Max(maxStep, math.Abs(t*step[j]))
		}
		done := cur-next < 1e-10*(1+math.Abs(cur)) && maxStep < 1e-6
		cur = next
		if done {
			break
		}
	}
	return theta[:d:d], theta[d], nil
}

// choleskySolve solves a·x = b for the symmetric positive definite p×p
// matrix a (overwritten by its factor).
func choleskySolve(a, b, x []float64, p int) error {
	for j := range p {
		s := a[j*p+j]
		for k := range j {
			s -= a[j*p+k] * a[j*p+k]
		}
		if s <= 0 {
			return errors.New("logistic regression: Hessian is not positive definite")
		}
		a[j*p+j] = math.Sqrt(s)
		for i := j + 1; i < p; i++ {
			s := a[i*p+j]
			for k := range j {
				s -= a[i*p+k] * a[j*p+k]
			}
			a[i*p+j] = s / a[j*p+j]
		}
	}
	for i := range p { // L·z = b
		s := b[i]
		for k := range i {
			s -= a[i*p+k] * x[k]
		}
		x[i] = s / a[i*p+i]
	}
	for i := p - 1; i >= 0; i-- { // Lᵀ·x = z
		s := x[i]
		for k := i + 1; k < p; k++ {
			s -= a[k*p+i] * x[k]
		}
		x[i] = s / a[i*p+i]
	}
	return nil
}
