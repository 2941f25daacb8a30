package agent_test

import (
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/protocol"
)

// TestAgent_ContactWithoutCampaignIsLoggedUnderTheOffersCampaign: the
// README's contact (offer, no campaign) reaches the ledger with the
// campaign the decision listed the offer under.
func TestAgent_ContactWithoutCampaignIsLoggedUnderTheOffersCampaign(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/campaigns/winback-q4", nil).status == 200 })
	for _, body := range []string{
		`{"customerId":"C1","type":"offer","outcome":"accepted","offerId":"retain-10","decisionId":"d-1"}`,
		`{"customerId":"C1","type":"offer","outcome":"accepted","offerId":"retain-10","campaignId":"mine"}`,
	} {
		if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(body)); res.status != 202 {
			t.Fatalf("contact: %d %s", res.status, res.body)
		}
	}
	agenttest.WaitFor(t, 10*time.Second, "the contacts at the control plane", func() bool { return len(fake.Events("kiosk-7")) == 2 })
	if evs := fake.Events("kiosk-7"); evs[0].CampaignID != "winback-q4" || evs[1].CampaignID != "mine" {
		t.Fatalf("campaigns %q and %q, want winback-q4 and mine", evs[0].CampaignID, evs[1].CampaignID)
	}
}

// A revoked agent's contacts could never reach the ledger: it refuses
// them with 403 revoked instead of answering 202, and still decides.
func TestAgent_RevokedAgentRefusesContacts(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	fake.PutCustomer(protocol.Profile{ID: "C1", Attributes: map[string]any{"tenureMonths": 12.0}, Index: 1})
	fake.PutCustomer(protocol.Profile{ID: "C9", Attributes: map[string]any{"tenureMonths": 12.0}, Index: 2})
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/campaigns/winback-q4", nil).status == 200 })
	contact := []byte(`{"customerId":"C1","type":"offer","outcome":"presented","offerId":"retain-10"}`)
	if res := do(t, "POST", a.URL()+"/v1/contacts", contact); res.status != 202 {
		t.Fatalf("contact before the revocation: %d %s", res.status, res.body)
	}
	fake.Revoke(a.Status().ID)
	agenttest.WaitFor(t, 10*time.Second, "the refusal", func() bool { return do(t, "POST", a.URL()+"/v1/contacts", contact).status == 403 })
	if res := do(t, "POST", a.URL()+"/v1/contacts", contact); !strings.Contains(string(res.body), `"code":"revoked"`) {
		t.Fatalf("contact after the revocation: %d %s", res.status, res.body)
	}
	// C9 has no contact (C1 may be capped by the contacts taken while the
	// revocation was on its way).
	if d, res := decide(t, a.URL(), `{"customerId":"C9","channel":"kiosk"}`); res.status != 200 || len(d.Offers) != 1 {
		t.Fatalf("decision after the revocation: %d %s", res.status, res.body)
	}
}
