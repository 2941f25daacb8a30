package decide

import (
	"math/rand/v2"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

// Learned propensities (protocol.PropensityTable): the control plane's
// Beta posterior of each offer's acceptance rate per customer segment.
// Compile lays the table out by segment and offer index, so a decision
// finds its customer's arms with one map lookup. An arm with fewer
// counted contacts than the table's ExploreBelow is Thompson-sampled
// (Input.Rand; without one, its mean is used), so that new offers get
// exposure; the others use their posterior mean. An offer with no arm in
// the segment has the prior its catalogue propensity and the table's
// prior strength give, and counts as an arm with no contacts.

// learnedArm is one (offer, segment) posterior.
type learnedArm struct {
	post   propensity.Beta
	mean   float64
	n      int64
	sample bool
}

type learned struct {
	table *protocol.PropensityTable // for SegmentOf
	seg   map[string][]learnedArm   // by segment, then offer index
	prior []learnedArm              // a segment the table has no arm for
}

// Propensity sources, for the ranked reason.
const (
	propPrior   uint8 = iota // the offer's catalogue propensity
	propInput                // Input.Propensities
	propLearned              // a learned posterior's mean
	propDrawn                // a Thompson draw from a learned posterior
)

// compileLearned lays out t over e's offers (sorted, e.offers[i]).
func (e *Engine) compileLearned(t *protocol.PropensityTable) {
	if t == nil {
		return
	}
	explore := t.Explore()
	tab := t.Table()
	arm := func(b propensity.Beta, n int64) learnedArm {
		return learnedArm{post: b, mean: b.Mean(), n: n, sample: explore > 0 && n < explore}
	}
	l := &learned{table: t, seg: map[string][]learnedArm{}}
	l.prior = make([]learnedArm, len(e.offers))
	for i := range e.offers {
		b, err := propensity.Prior(e.offers[i].o.EffectivePropensity(), tab.PriorStrength)
		if err != nil {
			return // the control plane validated the table: leave it out
		}
		l.prior[i] = arm(b, 0)
	}
	idx := make(map[string]int, len(e.offers))
	for i := range e.offers {
		idx[e.offers[i].o.ID] = i
	}
	for _, a := range tab.Arms {
		oi, ok := idx[a.OfferID]
		if !ok {
			continue // an offer no longer in the catalogue
		}
		arms, ok := l.seg[a.Segment]
		if !ok {
			arms = append([]learnedArm(nil), l.prior...)
			l.seg[a.Segment] = arms
		}
		arms[oi] = arm(a.Posterior(), a.N)
	}
	e.learned = l
}

// learnedArms are the arms of the customer's segment, nil without a table.
func (e *Engine) learnedArms(p *protocol.Profile) []learnedArm {
	if e.learned == nil {
		return nil
	}
	if arms, ok := e.learned.seg[e.learned.table.SegmentOf(p.Derived, p.Attributes)]; ok {
		return arms
	}
	return e.learned.prior
}

// learnedPropensity is offer oi's propensity from the segment's arms.
func learnedPropensity(arms []learnedArm, oi int, r *rand.Rand) (float64, uint8, int64) {
	a := &arms[oi]
	if a.sample && r != nil {
		return a.post.Sample(r), propDrawn, a.n
	}
	return a.mean, propLearned, a.n
}
