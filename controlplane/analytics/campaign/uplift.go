package campaign

import "math"

// Uplift compares a treatment group's success proportion with a control
// group's. Each quantity has its own ok flag: it is left out (false) when
// the counts do not define it.
type Uplift struct {
	// Absolute is p_t − p_c, in rate units (0.04 is four points).
	Absolute   float64
	AbsoluteOK bool
	// AbsoluteCI is Newcombe's hybrid score interval of p_t − p_c.
	AbsoluteCI   Interval
	AbsoluteCIOK bool
	// Relative is p_t / p_c − 1 (0.5 is fifty percent more successes);
	// undefined when the control group has no success.
	Relative   float64
	RelativeOK bool
	// RelativeCI is the Katz log-ratio interval of p_t / p_c, minus 1;
	// undefined when either group has no success.
	RelativeCI   Interval
	RelativeCIOK bool
}

// Significant reports whether the absolute interval excludes zero (at the
// confidence the uplift was computed with).
func (u Uplift) Significant() bool {
	return u.AbsoluteCIOK && (u.AbsoluteCI.Low > 0 || u.AbsoluteCI.High < 0)
}

// Compare computes the uplift of treatment over control at normal
// quantile z (Z95 for 95% intervals).
//
// Absolute: with Wilson intervals (l_t, u_t) and (l_c, u_c) of the two
// rates and d = p_t − p_c, Newcombe's hybrid score interval is
//
//	[ d − √((p_t − l_t)² + (u_c − p_c)²),  d + √((u_t − p_t)² + (p_c − l_c)²) ]
//
// chosen over the Wald interval d ± z·√(p_t(1−p_t)/n_t + p_c(1−p_c)/n_c)
// because campaign success rates are small and control groups are often
// small too: Wald collapses to zero width at 0 successes and overshoots
// [−1, 1], Newcombe's interval does neither and keeps close to its nominal
// coverage (Newcombe 1998).
//
// Relative: RR = p_t / p_c, and the Katz interval is
//
//	exp( ln RR ± z·√(1/k_t − 1/n_t + 1/k_c − 1/n_c) )
//
// reported minus 1 so that it brackets the relative uplift.
func Compare(treatment, control Proportion, z float64) Uplift {
	var u Uplift
	pt, okT := treatment.Rate()
	pc, okC := control.Rate()
	if !okT || !okC {
		return u
	}
	u.Absolute, u.AbsoluteOK = pt-pc, true
	wt, okWT := treatment.Wilson(z)
	wc, okWC := control.Wilson(z)
	if okWT && okWC {
		lo := u.Absolute - math.Hypot(pt-wt.Low, wc.High-pc)
		hi := u.Absolute + math.Hypot(wt.High-pt, pc-wc.Low)
		u.AbsoluteCI = Interval{Low: math.Max(-1, lo), High: math.Min(1, hi)}
		u.AbsoluteCIOK = true
	}
	if control.K > 0 {
		u.Relative, u.RelativeOK = pt/pc-1, true
	}
	if treatment.K > 0 && control.K > 0 {
		se := math.Sqrt(1/float64(treatment.K) - 1/float64(treatment.N) + 1/float64(control.K) - 1/float64(control.N))
		lr := math.Log(pt / pc)
		u.RelativeCI = Interval{Low: math.Exp(lr-z*se) - 1, High: math.Exp(lr+z*se) - 1}
		u.RelativeCIOK = true
	}
	return u
}
