// Package propensity is the shipped form of the learned offer
// propensities: a Beta(α, β) posterior of each offer's acceptance rate per
// customer segment (the parameter table the control plane pushes with the
// catalogue), the prior an offer without data takes from its catalogue
// propensity, and the Thompson sampling an agent draws from them (Beta
// draws from two Gamma draws, Marsaglia–Tsang). controlplane/analytics/
// propensity builds the table from the contact ledger.
//
// Pure computation: no I/O, no clock, randomness only from the *rand.Rand
// the caller passes. docs/SEGMENTS.md states the model.
package propensity
