// Package propensity learns each offer's acceptance probability per
// customer segment from the contact ledger, as a Beta-Bernoulli model:
// a Beta(α0, β0) prior built from the offer's catalogue propensity p0 and
// a prior strength n0 (α0 = p0·n0, β0 = (1−p0)·n0), updated by every
// counted contact (accepted adds 1 to α; presented, declined or ignored
// without an acceptance adds 1 to β; holdouts never count). It gives the
// posterior mean and an equal-tailed credible interval (through the
// regularised incomplete beta function and its inverse), Thompson
// sampling over offers (Beta draws from two Gamma draws, Marsaglia–Tsang)
// and the compact parameter table shipped to agents.
//
// The package is pure computation: no I/O, no clock, and randomness only
// from the *rand.Rand the caller passes. docs/SEGMENTS.md states the model
// for an analyst to check.
package propensity
