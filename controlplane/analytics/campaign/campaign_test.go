package campaign

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The hand-computed case: treatment 120/1000, control 80/1000, z = 1.959964
// (z² = 3.8414588, z / (1 + z²/n) = 1.9524637 for n = 1000).
//
// Wilson, treatment: p = 0.12
//
//	centre = (0.12 + 3.8414588/2000) / 1.0038415 = 0.1219207 / 1.0038415 = 0.1214542
//	half   = 1.9524637 · √(0.12·0.88/1000 + 3.8414588/4e6)
//	       = 1.9524637 · √(0.00010656036) = 1.9524637 · 0.0103228 = 0.0201549
//	       → [0.1012993, 0.1416091]
//
// Wilson, control: p = 0.08
//
//	centre = 0.0819207 / 1.0038415 = 0.0816072
//	half   = 1.9524637 · √(0.08·0.92/1000 + 9.6036e-7)
//	       = 1.9524637 · √(0.00007456036) = 1.9524637 · 0.0086348 = 0.0168592
//	       → [0.0647480, 0.0984664]
//
// Newcombe, d = 0.12 − 0.08 = 0.04:
//
//	low  = 0.04 − √((0.12 − 0.1012993)² + (0.0984664 − 0.08)²)
//	     = 0.04 − √(0.00034972 + 0.00034101) = 0.04 − 0.0262817 = 0.0137183
//	high = 0.04 + √((0.1416091 − 0.12)² + (0.08 − 0.0647480)²)
//	     = 0.04 + √(0.00046695 + 0.00023262) = 0.04 + 0.0264495 = 0.0664495
//
// (Wald would give 0.04 ± 1.959964·√(0.0001056 + 0.0000736) = [0.01376, 0.06624].)
//
// Katz: RR = 0.12/0.08 = 1.5, relative uplift 0.5;
//
//	se = √(1/120 − 1/1000 + 1/80 − 1/1000) = √0.0188333 = 0.1372346
//	exp(ln 1.5 ∓ 1.959964·0.1372346) = exp(0.4054651 ∓ 0.2689749)
//	   = [1.1462437, 1.9629334] → relative [0.1462437, 0.9629334]
func TestCompare_HandComputed(t *testing.T) {
	tr, ct := Proportion{K: 120, N: 1000}, Proportion{K: 80, N: 1000}
	w, ok := tr.Wilson(Z95)
	if !ok || !near(w.Low, 0.1012993, 1e-6) || !near(w.High, 0.1416091, 1e-6) {
		t.Errorf("Wilson 120/1000 = %+v %v, want [0.1012993, 0.1416091]", w, ok)
	}
	w, ok = ct.Wilson(Z95)
	if !ok || !near(w.Low, 0.0647480, 1e-6) || !near(w.High, 0.0984664, 1e-6) {
		t.Errorf("Wilson 80/1000 = %+v %v, want [0.0647480, 0.0984664]", w, ok)
	}
	u := Compare(tr, ct, Z95)
	if !u.AbsoluteOK || !near(u.Absolute, 0.04, 1e-12) {
		t.Errorf("absolute uplift %v %v, want 0.04", u.Absolute, u.AbsoluteOK)
	}
	if !u.AbsoluteCIOK || !near(u.AbsoluteCI.Low, 0.0137183, 1e-6) || !near(u.AbsoluteCI.High, 0.0664495, 1e-6) {
		t.Errorf("absolute CI %+v %v, want [0.0137183, 0.0664495]", u.AbsoluteCI, u.AbsoluteCIOK)
	}
	if !u.RelativeOK || !near(u.Relative, 0.5, 1e-12) {
		t.Errorf("relative uplift %v %v, want 0.5", u.Relative, u.RelativeOK)
	}
	if !u.RelativeCIOK || !near(u.RelativeCI.Low, 0.1462437, 1e-6) || !near(u.RelativeCI.High, 0.9629334, 1e-6) {
		t.Errorf("relative CI %+v %v, want [0.1462437, 0.9629334]", u.RelativeCI, u.RelativeCIOK)
	}
	if !u.Significant() {
		t.Error("an interval above zero is significant")
	}
}

func TestWilson_Edges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      Proportion
		ok     bool
		lo, hi float64
	}{
		// K = 0: the upper bound is z²/(n + z²) = 3.8414588/53.8414588.
		{"no successes", Proportion{0, 50}, true, 0, 0.0713476},
		// K = N mirrors it: the lower bound is n/(n + z²).
		{"all successes", Proportion{50, 50}, true, 0.9286524, 1},
		{"nobody", Proportion{0, 0}, false, 0, 0},
		{"more successes than trials", Proportion{3, 2}, false, 0, 0},
		{"negative", Proportion{-1, 2}, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, ok := tc.p.Wilson(Z95)
			if ok != tc.ok || !near(w.Low, tc.lo, 1e-6) || !near(w.High, tc.hi, 1e-6) {
				t.Errorf("Wilson(%d/%d) = %+v %v, want [%v, %v] %v", tc.p.K, tc.p.N, w, ok, tc.lo, tc.hi, tc.ok)
			}
		})
	}
}

func TestCompare_Edges(t *testing.T) {
	t.Run("empty control", func(t *testing.T) {
		u := Compare(Proportion{10, 100}, Proportion{0, 0}, Z95)
		if u.AbsoluteOK || u.AbsoluteCIOK || u.RelativeOK || u.RelativeCIOK || u.Significant() {
			t.Errorf("a control group of nobody defines nothing: %+v", u)
		}
	})
	t.Run("empty treatment", func(t *testing.T) {
		u := Compare(Proportion{0, 0}, Proportion{3, 30}, Z95)
		if u.AbsoluteOK || u.RelativeOK {
			t.Errorf("a treatment group of nobody defines nothing: %+v", u)
		}
	})
	t.Run("no control successes", func(t *testing.T) {
		// Absolute and its interval exist; a ratio over 0 does not.
		u := Compare(Proportion{5, 50}, Proportion{0, 50}, Z95)
		if !u.AbsoluteOK || !near(u.Absolute, 0.1, 1e-12) || !u.AbsoluteCIOK || u.RelativeOK || u.RelativeCIOK {
			t.Fatalf("%+v", u)
		}
		// Mirror of the case below: [0.1 − (0.1 − 0.0434758) − 0.0713476, …]
		if !near(u.AbsoluteCI.Low, 0.0089754, 1e-6) || !near(u.AbsoluteCI.High, 0.2136023, 1e-6) {
			t.Errorf("CI %+v, want [0.0089754, 0.2136023]", u.AbsoluteCI)
		}
	})
	t.Run("no treatment successes", func(t *testing.T) {
		// d = −0.1; Wilson 0/50 = [0, 0.0713476], 5/50 = [0.0434758, 0.2136023]:
		// low = −0.1 − √(0² + 0.1136023²) = −0.2136023,
		// high = −0.1 + √(0.0713476² + 0.0565242²) = −0.1 + 0.0910246 = −0.0089754.
		u := Compare(Proportion{0, 50}, Proportion{5, 50}, Z95)
		if !u.AbsoluteOK || !near(u.Absolute, -0.1, 1e-12) || !near(u.AbsoluteCI.Low, -0.2136023, 1e-6) || !near(u.AbsoluteCI.High, -0.0089754, 1e-6) {
			t.Errorf("absolute %+v", u)
		}
		if !u.RelativeOK || u.Relative != -1 || u.RelativeCIOK {
			t.Errorf("relative: %v %v, CI defined %v; want −1, no interval", u.Relative, u.RelativeOK, u.RelativeCIOK)
		}
		if !u.Significant() {
			t.Error("an interval below zero is significant")
		}
	})
	t.Run("no successes anywhere", func(t *testing.T) {
		u := Compare(Proportion{0, 40}, Proportion{0, 10}, Z95)
		if !u.AbsoluteOK || u.Absolute != 0 || !u.AbsoluteCIOK || !u.AbsoluteCI.Contains(0) || u.Significant() || u.RelativeOK {
			t.Errorf("%+v", u)
		}
	})
	t.Run("equal rates", func(t *testing.T) {
		u := Compare(Proportion{30, 300}, Proportion{10, 100}, Z95)
		if !near(u.Absolute, 0, 1e-12) || !near(u.Relative, 0, 1e-12) || u.Significant() || !u.RelativeCI.Contains(0) {
			t.Errorf("%+v", u)
		}
	})
}

func TestROI(t *testing.T) {
	for _, tc := range []struct {
		value, cost, want float64
		ok                bool
	}{
		{300, 100, 2, true},
		{50, 100, -0.5, true},
		{0, 100, -1, true},
		{300, 0, 0, false},
		{300, -1, 0, false},
	} {
		got, ok := ROI(tc.value, tc.cost)
		if ok != tc.ok || !near(got, tc.want, 1e-12) {
			t.Errorf("ROI(%v, %v) = %v %v, want %v %v", tc.value, tc.cost, got, ok, tc.want, tc.ok)
		}
	}
}

func TestProportion_Rate(t *testing.T) {
	if r, ok := (Proportion{3, 4}).Rate(); !ok || r != 0.75 {
		t.Errorf("3/4 = %v %v", r, ok)
	}
	if _, ok := (Proportion{0, 0}).Rate(); ok {
		t.Error("0/0 has no rate")
	}
}
