package propensity

import (
	"math"
	"math/rand/v2"
	"testing"
)

// binomialTail is P(Binomial(n, x) ≥ k) summed term by term; for whole a
// and b, I_x(a, b) = P(Binomial(a+b−1, x) ≥ a), an independent check of
// the continued fraction.
func binomialTail(n, k int, x float64) float64 {
	sum := 0.0
	for j := k; j <= n; j++ {
		lc, _ := math.Lgamma(float64(n + 1))
		l1, _ := math.Lgamma(float64(j + 1))
		l2, _ := math.Lgamma(float64(n - j + 1))
		sum += math.Exp(lc - l1 - l2 + float64(j)*math.Log(x) + float64(n-j)*math.Log1p(-x))
	}
	return sum
}

func TestBetaCDF_WholeParametersMatchBinomialTail(t *testing.T) {
	for a := 1; a <= 40; a += 3 {
		for b := 1; b <= 40; b += 4 {
			for _, x := range []float64{0.001, 0.02, 0.1, 0.25, 0.5, 0.77, 0.95, 0.999} {
				got, want := Beta{float64(a), float64(b)}.CDF(x), binomialTail(a+b-1, a, x)
				if math.Abs(got-want) > 1e-12 {
					t.Errorf("I_%v(%d, %d) = %.15g, binomial tail %.15g", x, a, b, got, want)
				}
			}
		}
	}
}

// simpson integrates f over [lo, hi] with n (even) intervals.
func simpson(f func(float64) float64, lo, hi float64, n int) float64 {
	h := (hi - lo) / float64(n)
	s := f(lo) + f(hi)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(lo+float64(i)*h)
	}
	return s * h / 3
}

func TestBetaCDF_ClosedFormsSymmetryAndIntegral(t *testing.T) {
	for _, x := range []float64{1e-6, 0.01, 0.3, 0.5, 0.9, 0.9999} {
		for _, a := range []float64{0.2, 1, 2.5, 17} {
			if got, want := (Beta{a, 1}).CDF(x), math.Pow(x, a); math.Abs(got-want) > 1e-13 {
				t.Errorf("Beta(%v,1).CDF(%v) = %v, want x^a = %v", a, x, got, want)
			}
			if got, want := (Beta{1, a}).CDF(x), -math.Expm1(a*math.Log1p(-x)); math.Abs(got-want) > 1e-13 {
				t.Errorf("Beta(1,%v).CDF(%v) = %v, want 1-(1-x)^b = %v", a, x, got, want)
			}
		}
		for _, p := range [][2]float64{{0.3, 4.7}, {2.5, 7.3}, {120.5, 880.5}} {
			if s := (Beta{p[0], p[1]}).CDF(x) + (Beta{p[1], p[0]}).CDF(1-x); math.Abs(s-1) > 1e-12 { // 1-x rounds
				t.Errorf("I_x(%v,%v) + I_1-x(%v,%v) = %v, want 1", p[0], p[1], p[1], p[0], s)
			}
		}
	}
	// Against Simpson's rule on the density (smooth for a, b > 1).
	b := Beta{2.5, 7.3}
	for _, x := range []float64{0.05, 0.2, 0.4, 0.8} {
		want := simpson(b.PDF, 0, x, 20000)
		if got := b.CDF(x); math.Abs(got-want) > 1e-9 {
			t.Errorf("Beta(2.5,7.3).CDF(%v) = %.12g, ∫pdf = %.12g", x, got, want)
		}
	}
}

func TestBetaQuantile_InvertsCDF(t *testing.T) {
	for _, b := range []Beta{{0.2, 1.8}, {0.5, 0.5}, {1, 1}, {2, 5}, {1, 300}, {3.2, 0.7}, {30, 270}, {5000, 95000}, {0.02, 1.98}, {0.05, 2}} {
		for _, p := range []float64{1e-6, 0.001, 0.025, 0.1, 0.5, 0.9, 0.975, 0.999} {
			x := b.Quantile(p)
			if !(x >= 0 && x <= 1) {
				t.Fatalf("Beta(%v,%v).Quantile(%v) = %v", b.Alpha, b.Beta, p, x)
			}
			if got := b.CDF(x); math.Abs(got-p) > 1e-9*p {
				t.Errorf("Beta(%v,%v): CDF(Quantile(%v) = %v) = %v", b.Alpha, b.Beta, p, x, got)
			}
		}
	}
	// Closed forms: Beta(a,1) has quantile p^(1/a), Beta(1,b) 1-(1-p)^(1/b).
	for _, p := range []float64{0.025, 0.5, 0.975} {
		if got, want := (Beta{3, 1}).Quantile(p), math.Cbrt(p); math.Abs(got-want) > 1e-14 {
			t.Errorf("Beta(3,1).Quantile(%v) = %v, want %v", p, got, want)
		}
		if got, want := (Beta{1, 11}).Quantile(p), 1-math.Pow(1-p, 1.0/11); math.Abs(got-want) > 1e-14 {
			t.Errorf("Beta(1,11).Quantile(%v) = %v, want %v", p, got, want)
		}
	}
}

func TestCredibleInterval_KnownValues(t *testing.T) {
	round3 := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	for _, tc := range []struct {
		name   string
		lo, hi Beta // distributions of the two ends
		want   [2]float64
	}{
		// Uniform: the 2.5% and 97.5% points.
		{"Beta(1,1)", Beta{1, 1}, Beta{1, 1}, [2]float64{0.025, 0.975}},
		// Clopper–Pearson's exact interval for 5 successes in 10 trials,
		// [Beta(5,6) 2.5%, Beta(6,5) 97.5%], is the textbook 0.187–0.813.
		{"Clopper-Pearson 5/10", Beta{5, 6}, Beta{6, 5}, [2]float64{0.187, 0.813}},
		// 0 of 10 under a uniform prior, Beta(1,11): 1-(1-p)^(1/11).
		{"Beta(1,11)", Beta{1, 11}, Beta{1, 11}, [2]float64{0.002, 0.285}},
	} {
		lo, _ := tc.lo.CredibleInterval(0.95)
		_, hi := tc.hi.CredibleInterval(0.95)
		if round3(lo) != tc.want[0] || round3(hi) != tc.want[1] {
			t.Errorf("%s: 95%% interval %.5f–%.5f, want %.3f–%.3f", tc.name, lo, hi, tc.want[0], tc.want[1])
		}
	}
	// A narrow posterior: 300 of 1000 accepted, interval ≈ mean ± 1.96 sd.
	b := Beta{300 + 0.2, 700 + 1.8}
	lo, hi := b.CredibleInterval(0.95)
	sd := math.Sqrt(b.Variance())
	if math.Abs(lo-(b.Mean()-1.96*sd)) > 0.002 || math.Abs(hi-(b.Mean()+1.96*sd)) > 0.002 {
		t.Errorf("Beta(300.2,701.8) 95%%: %.4f–%.4f, normal approximation %.4f–%.4f", lo, hi, b.Mean()-1.96*sd, b.Mean()+1.96*sd)
	}
}

func TestGammaMT_Moments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	for _, shape := range []float64{0.3, 1, 2.5, 50} {
		var sum, sum2 float64
		for range n {
			var g float64
			if shape < 1 {
				g = math.Exp(logGamma(r, shape))
			} else {
				g = gammaMT(r, shape)
			}
			sum += g
			sum2 += g * g
		}
		mean := sum / n
		variance := sum2/n - mean*mean
		// Gamma(k, 1): mean k, variance k; standard error of the mean √(k/n).
		if math.Abs(mean-shape) > 5*math.Sqrt(shape/n) {
			t.Errorf("Gamma(%v): mean %v, want %v", shape, mean, shape)
		}
		if math.Abs(variance-shape)/shape > 0.05 {
			t.Errorf("Gamma(%v): variance %v, want %v", shape, variance, shape)
		}
	}
}

func TestBetaSample_MomentsAndCDF(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 200000
	for _, b := range []Beta{{0.2, 1.8}, {0.5, 0.5}, {1, 1}, {2, 5}, {3.2, 0.7}, {30, 270}} {
		var sum, sum2 float64
		qs := []float64{0.05, 0.25, 0.5, 0.75, 0.95}
		cuts := make([]float64, len(qs))
		for i, q := range qs {
			cuts[i] = b.Quantile(q)
		}
		below := make([]int, len(qs))
		for range n {
			x := b.Sample(r)
			if !(x >= 0 && x <= 1) {
				t.Fatalf("Beta(%v,%v) drew %v", b.Alpha, b.Beta, x)
			}
			sum += x
			sum2 += x * x
			for i, c := range cuts {
				if x <= c {
					below[i]++
				}
			}
		}
		mean := sum / n
		variance := sum2/n - mean*mean
		if se := math.Sqrt(b.Variance() / n); math.Abs(mean-b.Mean()) > 5*se {
			t.Errorf("Beta(%v,%v): mean %v, want %v (±%v)", b.Alpha, b.Beta, mean, b.Mean(), 5*se)
		}
		if math.Abs(variance-b.Variance())/b.Variance() > 0.03 {
			t.Errorf("Beta(%v,%v): variance %v, want %v", b.Alpha, b.Beta, variance, b.Variance())
		}
		// The draws fall below each quantile as often as the CDF says.
		for i, q := range qs {
			if frac := float64(below[i]) / n; math.Abs(frac-q) > 5*math.Sqrt(q*(1-q)/n) {
				t.Errorf("Beta(%v,%v): %.4f of draws ≤ the %v quantile", b.Alpha, b.Beta, frac, q)
			}
		}
	}
}

func TestThompson_PicksTheLargestDraw(t *testing.T) {
	if got := Thompson(rand.New(rand.NewPCG(1, 1)), nil, nil); got != -1 {
		t.Errorf("no arms: %d, want -1", got)
	}
	arms := []Beta{{2, 8}, {8, 2}, {5, 5}}
	draws := make([]float64, len(arms))
	r := rand.New(rand.NewPCG(9, 9))
	wins := make([]int, len(arms))
	for range 2000 {
		i := Thompson(r, arms, draws)
		for j := range draws {
			if draws[j] > draws[i] {
				t.Fatalf("picked %d with draw %v; arm %d drew %v", i, draws[i], j, draws[j])
			}
		}
		wins[i]++
	}
	if wins[1] < 1500 || wins[0] > 100 {
		t.Errorf("wins %v: Beta(8,2) should win most, Beta(2,8) rarely", wins)
	}
}

// BenchmarkThompson200 is one Thompson draw over 200 offers' posteriors.
func BenchmarkThompson200(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	arms := make([]Beta, 200)
	for i := range arms {
		n := float64(r.IntN(5000))
		p := 0.02 + 0.3*r.Float64()
		arms[i] = Beta{Alpha: 0.2 + p*n, Beta: 1.8 + (1-p)*n}
	}
	b.ReportAllocs()
	for b.Loop() {
		Thompson(r, arms, nil)
	}
}
