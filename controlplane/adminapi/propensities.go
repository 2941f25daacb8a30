package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"touchpoint.dev/touchpoint/controlplane/analytics/propensity"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// POST /v1/propensities/learn is the adaptive-propensity job: read every
// profile's segment and stream the ledger, customer by customer, through
// a propensity.Learner, which counts each presentation of an offer and
// whether the customer accepted it after into a Beta posterior per
// (offer, segment) with each offer's catalogue propensity as the prior
// (analytics/propensity; acceptances never presented and held-out
// customers' events of the campaign count for nothing), and apply the
// table as the catalogue's PropensityTable "default", which every agent
// receives with the catalogue and arbitrates with.

// defaultSegmentField is the field `segments run` writes.
const defaultSegmentField = "rfmSegment"

// ledgerState is what the job reads; the FSM provides it.
type ledgerState interface {
	EachContact(fn func(ev *protocol.ContactEvent) error) error
	EachProfile(fn func(p *protocol.Profile) error) error
}

func (s *Server) learnPropensities(ctx context.Context, q *request) (any, error) {
	var req api.PropensitiesLearnRequest
	if len(bytes.TrimSpace(q.body)) > 0 {
		if err := decodeStrict(q.body, &req); err != nil {
			return nil, err
		}
	}
	// A table the store already holds is not applied again: a second run
	// on an unchanged ledger adds nothing to the change feed.
	return s.learn(ctx, q, req, true)
}

// propensityLearner is who the leader's periodic learning acts as, in the
// audit log.
var propensityLearner = api.TokenInfo{ID: "system:propensities", Role: api.RoleAnalyst}

// LearnPropensities is the job the leader runs every
// Config.LearnPropensitiesEvery: the defaults of `propensities learn`,
// applied only when the table changed (new outcomes since the last run),
// so an idle ledger adds nothing to the change feed (a ledger without
// offer outcomes gets no table at all, from either path). Only the leader may
// run it (others get store.ErrNotLeader from the apply).
func (s *Server) LearnPropensities(ctx context.Context) (*api.PropensitiesLearnResult, error) {
	return s.learn(ctx, &request{who: propensityLearner}, api.PropensitiesLearnRequest{}, true)
}

// learn builds the table and applies it (unless req.DryRun, or
// skipUnchanged and the stored table already holds the same arms).
func (s *Server) learn(ctx context.Context, q *request, req api.PropensitiesLearnRequest, skipUnchanged bool) (*api.PropensitiesLearnResult, error) {
	st, ok := s.state.(ledgerState)
	if !ok {
		return nil, api.Errorf(api.CodeInternal, "this node's state does not hold the ledger")
	}
	if req.SegmentField == "" {
		req.SegmentField = defaultSegmentField
	}
	learnedAt := s.cfg.Now().UTC()
	field := protocol.PropensityTable{SegmentField: req.SegmentField}
	segs := map[string]string{}
	err := st.EachProfile(func(p *protocol.Profile) error {
		if v := field.SegmentOf(p.Derived, p.Attributes); v != "" {
			segs[p.ID] = v
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "read the profiles: %v", err)
	}
	offers, err := s.state.List(string(protocol.KindOffer))
	if err != nil {
		return nil, err
	}
	cfg := propensity.Config{PriorStrength: req.PriorStrength, Propensity: map[string]float64{}}
	for _, o := range offers {
		var offer protocol.Offer
		if err := json.Unmarshal(o.Doc, &offer); err != nil {
			return nil, api.Errorf(api.CodeInternal, "offer %s: %v", o.ID, err)
		}
		cfg.Propensity[offer.ID] = offer.EffectivePropensity()
	}
	// The ledger streams past customer by customer, each one's events in
	// time order, as the learner wants them: memory is the arms and one
	// customer's events.
	learner, err := propensity.NewLearner(cfg)
	if err != nil {
		return nil, fieldError("priorStrength", "%v", err)
	}
	events := 0
	seen := map[string]bool{}
	err = st.EachContact(func(ev *protocol.ContactEvent) error {
		if ev.OfferID == "" && ev.Outcome != protocol.OutcomeHoldout {
			return nil // a transaction, an inquiry: nothing to learn from
		}
		seg := segs[ev.CustomerID]
		if ev.OfferID != "" {
			events++
			seen[seg] = true
		}
		return learner.Add(propensity.Event{CustomerID: ev.CustomerID, CampaignID: ev.CampaignID, OfferID: ev.OfferID,
			Segment: seg, Outcome: ev.Outcome, DecisionID: ev.DecisionID})
	})
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "read the ledger: %v", err)
	}
	tab, err := learner.Table()
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "learn: %v", err)
	}
	var counted int64
	for _, a := range tab.Arms {
		counted += a.N
	}
	doc := protocol.PropensityTable{Kind: protocol.KindPropensities, ID: protocol.DefaultPropensityTable,
		SegmentField: req.SegmentField, ExploreBelow: req.ExploreBelow, LearnedAt: learnedAt.Format(time.RFC3339),
		Contacts: counted, PriorStrength: tab.PriorStrength, Arms: tab.Arms}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "encode the table: %v", err)
	}
	docs, err := s.docs.Parse(raw)
	if err != nil {
		return nil, err // a bad exploreBelow, or a table past the size limit
	}
	d := docs[0]
	out := &api.PropensitiesLearnResult{Events: events, Segments: len(seen), Table: d.JSON, DryRun: req.DryRun}
	if req.DryRun {
		return out, nil
	}
	if len(doc.Arms) == 0 {
		// Nothing learned is not applied: on a ledger without outcomes a
		// table would only turn every agent's ranking into Thompson
		// draws from the priors.
		out.NothingLearned = true
		return out, nil
	}
	if skipUnchanged {
		same, err := s.sameTable(&doc)
		if err != nil || same {
			out.Unchanged = same
			return out, err
		}
	}
	var ar applyResult
	res, err := s.propose(ctx, q, fsm.CmdCatalogApply, fsm.CatalogApply{Docs: []fsm.CatalogDoc{{Kind: string(d.Kind), ID: d.ID, Doc: d.JSON}}}, &ar)
	if err != nil {
		return nil, err
	}
	out.Index, out.Duplicate = ar.Index, res.Duplicate
	return out, nil
}

// sameTable reports whether the stored default table already holds t's
// arms, segment field and prior strength (when it was learned does not
// count).
func (s *Server) sameTable(t *protocol.PropensityTable) (bool, error) {
	o, found, err := s.state.Get(string(protocol.KindPropensities), protocol.DefaultPropensityTable)
	if err != nil || !found {
		return false, err
	}
	var have protocol.PropensityTable
	if err := json.Unmarshal(o.Doc, &have); err != nil {
		return false, api.Errorf(api.CodeInternal, "stored propensity table: %v", err)
	}
	return have.SegmentField == t.SegmentField && have.PriorStrength == t.PriorStrength &&
		have.ExploreBelow == t.ExploreBelow && slices.Equal(have.Arms, t.Arms), nil
}
