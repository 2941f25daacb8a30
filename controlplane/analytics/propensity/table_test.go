package propensity

import (
	"math"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
)

func TestBuildTable_CountsOutcomes(t *testing.T) {
	acc, pre, dec, ign, hold := protocol.OutcomeAccepted, protocol.OutcomePresented, protocol.OutcomeDeclined, protocol.OutcomeIgnored, protocol.OutcomeHoldout
	contacts := []Contact{
		// Events without a decision id: one contact each.
		{OfferID: "A", Segment: "s1", Outcome: acc},
		{OfferID: "A", Segment: "s1", Outcome: dec},
		{OfferID: "A", Segment: "s1", Outcome: ign},
		{OfferID: "A", Segment: "s1", Outcome: pre},
		{OfferID: "A", Segment: "s1", Outcome: hold}, // never counted
		{OfferID: "A", Segment: "s2", Outcome: acc},
		// One decision: presented then accepted is one accepted contact.
		{OfferID: "B", Segment: "s1", Outcome: pre, DecisionID: "d1"},
		{OfferID: "B", Segment: "s1", Outcome: acc, DecisionID: "d1"},
		// Presented then declined: one failure.
		{OfferID: "B", Segment: "s1", Outcome: pre, DecisionID: "d2"},
		{OfferID: "B", Segment: "s1", Outcome: dec, DecisionID: "d2"},
		// The same decision for another offer is another contact.
		{OfferID: "C", Segment: "s1", Outcome: pre, DecisionID: "d2"},
		// A holdout-only decision counts nothing.
		{OfferID: "D", Segment: "s1", Outcome: hold, DecisionID: "d3"},
		// No offer: an inquiry or complaint, skipped.
		{Segment: "s1", Outcome: acc},
	}
	tab, err := BuildTable(contacts, Config{Propensity: map[string]float64{"A": 0.25, "B": 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Arm{
		{OfferID: "A", Segment: "s1", N: 4, Accepted: 1, Alpha: 0.5 + 1, Beta: 1.5 + 3},
		{OfferID: "A", Segment: "s2", N: 1, Accepted: 1, Alpha: 0.5 + 1, Beta: 1.5},
		{OfferID: "B", Segment: "s1", N: 2, Accepted: 1, Alpha: 1 + 1, Beta: 1 + 1},
		{OfferID: "C", Segment: "s1", N: 1, Accepted: 0, Alpha: 0.2, Beta: 1.8 + 1},
	}
	if tab.PriorStrength != DefaultPriorStrength || len(tab.Arms) != len(want) {
		t.Fatalf("table %+v, want strength 2 and arms %+v", tab, want)
	}
	for i, w := range want {
		g := tab.Arms[i]
		if g.OfferID != w.OfferID || g.Segment != w.Segment || g.N != w.N || g.Accepted != w.Accepted ||
			math.Abs(g.Alpha-w.Alpha) > 1e-12 || math.Abs(g.Beta-w.Beta) > 1e-12 {
			t.Errorf("arm %d = %+v, want %+v", i, g, w)
		}
	}
	if err := tab.Validate(); err != nil {
		t.Error(err)
	}
	if _, ok := tab.Lookup("D", "s1"); ok {
		t.Error("holdout-only offer has an arm")
	}
	// Without an arm, Posterior is the prior from the caller's p0.
	if b, err := tab.Posterior("E", "s1", 0.3); err != nil || math.Abs(b.Alpha-0.6) > 1e-12 || math.Abs(b.Beta-1.4) > 1e-12 {
		t.Errorf("Posterior of a new offer = %+v, %v; want Beta(0.6, 1.4)", b, err)
	}
	if b, _ := tab.Posterior("B", "s1", 0.9); b != (Beta{Alpha: 2, Beta: 2}) {
		t.Errorf("Posterior(B, s1) = %+v, want the arm's Beta(2, 2)", b)
	}
}

func TestBuildTable_RefusesBadInput(t *testing.T) {
	if _, err := BuildTable([]Contact{{OfferID: "A", Outcome: "clicked"}}, Config{}); err == nil || !strings.Contains(err.Error(), `"clicked"`) {
		t.Errorf("unknown outcome: %v", err)
	}
	if _, err := BuildTable([]Contact{{OfferID: "A", Outcome: "accepted"}}, Config{Propensity: map[string]float64{"A": 2}}); err == nil || !strings.Contains(err.Error(), `offer "A"`) {
		t.Errorf("bad prior: %v", err)
	}
	if _, err := BuildTable(nil, Config{PriorStrength: -1}); err == nil {
		t.Error("negative prior strength accepted")
	}
	if tab, err := BuildTable(nil, Config{}); err != nil || len(tab.Arms) != 0 {
		t.Errorf("empty ledger: %+v, %v", tab, err)
	}
}
