package propensity

import (
	"fmt"
	"slices"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

// The model's types and its prior are protocol/propensity's: agents read
// the table this package builds.
type (
	Beta  = propensity.Beta
	Arm   = propensity.Arm
	Table = propensity.Table
)

// DefaultPriorStrength is protocol/propensity's.
const DefaultPriorStrength = propensity.DefaultPriorStrength

// Config tunes the learning.
type Config struct {
	// PriorStrength is n0 (> 0); 0 means DefaultPriorStrength.
	PriorStrength float64
	// Propensity maps an offer to its prior propensity p0 (the
	// catalogue's Offer.Propensity); a missing offer or 0 means
	// protocol.DefaultPropensity.
	Propensity map[string]float64
}

func (c Config) strength() float64 {
	if c.PriorStrength == 0 {
		return DefaultPriorStrength
	}
	return c.PriorStrength
}

// Table ends the ledger and returns the table: one arm per (offer,
// segment) with at least one trial, its Beta the offer's prior plus the
// successes and the failures. An offer's bad prior is an error. The
// Learner takes no event after it.
func (l *Learner) Table() (*Table, error) {
	l.endCustomer()
	tab := &Table{PriorStrength: l.n0, Arms: make([]Arm, 0, len(l.counts))}
	priors := map[string]Beta{}
	for k, t := range l.counts {
		prior, ok := priors[k.offer]
		if !ok {
			var err error
			if prior, err = propensity.Prior(l.propensity[k.offer], l.n0); err != nil {
				return nil, fmt.Errorf("offer %q: %w", k.offer, err)
			}
			priors[k.offer] = prior
		}
		tab.Arms = append(tab.Arms, Arm{
			OfferID: k.offer, Segment: k.segment, N: t.n, Accepted: t.accepted,
			Alpha: prior.Alpha + float64(t.accepted), Beta: prior.Beta + float64(t.n-t.accepted),
		})
	}
	slices.SortFunc(tab.Arms, propensity.CompareArms)
	return tab, nil
}

// validOutcome refuses an outcome the ledger does not know.
func validOutcome(outcome string) error {
	switch outcome {
	case protocol.OutcomePresented, protocol.OutcomeAccepted, protocol.OutcomeDeclined, protocol.OutcomeIgnored, protocol.OutcomeHoldout:
		return nil
	}
	return fmt.Errorf("outcome %q: want one of %v", outcome, protocol.Outcomes)
}
