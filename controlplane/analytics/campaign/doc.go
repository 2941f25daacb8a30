// Package campaign holds the statistics of campaign results: proportions
// with Wilson score intervals, the uplift of a treatment group's success
// rate over a control group's — absolute, with Newcombe's hybrid score
// interval (Newcombe 1998, "Interval estimation for the difference between
// independent proportions", method 10), and relative, with the Katz
// log-ratio interval (Katz et al. 1978) — and return on investment.
//
// The package is pure computation over counts: no clocks, no I/O, the
// standard library only. Undefined quantities (a rate over nobody, a ratio
// over a zero control rate) are reported as not ok rather than as NaN or
// infinity, so callers can serve them as JSON null. docs/CAMPAIGNS.md
// defines the metrics the control plane builds from these.
package campaign
