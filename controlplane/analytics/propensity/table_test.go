package propensity

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
)

const (
	acc, pre, dec, ign, hold = protocol.OutcomeAccepted, protocol.OutcomePresented, protocol.OutcomeDeclined, protocol.OutcomeIgnored, protocol.OutcomeHoldout
)

func checkArms(t *testing.T, tab *Table, want []Arm) {
	t.Helper()
	if len(tab.Arms) != len(want) {
		t.Fatalf("arms %+v, want %+v", tab.Arms, want)
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
}

// Each customer's story is written beside their events.
func TestBuildTable_CountsPresentationsAndTheAcceptancesThatFollow(t *testing.T) {
	ev := func(customer, campaign, offer, segment, outcome, decision string) Event {
		return Event{CustomerID: customer, CampaignID: campaign, OfferID: offer, Segment: segment, Outcome: outcome, DecisionID: decision}
	}
	events := []Event{
		// A: presented, accepted, one decision: a success.
		ev("A", "C", "O1", "s1", pre, "d1"), ev("A", "C", "O1", "s1", acc, "d1"),
		// B: presented, declined: a failure.
		ev("B", "C", "O1", "s1", pre, "d2"), ev("B", "C", "O1", "s1", dec, "d2"),
		// C: presented, accepted, without decision ids: the acceptance
		// follows the presentation, one success (not two contacts).
		ev("C", "C", "O1", "s1", pre, ""), ev("C", "C", "O1", "s1", acc, ""),
		// D: accepted, then presented: the acceptance followed no
		// presentation; the presentation is a failure.
		ev("D", "", "O1", "s1", acc, ""), ev("D", "C", "O1", "s1", pre, ""),
		// E: one decision whose acceptance was logged before its
		// presentation (another device's clock): a success.
		ev("E", "C", "O1", "s1", acc, "d5"), ev("E", "C", "O1", "s1", pre, "d5"),
		// F: presented twice, accepted twice without decision ids: two
		// trials, the latest one a success (it succeeds once).
		ev("F", "C", "O1", "s1", pre, "d6"), ev("F", "C", "O1", "s1", pre, "d7"),
		ev("F", "", "O1", "s1", acc, ""), ev("F", "", "O1", "s1", acc, ""),
		// G: presented O2, accepted O1: a failure of O2; O1 was never
		// presented to G.
		ev("G", "C", "O2", "s1", pre, "d8"), ev("G", "", "O1", "s1", acc, ""),
		// H: held out of C; the client logged an acceptance against the
		// held-out decision, and H accepted O1 at the counter: nothing.
		ev("H", "C", "O1", "s1", hold, "d9"), ev("H", "C", "O1", "s1", acc, "d9"), ev("H", "", "O1", "s1", acc, ""),
		// I (s2): presented and accepted O1 in C, and held out of C later
		// (its control percentage grew): nothing of C counts. Presented O2
		// in campaign D and accepted: a success.
		ev("I", "C", "O1", "s2", pre, "d10"), ev("I", "C", "O1", "s2", acc, "d10"), ev("I", "C", "O1", "s2", hold, "d11"),
		ev("I", "D", "O2", "s2", pre, "d12"), ev("I", "D", "O2", "s2", acc, "d12"),
		// J: declined and ignored, never logged as presented: nothing.
		ev("J", "C", "O1", "s1", dec, "d13"), ev("J", "C", "O1", "s1", ign, ""),
		// K: an inquiry without an offer, skipped; a holdout that names
		// no campaign excludes nothing (agents always name one): K's
		// presentation outside any campaign is a failure.
		ev("K", "", "", "s1", acc, ""), ev("K", "", "O2", "s1", pre, ""), ev("K", "", "O2", "s1", hold, "k"),
		// L (s2): presented, then accepted under another decision whose
		// presentation was not logged: it follows L's presentation of O1.
		ev("L", "C", "O1", "s2", pre, "d14"), ev("L", "C", "O1", "s2", acc, "d15"),
	}
	tab, err := BuildTable(events, Config{Propensity: map[string]float64{"O1": 0.25, "O2": 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if tab.PriorStrength != DefaultPriorStrength {
		t.Errorf("prior strength %v", tab.PriorStrength)
	}
	checkArms(t, tab, []Arm{
		// A ✓, B ✗, C ✓, D ✗, E ✓, F ✗ ✓.
		{OfferID: "O1", Segment: "s1", N: 7, Accepted: 4, Alpha: 0.5 + 4, Beta: 1.5 + 3},
		{OfferID: "O1", Segment: "s2", N: 1, Accepted: 1, Alpha: 0.5 + 1, Beta: 1.5}, // L
		{OfferID: "O2", Segment: "s1", N: 2, Accepted: 0, Alpha: 1, Beta: 1 + 2},     // G, K
		{OfferID: "O2", Segment: "s2", N: 1, Accepted: 1, Alpha: 1 + 1, Beta: 1},     // I
	})
	// Without an arm, Posterior is the prior from the caller's p0.
	if b, err := tab.Posterior("E", "s1", 0.3); err != nil || math.Abs(b.Alpha-0.6) > 1e-12 || math.Abs(b.Beta-1.4) > 1e-12 {
		t.Errorf("Posterior of a new offer = %+v, %v; want Beta(0.6, 1.4)", b, err)
	}
}

// The user test: an offer nobody was ever presented, accepted by held-out
// customers (against their held-out decision or at the counter) and by
// others who walked in, learned a propensity of 0.98. It has no arm: its
// posterior stays the catalogue's prior.
func TestBuildTable_NeverPresentedOfferLearnsNothing(t *testing.T) {
	var events []Event
	for i := range 100 {
		held := fmt.Sprintf("H%d", i)
		events = append(events,
			Event{CustomerID: held, CampaignID: "C", OfferID: "never", Segment: "s", Outcome: hold, DecisionID: "h" + held},
			Event{CustomerID: held, CampaignID: "C", OfferID: "never", Segment: "s", Outcome: acc, DecisionID: "h" + held},
			Event{CustomerID: held, OfferID: "never", Segment: "s", Outcome: acc},
			Event{CustomerID: "W" + held, OfferID: "never", Segment: "s", Outcome: acc})
	}
	// One customer who was shown another offer and declined it.
	events = append(events, Event{CustomerID: "P", CampaignID: "C", OfferID: "shown", Segment: "s", Outcome: pre, DecisionID: "p"},
		Event{CustomerID: "P", CampaignID: "C", OfferID: "shown", Segment: "s", Outcome: dec, DecisionID: "p"})
	tab, err := BuildTable(events, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := tab.Lookup("never", "s"); ok {
		t.Errorf("an offer never presented has an arm: %+v (mean %.2f)", a, a.Posterior().Mean())
	}
	checkArms(t, tab, []Arm{{OfferID: "shown", Segment: "s", N: 1, Accepted: 0, Alpha: 0.2, Beta: 1.8 + 1}})
}

func TestBuildTable_RefusesBadInput(t *testing.T) {
	if _, err := BuildTable([]Event{{OfferID: "A", Outcome: "clicked"}}, Config{}); err == nil || !strings.Contains(err.Error(), `"clicked"`) {
		t.Errorf("unknown outcome: %v", err)
	}
	if _, err := BuildTable([]Event{{OfferID: "A", Outcome: pre}}, Config{Propensity: map[string]float64{"A": 2}}); err == nil || !strings.Contains(err.Error(), `offer "A"`) {
		t.Errorf("bad prior: %v", err)
	}
	if _, err := BuildTable(nil, Config{PriorStrength: -1}); err == nil {
		t.Error("negative prior strength accepted")
	}
	if tab, err := BuildTable(nil, Config{}); err != nil || len(tab.Arms) != 0 {
		t.Errorf("empty ledger: %+v, %v", tab, err)
	}
}

// BuildTable (tests only; the job streams the ledger through a Learner)
// counts a whole ledger held in memory into a parameter table:
// NewLearner, Add for each event in order, Table. The events must come as
// Learner.Add wants them: each customer's together, oldest first.
func BuildTable(events []Event, cfg Config) (*Table, error) {
	l, err := NewLearner(cfg)
	if err != nil {
		return nil, err
	}
	for i := range events {
		if err := l.Add(events[i]); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return l.Table()
}
