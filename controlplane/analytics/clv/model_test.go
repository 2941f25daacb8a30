package clv

import (
	"math"
	"testing"
)

var cdnowBGNBD = BGNBD{R: 0.242593, Alpha: 4.413589, A: 0.792925, B: 2.425907}

func TestBGNBD_PAliveAndExpectedPurchases(t *testing.T) {
	m := cdnowBGNBD
	if p := m.PAlive(Customer{X: 0, T: 38.86}); p != 1 {
		t.Errorf("P(alive) with no repeat purchase = %v, want 1", p)
	}
	// A customer who bought often and recently is more likely alive than
	// one who bought as often but long ago.
	recent := Customer{X: 5, Tx: 38, T: 38.86}
	lapsed := Customer{X: 5, Tx: 5, T: 38.86}
	pr, pl := m.PAlive(recent), m.PAlive(lapsed)
	if !(pr > 0.85 && pl < 0.05 && pl > 0) {
		t.Errorf("P(alive) recent %v, lapsed %v", pr, pl)
	}
	// Equation 10 against the expectation it comes from, integrated
	// numerically: alive at T, λ is gamma(r+x, α+T) and p is beta(a, b+x)
	// a posteriori, and an alive customer buys (1 − e^{−λpt})/p times in t.
	for _, c := range []Customer{{X: 2, Tx: 30.43, T: 38.86}, {X: 0, Tx: 0, T: 38.86}, {X: 7, Tx: 20, T: 30}} {
		want := m.PAlive(c) * posteriorPurchases(m, c, 39)
		if got := m.ExpectedPurchases(39, c); math.Abs(got-want)/want > 1e-4 {
			t.Errorf("E[Y(39) | %+v] = %.6f, numerical integral %.6f", c, got, want)
		}
	}
	if e0, e1 := m.ExpectedPurchases(10, recent), m.ExpectedPurchases(20, recent); !(e0 > 0 && e1 > e0) {
		t.Errorf("expected purchases not increasing in t: %v, %v", e0, e1)
	}
}

// posteriorPurchases integrates E[(1 − ((α+T)/(α+T+pt))^(r+x))/p] over
// p ~ beta(a, b+x), substituting p = u^(1/a) to remove the singularity
// at 0, by Simpson's rule.
func posteriorPurchases(m BGNBD, c Customer, t float64) float64 {
	a, bx, rx, at := m.A, m.B+c.X, m.R+c.X, m.Alpha+c.T
	lbeta := lgamma(a) + lgamma(bx) - lgamma(a+bx)
	f := func(u float64) float64 {
		p := math.Pow(u, 1/a)
		var g float64
		if p == 0 {
			g = rx * t / at
		} else {
			g = -math.Expm1(-rx*math.Log1p(p*t/at)) / p
		}
		return math.Pow(1-p, bx-1) * g / a
	}
	const n = 20000
	h := 1.0 / n
	sum := f(0) + f(1)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		sum += w * f(float64(i)*h)
	}
	return sum * h / 3 / math.Exp(lbeta)
}

func TestHyp2F1_MatchesClosedForm(t *testing.T) {
	for _, z := range []float64{0, 0.1, 0.5, 0.9, 0.99} {
		want := 1.0
		if z > 0 {
			want = -math.Log1p(-z) / z // ₂F₁(1, 1; 2; z)
		}
		if got := hyp2f1(1, 1, 2, z); math.Abs(got-want) > 1e-10*want {
			t.Errorf("2F1(1,1;2;%v) = %v, want %v", z, got, want)
		}
	}
}

func TestBGNBD_LogLikelihoodOfOneCustomer(t *testing.T) {
	// Equation 6 of Fader, Hardie & Lee (2005) evaluated directly.
	m := BGNBD{R: 0.5, Alpha: 3, A: 0.8, B: 2.5}
	c := Customer{X: 3, Tx: 20, T: 30}
	r, al, a, b, x := m.R, m.Alpha, m.A, m.B, c.X
	beta := func(p, q float64) float64 { return math.Gamma(p) * math.Gamma(q) / math.Gamma(p+q) }
	lead := math.Gamma(r+x) * math.Pow(al, r) / math.Gamma(r)
	l := beta(a, b+x)/beta(a, b)*lead/math.Pow(al+c.T, r+x) + beta(a+1, b+x-1)/beta(a, b)*lead/math.Pow(al+c.Tx, r+x)
	if got := m.LogLikelihood([]Customer{c}); math.Abs(got-math.Log(l)) > 1e-9 {
		t.Errorf("log-likelihood %v, want %v", got, math.Log(l))
	}
	if got := (BGNBD{R: -1, Alpha: 1, A: 1, B: 1}).LogLikelihood([]Customer{c}); !math.IsInf(got, -1) {
		t.Errorf("invalid parameters: %v, want -Inf", got)
	}
}

func TestGammaGamma_ExpectedSpendShrinksTowardsPopulationMean(t *testing.T) {
	m := GammaGamma{P: 6.25, Q: 3.74, V: 15.44}
	pop := m.ExpectedSpend(Customer{})
	if math.Abs(pop-m.P*m.V/(m.Q-1)) > 1e-12 {
		t.Errorf("population mean %v", pop)
	}
	one := m.ExpectedSpend(Customer{X: 1, Zbar: 100})
	many := m.ExpectedSpend(Customer{X: 20, Zbar: 100})
	if !(pop < one && one < many && many < 100) {
		t.Errorf("E[Z]: population %v, x=1 %v, x=20 %v; want increasing towards 100", pop, one, many)
	}
}

func TestFits_RefuseEmptyInput(t *testing.T) {
	if _, err := FitBGNBD(nil); err != ErrNoCustomers {
		t.Errorf("FitBGNBD(nil): %v", err)
	}
	if _, err := FitGammaGamma([]Customer{{X: 0, T: 1}}); err != ErrNoCustomers {
		t.Errorf("FitGammaGamma without repeaters: %v", err)
	}
}
