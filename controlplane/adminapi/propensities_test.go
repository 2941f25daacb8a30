package adminapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// The user test, end to end: campaign winback holds customers out and
// they take its offer "never" anyway (against their held-out decision, or
// at the counter), as do walk-ins; nobody is ever presented "never". It
// learned 0.98. Now only presentations are trials: "shown" learns from
// its 10 presentations (3 accepted, one of them logged by another agent
// and without the decision id), and "never" learns nothing.
func TestPropensitiesLearn_CountsOnlyPresentedOffers(t *testing.T) {
	c := cptest.New(t, 1)
	ctx := context.Background()
	admin := c.Client(c.Leader())
	docs := "kind: Offer\nid: shown\ncategory: retention\nvalue: 10\npropensity: 0.2\n---\n" +
		"kind: Offer\nid: never\ncategory: retention\nvalue: 10\npropensity: 0.2\n---\n" +
		"kind: Campaign\nid: winback\noffers: [shown, never]\ncontrolGroupPercent: 50\n"
	if _, err := admin.Apply(ctx, []byte(docs), "application/yaml"); err != nil {
		t.Fatal(err)
	}
	var ps []protocol.Profile
	for i := range 10 {
		ps = append(ps, protocol.Profile{ID: fmt.Sprintf("T%d", i), Derived: map[string]any{"rfmSegment": "champions"}})
	}
	if _, err := admin.UpsertCustomers(ctx, ps); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var kiosk, ivr []protocol.ContactEvent
	ev := func(n int, customer, outcome, offer, decision string) protocol.ContactEvent {
		return protocol.ContactEvent{Time: at.Add(time.Duration(n) * time.Minute), CustomerID: customer, Channel: "kiosk", Type: protocol.ContactOffer,
			Outcome: outcome, CampaignID: "winback", OfferID: offer, DecisionID: decision}
	}
	for i := range 10 {
		id, d := fmt.Sprintf("T%d", i), fmt.Sprintf("d%d", i)
		switch {
		case i < 2:
			kiosk = append(kiosk, ev(0, id, protocol.OutcomePresented, "shown", d), ev(1, id, protocol.OutcomeAccepted, "shown", d))
		case i == 2: // presented at the kiosk, accepted later on the IVR, which logs no decision id
			kiosk = append(kiosk, ev(0, id, protocol.OutcomePresented, "shown", d))
			a := ev(90, id, protocol.OutcomeAccepted, "shown", "")
			a.Channel, a.CampaignID = "ivr", ""
			ivr = append(ivr, a)
		default:
			kiosk = append(kiosk, ev(0, id, protocol.OutcomePresented, "shown", d), ev(1, id, protocol.OutcomeDeclined, "shown", d))
		}
	}
	for i := range 30 {
		id, d := fmt.Sprintf("H%d", i), fmt.Sprintf("h%d", i)
		counter := ev(60, id, protocol.OutcomeAccepted, "never", "")
		counter.CampaignID = ""
		kiosk = append(kiosk, ev(0, id, protocol.OutcomeHoldout, "never", d), ev(1, id, protocol.OutcomeAccepted, "never", d), counter)
		walkIn := ev(2, fmt.Sprintf("W%d", i), protocol.OutcomeAccepted, "never", "")
		walkIn.CampaignID = ""
		kiosk = append(kiosk, walkIn)
	}
	ingestAs(t, c, "kiosk-1", kiosk)
	ingestAs(t, c, "ivr-1", ivr)

	r, err := roleClient(t, c, 0, api.RoleAnalyst).LearnPropensities(ctx, api.PropensitiesLearnRequest{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var tab protocol.PropensityTable
	if err := json.Unmarshal(r.Table, &tab); err != nil {
		t.Fatal(err)
	}
	// Every event names an offer: 10 presentations and their 10 outcomes
	// of "shown", 30 × 4 events of "never".
	if r.Events != 20+120 || r.Segments != 2 { // champions, and "" for the held-out and walk-in customers
		t.Errorf("events %d, segments %d", r.Events, r.Segments)
	}
	if len(tab.Arms) != 1 || tab.Contacts != 10 {
		t.Fatalf("arms %+v (%d contacts), want only shown/champions from 10 presentations", tab.Arms, tab.Contacts)
	}
	// Prior Beta(0.4, 1.6) from propensity 0.2 and strength 2.
	if a := tab.Arms[0]; a.OfferID != "shown" || a.Segment != "champions" || a.N != 10 || a.Accepted != 3 || math.Abs(a.Alpha-3.4) > 1e-9 || math.Abs(a.Beta-8.6) > 1e-9 {
		t.Errorf("arm %+v, want shown/champions 3 of 10, Beta(3.4, 8.6)", a)
	}
}
