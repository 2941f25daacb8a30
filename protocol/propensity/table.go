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
)

// DefaultPropensity is the prior of an offer whose catalogue entry states
// none: protocol.DefaultPropensity (protocol imports this package, so the
// value is repeated; a test holds the two equal).
const DefaultPropensity = 0.1

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
// means DefaultPropensity (the catalogue's rule); p0 is then
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
		p0 = DefaultPropensity
	}
	p0 = min(max(p0, MinPriorPropensity), MaxPriorPropensity)
	return Beta{Alpha: p0 * n0, Beta: (1 - p0) * n0}, nil
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

// CompareArms orders arms by offer id, then segment (byte order): the
// order of Table.Arms.
func CompareArms(a, b Arm) int {
	if c := cmp.Compare(a.OfferID, b.OfferID); c != 0 {
		return c
	}
	return cmp.Compare(a.Segment, b.Segment)
}

// Lookup finds the arm of (offerID, segment).
func (t *Table) Lookup(offerID, segment string) (Arm, bool) {
	i, ok := slices.BinarySearchFunc(t.Arms, Arm{OfferID: offerID, Segment: segment}, CompareArms)
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
	if _, err := Prior(DefaultPropensity, t.PriorStrength); err != nil {
		return fmt.Errorf("propensity table: %w", err)
	}
	for i := range t.Arms {
		a := &t.Arms[i]
		switch {
		case a.OfferID == "":
			return fmt.Errorf("propensity table arm %d: empty offer id", i)
		case i > 0 && CompareArms(t.Arms[i-1], *a) >= 0:
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
