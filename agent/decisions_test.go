package agent_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent"
	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// readmeCatalogue puts the README's offer, campaign and policy into the
// fake control plane.
func readmeCatalogue(fake *agenttest.FakeControlPlane, controlGroup float64) {
	fake.Put("Offer", "retain-10", map[string]any{"category": "retention", "value": 60, "cost": 5,
		"channels": []string{"kiosk", "ivr"}, "eligibility": "profile.tenureMonths >= 6"})
	fake.Put("Campaign", "winback-q4", map[string]any{"name": "Q4 retention", "offers": []string{"retain-10"},
		"channels": []string{"kiosk", "ivr"}, "controlGroupPercent": controlGroup})
	fake.Put("ContactPolicy", "default", map[string]any{"channel": "all", "maxContacts": 2, "window": "168h"})
}

func decide(t *testing.T, url, body string) (api.Decision, response) {
	t.Helper()
	res := do(t, "POST", url+"/v1/decisions", []byte(body))
	var d api.Decision
	if res.status == 200 {
		if err := json.Unmarshal(res.body, &d); err != nil {
			t.Fatalf("decision body: %v: %s", err, res.body)
		}
	}
	return d, res
}

func TestAgent_DecisionsFollowTheREADMEScenarioAndFetchOnAMiss(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	fake.PutCustomer(protocol.Profile{ID: "C1", Region: "sh", Attributes: map[string]any{"name": "Li Wei", "tenureMonths": 12.0, "voiceMinutes": 420.0, "dataMB": 5120.0, "sms": 30.0}, Index: 1})
	fake.PutCustomer(protocol.Profile{ID: "C2", Attributes: map[string]any{"name": "Wang Fang", "tenureMonths": 3.0, "voiceMinutes": 90.0, "dataMB": 800.0, "sms": 10.0}, Index: 1})
	cfg := config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.Region = "sh"
	cfg.UnregionedMax = -1 // never prefetch customers without a region: C2 is fetched on demand
	a := start(t, cfg)
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/policies/default", nil).status == 200 })

	d, res := decide(t, a.URL(), `{"customerId":"C1","channel":"kiosk"}`)
	if res.status != 200 || len(d.Offers) != 1 || d.Offers[0].OfferID != "retain-10" || d.Offers[0].CampaignID != "winback-q4" || d.Offers[0].Rank != 1 || d.DecisionID == "" || d.ConfigIndex == 0 {
		t.Fatalf("C1: %d %s", res.status, res.body)
	}
	// Counted by id: the region's prefetch may still be running, and
	// counts as a profile request too (a CI run saw 3 against 1 before).
	d, res = decide(t, a.URL(), `{"customerId":"C2","channel":"kiosk"}`)
	if n := fake.ProfileGets("C2"); n != 1 {
		t.Fatalf("C2 was fetched %d times on the miss, want once", n)
	}
	if res.status != 200 || len(d.Offers) != 0 || len(d.Suppressed) != 1 || d.Suppressed[0].OfferID != "retain-10" || d.Suppressed[0].Code != "not_eligible" {
		t.Fatalf("C2 (fetched on a miss): %d %s", res.status, res.body)
	}
	// Two offers presented to C1 cap it at once on this agent (before
	// the control plane acknowledges them).
	for _, ch := range []string{"kiosk", "ivr"} {
		body := fmt.Sprintf(`{"customerId":"C1","channel":%q,"type":"offer","outcome":"presented","offerId":"retain-10","campaignId":"winback-q4","decisionId":%q}`, ch, d.DecisionID)
		if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(body)); res.status != 202 {
			t.Fatalf("contact: %d %s", res.status, res.body)
		}
	}
	d, res = decide(t, a.URL(), `{"customerId":"C1","channel":"kiosk"}`)
	if res.status != 200 || len(d.Offers) != 0 || len(d.Suppressed) != 1 || d.Suppressed[0].Code != "contact_cap" {
		t.Fatalf("C1 after two contacts: %d %s", res.status, res.body)
	}

	if _, res := decide(t, a.URL(), `{"customerId":"C404","channel":"kiosk"}`); res.status != 404 {
		t.Fatalf("unknown customer: %d %s", res.status, res.body)
	} else if code, _ := res.errorCode(t); code != api.CodeUnknownCustomer {
		t.Fatalf("unknown customer code %s", code)
	}
	for body, want := range map[string]api.Code{
		`{"customerId":"C1"}`:                         api.CodeMissingField,
		`{"customerId":"C1","channel":"fax"}`:         api.CodeInvalidField,
		`{"customerId":"C1","channel":"kiosk","x":1}`: api.CodeUnknownField,
		`not json`: api.CodeInvalidJSON,
		`{"customerId":"C1","channel":"kiosk","context":{"a":{"b":{"c":{"d":{"e":1}}}}}}`: api.CodeInvalidField,
	} {
		_, res := decide(t, a.URL(), body)
		if res.status != 400 {
			t.Errorf("%s: %d %s", body, res.status, res.body)
			continue
		}
		if code, _ := res.errorCode(t); code != want {
			t.Errorf("%s: code %s, want %s", body, code, want)
		}
	}

	// Offline, the agent still decides for the customers it holds and
	// says why it cannot for the others.
	_ = fake.Close()
	agenttest.WaitFor(t, 15*time.Second, "the link to drop", func() bool { return !a.LinkStatus().Connected })
	if d, res := decide(t, a.URL(), `{"customerId":"C2","channel":"ivr"}`); res.status != 200 || len(d.Suppressed) == 0 {
		t.Fatalf("offline decision for a held customer: %d %s", res.status, res.body)
	}
	if _, res := decide(t, a.URL(), `{"customerId":"C3","channel":"ivr"}`); res.status != 404 {
		t.Fatalf("offline, uncached customer: %d %s", res.status, res.body)
	}
}

func TestAgent_HoldoutIsLoggedAsAContactOncePerVisit(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 100)
	fake.PutCustomer(protocol.Profile{ID: "C1", Attributes: map[string]any{"tenureMonths": 12.0}, Index: 1})
	var skew atomic.Int64 // how far the agent's clock is ahead
	cfg := config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	a := start(t, cfg)
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/campaigns/winback-q4", nil).status == 200 })
	d, res := decide(t, a.URL(), `{"customerId":"C1","channel":"kiosk"}`)
	if res.status != 200 || len(d.Offers) != 0 || len(d.Holdout) != 1 || d.Holdout[0].CampaignID != "winback-q4" {
		t.Fatalf("holdout decision: %d %s", res.status, res.body)
	}
	agenttest.WaitFor(t, 10*time.Second, "the holdout contact at the control plane", func() bool {
		for _, e := range fake.Events(a.Status().ID) {
			if e.Outcome == protocol.OutcomeHoldout && e.DecisionID == d.DecisionID && e.CampaignID == "winback-q4" && e.CustomerID == "C1" {
				// At the decision's time, not its batch's.
				if !e.Time.Equal(d.Time) {
					t.Fatalf("holdout at %v, the decision at %v", e.Time, d.Time)
				}
				return true
			}
		}
		return false
	})

	// The same visit asks again, once per screen and concurrently: the
	// decisions still list the holdout, nothing more is logged, and the
	// weekly cap of 2 is not used up by them.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, res := decide(t, a.URL(), `{"customerId":"C1","channel":"ivr"}`); res.status != 200 || len(d.Holdout) != 1 || len(d.Suppressed) != 0 {
				t.Errorf("repeated decision: %d %s", res.status, res.body)
			}
		}()
	}
	wg.Wait()
	holdouts := func() int { return holdoutsAt(fake, a.Status().ID) }
	time.Sleep(300 * time.Millisecond) // what the repeats would have logged had arrived by now
	if n := holdouts(); n != 1 {
		t.Fatalf("%d holdouts logged for one visit, want 1", n)
	}
	// An hour later is another visit.
	skew.Store(int64(time.Hour + time.Minute))
	if d, res := decide(t, a.URL(), `{"customerId":"C1","channel":"kiosk"}`); res.status != 200 || len(d.Holdout) != 1 {
		t.Fatalf("next visit: %d %s", res.status, res.body)
	}
	agenttest.WaitFor(t, 10*time.Second, "the next visit's holdout", func() bool { return holdouts() == 2 })
	// Two visits held out use up the cap of 2, as two presentations do,
	// and the reason says the contacts were holdouts.
	skew.Store(int64(2*time.Hour + 2*time.Minute))
	d, res = decide(t, a.URL(), `{"customerId":"C1","channel":"kiosk"}`)
	if res.status != 200 || len(d.Suppressed) != 1 || d.Suppressed[0].Code != "contact_cap" || !strings.Contains(d.Suppressed[0].Reason, "2 contacts as a campaign's control group") {
		t.Fatalf("third visit: %d %s", res.status, res.body)
	}
}

// holdoutsAt counts the holdout contacts the fake control plane holds of
// agent.
func holdoutsAt(fake *agenttest.FakeControlPlane, agent string) int {
	n := 0
	for _, e := range fake.Events(agent) {
		if e.Outcome == protocol.OutcomeHoldout {
			n++
		}
	}
	return n
}

// TestAgent_DryRunLogsNoHoldout: a dry-run decision lists the holdout but
// records no holdout contact (a load test against live customers would
// otherwise fill the ledger and the caps); the same decision without
// dryRun records it.
func TestAgent_DryRunLogsNoHoldout(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 100)
	fake.PutCustomer(protocol.Profile{ID: "C1", Attributes: map[string]any{"tenureMonths": 12.0}, Index: 1})
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/campaigns/winback-q4", nil).status == 200 })
	holdouts := func() int { return holdoutsAt(fake, a.Status().ID) }
	for _, ch := range []string{"kiosk", "ivr"} {
		if d, res := decide(t, a.URL(), `{"customerId":"C1","channel":"`+ch+`","dryRun":true}`); res.status != 200 || len(d.Holdout) != 1 {
			t.Fatalf("dry run on %s: %d %s", ch, res.status, res.body)
		}
	}
	if _, res := decide(t, a.URL(), `{"customerId":"C1","channel":"kiosk","dryRun":"yes"}`); res.status != 400 {
		t.Fatalf("dryRun a string: %d %s", res.status, res.body)
	}
	time.Sleep(300 * time.Millisecond) // a holdout logged would have arrived by now
	if n := holdouts(); n != 0 {
		t.Fatalf("%d holdouts logged by dry runs", n)
	}
	if _, res := decide(t, a.URL(), `{"customerId":"C1","channel":"kiosk","dryRun":false}`); res.status != 200 {
		t.Fatalf("real decision: %d %s", res.status, res.body)
	}
	agenttest.WaitFor(t, 10*time.Second, "the real decision's holdout", func() bool { return holdouts() == 1 })
	metrics := string(do(t, "GET", a.URL()+"/metrics", nil).body)
	for _, want := range []string{"touchpoint_agent_holdouts_logged_total 1\n", "touchpoint_agent_events_appended_total 0\n", "touchpoint_agent_decisions_total 3\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestAgent_TMFRecommendationAndCustomerUseTheEngineAndMaskPII(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	fake.PutCustomer(protocol.Profile{ID: "C1", Attributes: map[string]any{"name": "Li Wei", "phone": "13800000001", "tenureMonths": 12.0},
		Derived: map[string]any{"churnLevel": "high"}, Index: 1})
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/policies/default", nil).status == 200 })
	res := do(t, "POST", a.URL()+"/tmf-api/recommendationManagement/v4/queryProductRecommendation",
		[]byte(`{"instantSyncRecommendation":true,"channel":{"id":"ivr"},"relatedParty":[{"id":"C1","role":"customer"}],"category":[{"id":"cancel"}]}`))
	var q agent.TMFQueryProductRecommendation
	if err := json.Unmarshal(res.body, &q); err != nil || res.status != 200 || q.State != "done" || len(q.RecommendationItem) != 1 ||
		q.RecommendationItem[0].Priority != 1 || q.RecommendationItem[0].ProductOffering.ID != "retain-10" || q.Channel.ID != "ivr" {
		t.Fatalf("recommendation: %d %s", res.status, res.body)
	}
	res = do(t, "GET", a.URL()+"/tmf-api/customerManagement/v4/customer/C1", nil)
	var c agent.TMFCustomer
	if err := json.Unmarshal(res.body, &c); err != nil || res.status != 200 || c.Name != "L****i" || len(c.ContactMedium) != 1 ||
		c.ContactMedium[0].Characteristic["phoneNumber"] != "13*******01" {
		t.Fatalf("customer: %d %s", res.status, res.body)
	}
	if strings.Contains(string(res.body), "Li Wei") || strings.Contains(string(res.body), "13800000001") {
		t.Fatalf("PII in the answer: %s", res.body)
	}
}

// An erased customer fetched from a node that has not yet applied the
// erasure (a lagging follower, here the fake still serving it) is unknown
// to an agent that has applied it: the stale copy is neither stored nor
// decided on.
func TestAgent_AStaleFetchAfterAnErasureIsUnknown(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	fake.PutCustomer(protocol.Profile{ID: "C2", Attributes: map[string]any{"tenureMonths": 3.0}, Index: 1})
	cfg := config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.UnregionedMax = -1 // C2 is fetched on demand
	a := start(t, cfg)
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return a.Status().Config.Index >= fake.Index() })
	if _, res := decide(t, a.URL(), `{"customerId":"C2","channel":"kiosk"}`); res.status != 200 {
		t.Fatalf("C2 before the erasure: %d %s", res.status, res.body)
	}

	erasedAt := fake.Delete("Customer", "C2")
	agenttest.WaitFor(t, 10*time.Second, "the erasure", func() bool { return a.Status().Config.Index >= erasedAt })
	before := fake.ProfileRequests()
	if _, res := decide(t, a.URL(), `{"customerId":"C2","channel":"kiosk"}`); res.status != 404 {
		t.Fatalf("decision for the erased C2: %d %s", res.status, res.body)
	} else if code, _ := res.errorCode(t); code != api.CodeUnknownCustomer {
		t.Fatalf("decision for the erased C2: code %s", code)
	}
	if res := do(t, "GET", a.URL()+"/tmf-api/customerManagement/v4/customer/C2", nil); res.status != 404 {
		t.Fatalf("TMF customer for the erased C2: %d %s", res.status, res.body)
	}
	if fake.ProfileRequests() == before {
		t.Fatal("the agent did not ask the control plane: the test does not exercise a stale fetch")
	}
}

// TestAgent_FirstDecisionOfASessionSeesContactsMadeWhileAway: contacts
// another agent made while this one was disconnected reach it with the
// customer's history when it decides for the customer again. Before, the
// first decision of the new session used the history held from before
// (and refreshed it in the background), so it showed an offer the cap
// already stopped.
func TestAgent_FirstDecisionOfASessionSeesContactsMadeWhileAway(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	fake.PutCustomer(protocol.Profile{ID: "C9", Attributes: map[string]any{"tenureMonths": 12.0}, Index: 1})
	cfg := config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.UnregionedMax = -1 // no prefetch: C9 is fetched on the first decision
	a := start(t, cfg)
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/policies/default", nil).status == 200 })
	if d, res := decide(t, a.URL(), `{"customerId":"C9","channel":"kiosk"}`); res.status != 200 || len(d.Offers) != 1 {
		t.Fatalf("C9 before: %d %s", res.status, res.body)
	}

	// Away: the link drops, and the IVR agent presents the offer twice,
	// which the control plane now sends with C9's profile.
	before := len(fake.Hellos())
	now := time.Now().UTC()
	var evs []protocol.ContactEvent
	for i := range 2 {
		evs = append(evs, protocol.ContactEvent{AgentID: "ivr-1", Seq: uint64(i + 1), Time: now.Add(-time.Duration(10-i) * time.Minute), CustomerID: "C9",
			Channel: "ivr", Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10", CampaignID: "winback-q4"})
	}
	fake.PutHistory("C9", evs...)
	fake.DropConnections()
	agenttest.WaitFor(t, 15*time.Second, "a new session", func() bool { return len(fake.Hellos()) > before && a.LinkStatus().Connected })

	d, res := decide(t, a.URL(), `{"customerId":"C9","channel":"kiosk"}`)
	if res.status != 200 || len(d.Offers) != 0 || len(d.Suppressed) != 1 || d.Suppressed[0].Code != api.SuppressedContactCap {
		t.Fatalf("the first decision of the new session, after two contacts elsewhere: %d %s", res.status, res.body)
	}
}
