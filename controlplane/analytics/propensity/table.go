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

// Contact is one ledger event as the model reads it: the offer, the
// customer's segment (any label; "" is a segment too) and the outcome,
// one of protocol.Outcomes. DecisionID, when set, joins the events of one
// presentation: all events with the same (DecisionID, OfferID, Segment)
// are one contact.
type Contact struct {
	OfferID    string
	Segment    string
	Outcome    string
	DecisionID string
}

// Config tunes BuildTable.
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

// outcome strengths: the strongest event of a contact decides it.
const (
	notCounted = iota // holdout: the customer never saw the offer
	failure           // presented, ignored, declined
	success           // accepted
)

func classify(outcome string) (int, error) {
	switch outcome {
	case protocol.OutcomeAccepted:
		return success, nil
	case protocol.OutcomePresented, protocol.OutcomeDeclined, protocol.OutcomeIgnored:
		return failure, nil
	case protocol.OutcomeHoldout:
		return notCounted, nil
	}
	return 0, fmt.Errorf("outcome %q: want one of %v", outcome, protocol.Outcomes)
}

type armKey struct{ offer, segment string }

// BuildTable counts the contacts into a parameter table. A contact is
// one event, or all the events sharing a DecisionID for the same offer
// and segment. It counts as accepted (a success, +1 to α) when any of its
// events is accepted; else as not accepted (a failure, +1 to β) when any
// is presented, declined or ignored. Holdout events are never counted
// (the customer was held out of the campaign and saw nothing), and
// events without an OfferID are skipped (inquiries, complaints). An
// unknown outcome, a bad prior or a bad PriorStrength is an error.
func BuildTable(contacts []Contact, cfg Config) (*Table, error) {
	n0 := cfg.strength()
	if _, err := propensity.Prior(protocol.DefaultPropensity, n0); err != nil {
		return nil, err
	}
	type tally struct{ n, accepted int64 }
	counts := map[armKey]*tally{}
	type joined struct {
		decision string
		arm      armKey
	}
	byDecision := map[joined]int{} // strongest outcome so far
	for i := range contacts {
		c := &contacts[i]
		class, err := classify(c.Outcome)
		if err != nil {
			return nil, fmt.Errorf("contact %d (offer %q): %w", i, c.OfferID, err)
		}
		if c.OfferID == "" {
			continue
		}
		k := armKey{c.OfferID, c.Segment}
		if c.DecisionID != "" {
			j := joined{c.DecisionID, k}
			byDecision[j] = max(byDecision[j], class)
			continue
		}
		if class == notCounted {
			continue
		}
		t := counts[k]
		if t == nil {
			t = &tally{}
			counts[k] = t
		}
		t.n++
		if class == success {
			t.accepted++
		}
	}
	for j, class := range byDecision {
		if class == notCounted {
			continue
		}
		t := counts[j.arm]
		if t == nil {
			t = &tally{}
			counts[j.arm] = t
		}
		t.n++
		if class == success {
			t.accepted++
		}
	}
	tab := &Table{PriorStrength: n0, Arms: make([]Arm, 0, len(counts))}
	priors := map[string]Beta{}
	for k, t := range counts {
		prior, ok := priors[k.offer]
		if !ok {
			var err error
			if prior, err = propensity.Prior(cfg.Propensity[k.offer], n0); err != nil {
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
