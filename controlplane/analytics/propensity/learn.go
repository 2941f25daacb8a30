package propensity

import (
	"fmt"
	"slices"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

// Event is one ledger event as the model reads it: whose it is, the
// campaign and offer it names, the customer's segment (any label; "" is a
// segment too), the outcome (one of protocol.Outcomes) and the decision
// that joins a presentation to its outcome.
type Event struct {
	CustomerID string
	CampaignID string
	OfferID    string
	Segment    string
	Outcome    string
	DecisionID string
}

// Learner counts a ledger into a table as it streams past, one customer
// at a time: memory is the arms' tallies and one customer's presentations
// and acceptances, never the ledger.
//
// What counts, per customer (docs/SEGMENTS.md):
//
//   - a trial is a presentation of an offer: a presented event, the
//     presented events of one (decision id, offer) being one;
//   - a trial is a success when the customer accepted that offer after it:
//     an accepted event of the same decision id and offer, or else an
//     accepted event of the offer that follows the presentation, which is
//     then the customer's latest presentation of that offer. A trial
//     succeeds at most once;
//   - an acceptance with no presentation before it (at the counter, on the
//     web, of an offer the client never logged as presented) is neither a
//     trial nor a success; declined and ignored events only confirm a
//     failure;
//   - when the customer has a holdout event of a campaign, none of their
//     events of that campaign counts, whatever their order: a held-out
//     customer saw nothing in the campaign's name. Holdouts themselves
//     never count.
type Learner struct {
	n0         float64
	propensity map[string]float64
	counts     map[armKey]*tally
	cur        customer
}

type armKey struct{ offer, segment string }

type tally struct{ n, accepted int64 }

// customer is the state kept for the customer being read; its slices and
// maps are reused from one customer to the next.
type customer struct {
	id      string
	started bool
	events  []Event  // presented and accepted events with an offer, oldest first
	held    []string // campaigns the customer has a holdout event of
	// Scratch for endCustomer.
	trialOf    []int // events[i]'s trial, or -1
	success    []bool
	trialArm   []armKey
	byDecision map[decisionOffer]int
	latest     map[string]int // offer → its latest trial so far
}

type decisionOffer struct{ decision, offer string }

// NewLearner starts counting; a bad PriorStrength is an error.
func NewLearner(cfg Config) (*Learner, error) {
	n0 := cfg.strength()
	if _, err := propensity.Prior(protocol.DefaultPropensity, n0); err != nil {
		return nil, err
	}
	return &Learner{n0: n0, propensity: cfg.Propensity, counts: map[armKey]*tally{},
		cur: customer{byDecision: map[decisionOffer]int{}, latest: map[string]int{}}}, nil
}

// Add reads the next ledger event. Each customer's events must come
// together and oldest first, as the ledger's customer index holds them: a
// customer is counted when the next one's events begin. An unknown outcome
// is an error.
func (l *Learner) Add(e Event) error {
	if err := validOutcome(e.Outcome); err != nil {
		return fmt.Errorf("offer %q: %w", e.OfferID, err)
	}
	c := &l.cur
	if !c.started || e.CustomerID != c.id {
		l.endCustomer()
		c.id, c.started = e.CustomerID, true
	}
	switch {
	case e.Outcome == protocol.OutcomeHoldout:
		// A holdout is never a trial. Agents log one per held-out
		// campaign; one that names no campaign held the customer out of
		// nothing else.
		if e.CampaignID != "" && !slices.Contains(c.held, e.CampaignID) {
			c.held = append(c.held, e.CampaignID)
		}
	case e.OfferID == "":
		// An inquiry or a complaint: no offer to learn about.
	case e.Outcome == protocol.OutcomePresented || e.Outcome == protocol.OutcomeAccepted:
		c.events = append(c.events, e)
	}
	return nil
}

// endCustomer counts the current customer's trials and successes.
func (l *Learner) endCustomer() {
	c := &l.cur
	defer func() {
		c.events, c.held = c.events[:0], c.held[:0]
		c.trialOf, c.success, c.trialArm = c.trialOf[:0], c.success[:0], c.trialArm[:0]
		clear(c.byDecision)
		clear(c.latest)
	}()
	if len(c.events) == 0 {
		return
	}
	// The presentations, first: an acceptance of a decision may be logged
	// before the decision's presentation (two devices, two clocks).
	for i := range c.events {
		e := &c.events[i]
		c.trialOf = append(c.trialOf, -1)
		if e.Outcome != protocol.OutcomePresented || slices.Contains(c.held, e.CampaignID) {
			continue
		}
		if e.DecisionID != "" {
			k := decisionOffer{e.DecisionID, e.OfferID}
			if t, seen := c.byDecision[k]; seen {
				c.trialOf[i] = t
				continue
			}
			c.byDecision[k] = len(c.trialArm)
		}
		c.trialOf[i] = len(c.trialArm)
		c.trialArm = append(c.trialArm, armKey{e.OfferID, e.Segment})
		c.success = append(c.success, false)
	}
	// The acceptances, in order.
	for i := range c.events {
		e := &c.events[i]
		if t := c.trialOf[i]; t >= 0 {
			c.latest[e.OfferID] = t
			continue
		}
		if e.Outcome != protocol.OutcomeAccepted || slices.Contains(c.held, e.CampaignID) {
			continue
		}
		t, ok := -1, false
		if e.DecisionID != "" {
			t, ok = c.byDecision[decisionOffer{e.DecisionID, e.OfferID}]
		}
		if !ok {
			t, ok = c.latest[e.OfferID]
		}
		if ok {
			c.success[t] = true
		}
	}
	for t, k := range c.trialArm {
		n := l.counts[k]
		if n == nil {
			n = &tally{}
			l.counts[k] = n
		}
		n.n++
		if c.success[t] {
			n.accepted++
		}
	}
}
