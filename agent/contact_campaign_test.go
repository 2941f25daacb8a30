package agent

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/agent/decide"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// catalogueAgent is an agent with only a cache holding docs (kind, id and
// the document's other fields) and the engines over it: what fillCampaign
// reads.
func catalogueAgent(t *testing.T, docs ...map[string]any) (*Agent, *cache.Cache) {
	t.Helper()
	c, err := cache.Open(cache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	objs := make([]api.Object, len(docs))
	for i, d := range docs {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		objs[i] = api.Object{Kind: d["kind"].(string), ID: d["id"].(string), Index: uint64(i + 1), Doc: b}
	}
	if _, err := c.ApplySnapshot(cache.Position{ClusterID: "c1", Epoch: 1, Index: uint64(len(docs) + 1)}, objs); err != nil {
		t.Fatal(err)
	}
	return &Agent{log: slog.New(slog.DiscardHandler), cache: c, engines: &engines{cache: c}}, c
}

func offerDoc(id string) map[string]any {
	return map[string]any{"kind": "Offer", "id": id, "category": "retention", "value": 60, "channels": []string{"kiosk"}}
}

func campaignDoc(id, status string, offers ...string) map[string]any {
	d := map[string]any{"kind": "Campaign", "id": id, "name": id, "offers": offers}
	if status != "" {
		d["status"] = status
	}
	return d
}

// TestContact_CampaignIsFilledFromTheOffersOnlyCampaign: a contact that
// names an offer but no campaign gets the one campaign that lists the offer
// (campaign results count contacts by campaignId); an offer in several
// campaigns or in none, an unknown offer, and a campaign the client gave
// are left as they are.
func TestContact_CampaignIsFilledFromTheOffersOnlyCampaign(t *testing.T) {
	a, _ := catalogueAgent(t,
		offerDoc("retain-10"), offerDoc("upsell-5g"), offerDoc("care-call"), offerDoc("loose"),
		campaignDoc("winback-q4", "", "retain-10", "upsell-5g", "retain-10"), // listed twice: still one campaign
		campaignDoc("growth", "", "upsell-5g"),
		campaignDoc("care-2025", "completed", "care-call"),
	)
	tests := []struct {
		name, body, want string
	}{
		{"the README's shape", `{"customerId":"C1","type":"offer","outcome":"accepted","offerId":"retain-10","decisionId":"d-1"}`, "winback-q4"},
		{"a campaign no longer active", `{"customerId":"C1","type":"offer","outcome":"accepted","offerId":"care-call"}`, "care-2025"},
		{"the client's campaign is kept", `{"customerId":"C1","type":"offer","outcome":"accepted","offerId":"retain-10","campaignId":"other"}`, "other"},
		{"several campaigns: none is guessed", `{"customerId":"C1","type":"offer","outcome":"presented","offerId":"upsell-5g"}`, ""},
		{"an offer in no campaign", `{"customerId":"C1","type":"offer","outcome":"presented","offerId":"loose"}`, ""},
		{"an offer the agent does not know", `{"customerId":"C1","type":"offer","outcome":"presented","offerId":"no-such-offer"}`, ""},
		{"a campaign id that is an offer's", `{"customerId":"C1","type":"offer","outcome":"presented","offerId":"winback-q4"}`, ""},
		{"no offer", `{"customerId":"C1","type":"inquiry","outcome":"ignored"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, aerr := decodeContact([]byte(tc.body), "kiosk")
			if aerr != nil {
				t.Fatal(aerr)
			}
			before := ev
			a.fillCampaign(&ev)
			if ev.CampaignID != tc.want {
				t.Fatalf("campaign %q, want %q", ev.CampaignID, tc.want)
			}
			before.CampaignID = ev.CampaignID
			if ev != before {
				t.Fatalf("fillCampaign changed more than the campaign:\n%+v\n%+v", before, ev)
			}
		})
	}
}

// TestContact_HeldOutCustomerKeepsNoCampaign: a customer the campaign
// holds out who takes its offer unprompted is not filled into the
// campaign (that would count them as contacted and presented in the
// control group); a treated customer is.
func TestContact_HeldOutCustomerKeepsNoCampaign(t *testing.T) {
	c := campaignDoc("camp-a", "", "offer-a")
	c["controlGroupPercent"] = 30
	a, _ := catalogueAgent(t, offerDoc("offer-a"), c)
	var held, treated string
	for i := 0; held == "" || treated == ""; i++ {
		id := fmt.Sprintf("K%05d", i)
		if decide.InControlGroup(id, "camp-a", 30) {
			held = cmp.Or(held, id)
		} else {
			treated = cmp.Or(treated, id)
		}
	}
	for _, tc := range []struct{ customer, want string }{{held, ""}, {treated, "camp-a"}} {
		ev := protocol.ContactEvent{CustomerID: tc.customer, Channel: "kiosk", Type: "offer", Outcome: "accepted", OfferID: "offer-a"}
		a.fillCampaign(&ev)
		if ev.CampaignID != tc.want {
			t.Errorf("customer %s (held out: %v): campaign %q, want %q", tc.customer, tc.customer == held, ev.CampaignID, tc.want)
		}
	}
}

// TestContact_CampaignFollowsTheCurrentCatalogue: the campaign comes from
// the catalogue the agent holds now, not from the one it compiled first.
func TestContact_CampaignFollowsTheCurrentCatalogue(t *testing.T) {
	a, c := catalogueAgent(t, offerDoc("retain-10"), campaignDoc("winback-q4", "", "retain-10"))
	fill := func() string {
		t.Helper()
		ev := protocol.ContactEvent{CustomerID: "C1", Channel: "kiosk", Type: "offer", Outcome: "accepted", OfferID: "retain-10"}
		a.fillCampaign(&ev)
		return ev.CampaignID
	}
	if got := fill(); got != "winback-q4" {
		t.Fatalf("one campaign: %q", got)
	}
	put := func(index uint64, d map[string]any) {
		t.Helper()
		b, _ := json.Marshal(d)
		ch := api.Change{Index: index, Op: api.OpPut, Kind: d["kind"].(string), ID: d["id"].(string), Doc: b}
		if _, err := c.ApplyChanges(cache.Position{ClusterID: "c1", Epoch: 1, Index: index}, []api.Change{ch}); err != nil {
			t.Fatal(err)
		}
	}
	put(10, campaignDoc("spring", "", "retain-10"))
	if got := fill(); got != "" {
		t.Fatalf("two campaigns list the offer: %q", got)
	}
	put(11, campaignDoc("spring", "", "other-offer"))
	if got := fill(); got != "winback-q4" {
		t.Fatalf("one campaign again: %q", got)
	}
}
