package agent_test

import (
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/protocol"
)

// complaintsModelDoc is a catalogue Model whose logistic body scores four
// complaints about 0.92 (critical) and none about 0.03 (low).
func complaintsModelDoc(status string) map[string]any {
	return map[string]any{
		"modelKind": "logistic", "version": 1, "status": status, "createdAt": "2026-12-01T08:00:00Z",
		"metrics":    map[string]any{"auc": 0.8, "accuracy": 0.9, "trainRows": 100},
		"thresholds": map[string]any{"medium": 0.3, "high": 0.5, "critical": 0.7},
		"model": map[string]any{"kind": "logistic", "baseScore": -2, "coefficients": []float64{1.5},
			"features": []map[string]any{{"name": "complaints", "kind": "numeric", "mean": 1, "std": 1, "median": 0}}},
	}
}

// TestAgent_ActiveChurnModelScoresEveryDecision: once an active Model
// reaches the agent, POST /v1/decisions answers with the live churnRisk
// and churnLevel (over the profile's stale derived ones), and a critical
// customer calling to cancel gets the retention offer ahead of an upsell
// that wins for everyone else; deactivating the model takes it back.
func TestAgent_ActiveChurnModelScoresEveryDecision(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	fake.Put("Offer", "retain-10", map[string]any{"category": "retention", "value": 60, "channels": []string{"ivr"}})
	fake.Put("Offer", "data-plus", map[string]any{"category": "upsell", "value": 200, "channels": []string{"ivr"}})
	fake.Put("Campaign", "k", map[string]any{"offers": []string{"retain-10", "data-plus"}, "controlGroupPercent": 0})
	fake.PutCustomer(protocol.Profile{ID: "C7", Attributes: map[string]any{"complaints": 4.0}, Derived: map[string]any{"churnLevel": "low", "churnRisk": 0.01}, Index: 1})
	fake.PutCustomer(protocol.Profile{ID: "C8", Attributes: map[string]any{"complaints": 0.0}, Index: 1})
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	agenttest.WaitFor(t, 10*time.Second, "the campaign", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/campaigns/k", nil).status == 200 })

	const hot = `{"customerId":"C7","channel":"ivr","intent":"cancel"}`
	if d, res := decide(t, a.URL(), hot); res.status != 200 || d.ChurnLevel != "low" || d.ChurnModel != "" || d.Offers[0].OfferID != "data-plus" {
		t.Fatalf("before any model: %d %s", res.status, res.body)
	}
	fake.Put("Model", "churn-inactive", complaintsModelDoc("inactive"))
	idx := fake.Put("Model", "churn-main", complaintsModelDoc("active"))
	agenttest.WaitFor(t, 10*time.Second, "the model", func() bool {
		d, _ := decide(t, a.URL(), hot)
		return d.ConfigIndex >= idx && d.ChurnModel == "churn-main"
	})
	d, res := decide(t, a.URL(), hot)
	if d.ChurnRisk == nil || *d.ChurnRisk < 0.9 || d.ChurnLevel != "critical" || d.ChurnModelVersion != 1 {
		t.Fatalf("critical customer: %s", res.body)
	}
	if len(d.Offers) != 2 || d.Offers[0].OfferID != "retain-10" {
		t.Fatalf("a critical customer calling to cancel must get retain-10 first: %s", res.body)
	}
	if d, res := decide(t, a.URL(), `{"customerId":"C8","channel":"ivr","intent":"cancel"}`); d.ChurnLevel != "low" || d.Offers[0].OfferID != "data-plus" {
		t.Fatalf("low-risk customer: %s", res.body)
	}

	idx = fake.Put("Model", "churn-main", complaintsModelDoc("inactive"))
	agenttest.WaitFor(t, 10*time.Second, "the deactivation", func() bool {
		d, _ := decide(t, a.URL(), hot)
		return d.ConfigIndex >= idx
	})
	if d, res := decide(t, a.URL(), hot); d.ChurnModel != "" || d.ChurnLevel != "low" || d.Offers[0].OfferID != "data-plus" {
		t.Fatalf("after deactivation the derived fields stand again: %s", res.body)
	}
}
