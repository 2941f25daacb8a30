package propensity

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"touchpoint.dev/touchpoint/protocol"
)

// DefaultPriorStrength is n0 when Config leaves it 0: the prior weighs as
// much as two contacts, so a few dozen outcomes outweigh it.
const DefaultPriorStrength = 2

// Bounds a prior propensity is moved into, so that a catalogue's 1 (or a
// value just above 0) still gives a proper Beta prior.
const (
	MinPriorPropensity = 0.001
	MaxPriorPropensity = 0.999
)

// Prior is Beta(p0·n0, (1−p0)·n0): mean p0, worth n0 contacts. p0 = 0
// means protocol.DefaultPropensity (the catalogue's rule); p0 is then
// moved into [MinPriorPropensity, MaxPriorPropensity]. It fails on p0
// outside [0, 1] or n0 not finite and > 0.
func Prior(p0, n0 float64) (Beta, error) {
	if math.IsNaN(p0) || p0 < 0 || p0 > 1 {
		return Beta{}, fmt.Errorf("prior propensity %v: want a probability in [0, 1]", p0)
	}
	if math.IsNaN(n0) || math.IsInf(n0, 0) || n0 <= 0 {
		return Beta{}, fmt.Errorf("prior strength %v: want a number > 0", n0)
	}
	if p0 == 0 {
		p0 = protocol.DefaultPropensity
	}
	p0 = min(max(p0, MinPriorPropensity), MaxPriorPropensity)
	return Beta{Alpha: p0 * n0, Beta: (1 - p0) * n0}, nil
}

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

// Arm is one (offer, segment) posterior in the parameter table. Its JSON
// field names are part of the catalogue format: keep them.
type Arm struct {
	OfferID string `json:"offerId"`
	Segment string `json:"segment"`
	// Alpha and Beta are the posterior's parameters, prior included:
	// α0 + Accepted and β0 + (N − Accepted).
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	// N is the number of contacts counted; Accepted how many of them
	// ended accepted.
	N        int64 `json:"n"`
	Accepted int64 `json:"accepted"`
}

// Posterior is the arm's Beta(Alpha, Beta).
func (a *Arm) Posterior() Beta { return Beta{Alpha: a.Alpha, Beta: a.Beta} }

// Table is the learned propensities shipped to agents: one Arm per
// (offer, segment) that has counted contacts, sorted by OfferID then
// Segment (byte order), and the prior strength the arms were built with,
// so that an agent gives an offer or segment without an arm the same
// prior: Prior(the offer's catalogue propensity, PriorStrength).
type Table struct {
	PriorStrength float64 `json:"priorStrength"`
	Arms          []Arm   `json:"arms"`
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
	if _, err := Prior(protocol.DefaultPropensity, n0); err != nil {
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
			if prior, err = Prior(cfg.Propensity[k.offer], n0); err != nil {
				return nil, fmt.Errorf("offer %q: %w", k.offer, err)
			}
			priors[k.offer] = prior
		}
		tab.Arms = append(tab.Arms, Arm{
			OfferID: k.offer, Segment: k.segment, N: t.n, Accepted: t.accepted,
			Alpha: prior.Alpha + float64(t.accepted), Beta: prior.Beta + float64(t.n-t.accepted),
		})
	}
	slices.SortFunc(tab.Arms, compareArms)
	return tab, nil
}

func compareArms(a, b Arm) int {
	if c := cmp.Compare(a.OfferID, b.OfferID); c != 0 {
		return c
	}
	return cmp.Compare(a.Segment, b.Segment)
}

// Lookup finds the arm of (offerID, segment).
func (t *Table) Lookup(offerID, segment string) (Arm, bool) {
	i, ok := slices.BinarySearchFunc(t.Arms, Arm{OfferID: offerID, Segment: segment}, compareArms)
	if !ok {
		return Arm{}, false
	}
	return t.Arms[i], true
}

// Posterior is the arm's posterior, or, for an (offer, segment) without
// one, the prior from the offer's catalogue propensity p0 (0 meaning the
// default) and the table's PriorStrength.
func (t *Table) Posterior(offerID, segment string, p0 float64) (Beta, error) {
	if a, ok := t.Lookup(offerID, segment); ok {
		return a.Posterior(), nil
	}
	prior, err := Prior(p0, t.PriorStrength)
	if err != nil {
		return Beta{}, fmt.Errorf("offer %q: %w", offerID, err)
	}
	return prior, nil
}

// Validate checks a decoded table: a valid prior strength; arms sorted
// by (offer, segment) without repeats, with an offer id, finite
// parameters > 0 and 0 ≤ Accepted ≤ N.
func (t *Table) Validate() error {
	if _, err := Prior(protocol.DefaultPropensity, t.PriorStrength); err != nil {
		return fmt.Errorf("propensity table: %w", err)
	}
	for i := range t.Arms {
		a := &t.Arms[i]
		switch {
		case a.OfferID == "":
			return fmt.Errorf("propensity table arm %d: empty offer id", i)
		case i > 0 && compareArms(t.Arms[i-1], *a) >= 0:
			return fmt.Errorf("propensity table arm %d (%s/%s): not after (%s/%s); arms are sorted by offer, then segment, once each", i, a.OfferID, a.Segment, t.Arms[i-1].OfferID, t.Arms[i-1].Segment)
		case a.N < 0 || a.Accepted < 0 || a.Accepted > a.N:
			return fmt.Errorf("propensity table arm %s/%s: accepted %d of n %d", a.OfferID, a.Segment, a.Accepted, a.N)
		}
		if err := a.Posterior().Validate(); err != nil {
			return fmt.Errorf("propensity table arm %s/%s: %w", a.OfferID, a.Segment, err)
		}
	}
	return nil
}

// DecodeTable reads a table from JSON strictly (unknown fields and
// trailing data are errors) and validates it.
func DecodeTable(data []byte) (*Table, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t Table
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decode propensity table: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode propensity table: data after the table")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}
