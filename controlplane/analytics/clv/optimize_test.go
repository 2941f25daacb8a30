package clv

import (
	"math"
	"testing"
)

func TestMinimize_ReportsWhetherItConverged(t *testing.T) {
	// A bowl: the restarts settle on its bottom.
	bowl := func(x []float64) float64 { return (x[0]-1)*(x[0]-1) + 2*(x[1]+3)*(x[1]+3) }
	x, f, _, ok := minimize(bowl, []float64{0, 0}, 1, 20000)
	if !ok || math.Abs(x[0]-1) > 1e-4 || math.Abs(x[1]+3) > 1e-4 || f > 1e-8 {
		t.Errorf("bowl: minimum %v at %v, converged %v; want 0 at (1, -3), converged", f, x, ok)
	}
	// A slope with no bottom: every restart still improves it.
	slope := func(x []float64) float64 { return -x[0] + x[1]*x[1] }
	if x, f, n, ok := minimize(slope, []float64{0, 0}, 1, 20000); ok {
		t.Errorf("slope: converged at %v (f %v, %d evaluations); want not converged", x, f, n)
	}
	// Out of evaluations before the restarts settle.
	if _, _, n, ok := minimize(bowl, []float64{50, 50}, 1, 30); ok || n > 30 {
		t.Errorf("bowl with 30 evaluations: converged %v after %d; want not converged within 30", ok, n)
	}
}
