// Package propensity learns each offer's acceptance probability per
// customer segment from the contact ledger: BuildTable counts every
// contact into a Beta-Bernoulli posterior per (offer, segment) — accepted
// adds 1 to α; presented, declined or ignored without an acceptance adds
// 1 to β; holdouts never count — starting from the prior an offer's
// catalogue propensity gives. The table it builds, the Beta maths and
// Thompson sampling are protocol/propensity's, since agents read and draw
// from them.
//
// The package is pure computation: no I/O, no clock. docs/SEGMENTS.md
// states the model for an analyst to check.
package propensity
