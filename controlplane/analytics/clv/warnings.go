package clv

import (
	"fmt"
	"math"
	"strings"
)

// MinRepeaters is the fewest repeat customers a fit is trusted on: below
// it, Warnings reports WarnFewRepeaters. BG/NBD learns dropout (a, b)
// and the spread of purchase rates (r, α) only from the customers who
// bought again, and Gamma-Gamma is fitted over them alone; with a handful
// the likelihood is nearly flat and its maximum can sit anywhere. 30 is
// the usual rule of thumb for estimating a distribution's shape, not a
// figure from the papers.
const MinRepeaters = 30

// Shape parameters (r, a, b of BG/NBD; p, q of Gamma-Gamma) outside
// minShape to maxShape are reported as WarnExtremeParameter: they are
// unitless, and fits to real purchase data land well inside (CDNOW's are
// 0.24 to 6.3). The scale parameters α and v are in the data's units of
// time and money, so only their reaching the optimiser's search bound is
// reported.
const (
	minShape = 1e-3
	maxShape = 1e3
)

// Codes of the warnings, stable for scripts to match; only ever added.
const (
	// WarnFewRepeaters: fewer than MinRepeaters customers inform the fit.
	WarnFewRepeaters = "few_repeaters"
	// WarnExtremeParameter: a parameter is outside the range real fits
	// take, or at the optimiser's bound; the fit is degenerate.
	WarnExtremeParameter = "extreme_parameter"
	// WarnNotConverged: the optimiser stopped while still improving the
	// likelihood.
	WarnNotConverged = "not_converged"
	// WarnInfiniteMeanSpend: Gamma-Gamma q ≤ 1, so the population mean
	// spend (ExpectedSpend for x = 0) is infinite.
	WarnInfiniteMeanSpend = "infinite_mean_spend"
)

// Warning is something about a fit that makes its parameters doubtful.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (w Warning) String() string { return w.Code + ": " + w.Message }

// Warnings reports what makes the fit doubtful; none for a fit to enough
// data that converged inside the usual range.
func (f BGNBDFit) Warnings() []Warning {
	var ws []Warning
	if f.Repeaters < MinRepeaters {
		ws = append(ws, Warning{WarnFewRepeaters, fmt.Sprintf(
			"BG/NBD: only %d of %d customers made a repeat purchase (fewer than %d): too few to estimate dropout and the spread of purchase rates",
			f.Repeaters, f.Customers, MinRepeaters)})
	}
	if w, ok := extreme("BG/NBD", []param{{"r", f.R, true}, {"alpha", f.Alpha, false}, {"a", f.A, true}, {"b", f.B, true}}); ok {
		ws = append(ws, w)
	}
	if !f.Converged {
		ws = append(ws, notConverged("BG/NBD", f.Evaluations))
	}
	return ws
}

// Warnings reports what makes the fit doubtful; none for a fit to enough
// data that converged inside the usual range with q > 1.
func (f GammaGammaFit) Warnings() []Warning {
	var ws []Warning
	if f.Customers < MinRepeaters {
		ws = append(ws, Warning{WarnFewRepeaters, fmt.Sprintf(
			"Gamma-Gamma: fitted over only %d customers with positive repeat spend (fewer than %d): too few to estimate the spend distribution",
			f.Customers, MinRepeaters)})
	}
	if w, ok := extreme("Gamma-Gamma", []param{{"p", f.P, true}, {"q", f.Q, true}, {"v", f.V, false}}); ok {
		ws = append(ws, w)
	}
	if f.Q <= 1 {
		ws = append(ws, Warning{WarnInfiniteMeanSpend, fmt.Sprintf(
			"Gamma-Gamma: q %.4g ≤ 1, so the expected spend of a customer without repeat purchases is infinite", f.Q)})
	}
	if !f.Converged {
		ws = append(ws, notConverged("Gamma-Gamma", f.Evaluations))
	}
	return ws
}

type param struct {
	name  string
	value float64
	shape bool // unitless, so held to minShape–maxShape
}

// extreme reports the parameters outside their usual range in one
// warning.
func extreme(model string, ps []param) (Warning, bool) {
	var bad []string
	for _, p := range ps {
		atBound := math.Abs(math.Log(p.value)) >= logBound-1
		if atBound || (p.shape && (p.value < minShape || p.value > maxShape)) {
			bad = append(bad, fmt.Sprintf("%s %.4g", p.name, p.value))
		}
	}
	if len(bad) == 0 {
		return Warning{}, false
	}
	return Warning{WarnExtremeParameter, fmt.Sprintf(
		"%s: extreme parameter values %s (shape parameters are expected between %g and %g): the fit is degenerate: the data cannot pin them down (too few repeat customers, or too short a calibration period for dropout to show)",
		model, strings.Join(bad, ", "), minShape, maxShape)}, true
}

func notConverged(model string, evals int) Warning {
	return Warning{WarnNotConverged, fmt.Sprintf(
		"%s: the optimiser stopped after %d evaluations while still improving the likelihood: the parameters are not a maximum", model, evals)}
}
