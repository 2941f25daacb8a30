// Package propensity learns each offer's acceptance probability per
// customer segment from the contact ledger. A Learner reads the ledger as
// it streams past, customer by customer, and counts into a
// Beta-Bernoulli posterior per (offer, segment), starting from the prior
// an offer's catalogue propensity gives: each presentation of an offer is
// a trial, a success (+1 to α) when the same customer accepted the offer
// after it, a failure (+1 to β) otherwise. Acceptances that follow no
// presentation, and every event of a campaign the customer was held out
// of, count for nothing: they say nothing about what presenting the offer
// does. The table it builds, the Beta maths and Thompson sampling are
// protocol/propensity's, since agents read and draw from them.
//
// The package is pure computation: no I/O, no clock. docs/SEGMENTS.md
// states the model for an analyst to check.
package propensity
