package agent_test

import (
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/protocol"
)

// TestAgent_LearnedPropensitiesRankDecisions: once the catalogue's
// PropensityTable "default" reaches the agent, each decision ranks with
// the posterior of the customer's segment (rfmSegment): the offer that
// wins on its prior loses in a segment where it was learned to be poor,
// and the reason names the learned evidence.
func TestAgent_LearnedPropensitiesRankDecisions(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	fake.Put("Offer", "retain-10", map[string]any{"category": "retention", "value": 60, "propensity": 0.3, "channels": []string{"kiosk"}})
	fake.Put("Offer", "data-plus", map[string]any{"category": "retention", "value": 60, "propensity": 0.1, "channels": []string{"kiosk"}})
	fake.Put("Campaign", "k", map[string]any{"offers": []string{"retain-10", "data-plus"}, "controlGroupPercent": 0})
	fake.PutCustomer(protocol.Profile{ID: "C1", Derived: map[string]any{"rfmSegment": "champions"}, Index: 1})
	fake.PutCustomer(protocol.Profile{ID: "C2", Derived: map[string]any{"rfmSegment": "lost"}, Index: 1})
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	agenttest.WaitFor(t, 10*time.Second, "the campaign", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/campaigns/k", nil).status == 200 })
	const c1 = `{"customerId":"C1","channel":"kiosk"}`
	if d, res := decide(t, a.URL(), c1); res.status != 200 || d.Offers[0].OfferID != "retain-10" {
		t.Fatalf("on the priors retain-10 (0.3) beats data-plus (0.1): %s", res.body)
	}
	idx := fake.Put("PropensityTable", "default", map[string]any{"segmentField": "rfmSegment", "contacts": 1000, "priorStrength": 2,
		"arms": []map[string]any{
			{"offerId": "data-plus", "segment": "champions", "alpha": 200.2, "beta": 301.8, "n": 500, "accepted": 200},
			{"offerId": "retain-10", "segment": "champions", "alpha": 25.6, "beta": 476.4, "n": 500, "accepted": 25},
		}})
	agenttest.WaitFor(t, 10*time.Second, "the table", func() bool {
		d, _ := decide(t, a.URL(), c1)
		return d.ConfigIndex >= idx
	})
	d, res := decide(t, a.URL(), c1)
	if d.Offers[0].OfferID != "data-plus" || !strings.Contains(d.Offers[0].Reason, "learned from 500 contacts") {
		t.Fatalf("champions learned data-plus (0.40) over retain-10 (0.05): %s", res.body)
	}
	// C2's segment has no arms: the priors, and a new arm with no
	// contacts is drawn (Thompson) so it gets exposure.
	d, res = decide(t, a.URL(), `{"customerId":"C2","channel":"kiosk"}`)
	if len(d.Offers) != 2 || !strings.Contains(d.Offers[0].Reason, "Thompson draw, 0 contacts so far") {
		t.Fatalf("a segment without arms: %s", res.body)
	}
}
