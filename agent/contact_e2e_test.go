package agent_test

import (
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/agenttest"
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
