package decide

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// now is the tests' decision time: Monday 1 December 2026, 14:00 in
// Shanghai.
var now = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

// readmeCatalog is the README's catalogue: offer retain-10, campaign
// winback-q4, policy default.
func readmeCatalog() Catalog {
	return Catalog{
		Index: 7,
		Offers: []protocol.Offer{{
			Kind: protocol.KindOffer, ID: "retain-10", Name: "10% off for 6 months", Category: protocol.CategoryRetention,
			Value: 60, Cost: 5, Channels: []string{"kiosk", "ivr"}, Eligibility: "profile.tenureMonths >= 6",
		}},
		Campaigns: []protocol.Campaign{{
			Kind: protocol.KindCampaign, ID: "winback-q4", Name: "Q4 retention", Offers: []string{"retain-10"},
			Channels: []string{"kiosk", "ivr"}, ControlGroupPercent: 0,
		}},
		Policies: []protocol.ContactPolicy{{
			Kind: protocol.KindContactPolicy, ID: "default", Channel: "all", MaxContacts: 2, Window: "168h",
		}},
	}
}

func profileC1() *protocol.Profile {
	return &protocol.Profile{ID: "C1", Attributes: map[string]any{"tenureMonths": 12.0, "voiceMinutes": 420.0, "dataMB": 5120.0, "sms": 30.0}}
}

func profileC2() *protocol.Profile {
	return &protocol.Profile{ID: "C2", Attributes: map[string]any{"tenureMonths": 3.0, "voiceMinutes": 90.0, "dataMB": 800.0, "sms": 10.0}}
}

// offer is a minimal offer on every channel.
func offer(id, category string, value float64) protocol.Offer {
	return protocol.Offer{Kind: protocol.KindOffer, ID: id, Category: category, Value: value}
}

// campaign is an active campaign on every channel without a control group.
func campaign(id string, offers ...string) protocol.Campaign {
	return protocol.Campaign{Kind: protocol.KindCampaign, ID: id, Offers: offers}
}

// oneOffer is a catalogue of one offer in one campaign, with no policy.
func oneOffer(o protocol.Offer) Catalog {
	return Catalog{Offers: []protocol.Offer{o}, Campaigns: []protocol.Campaign{campaign("k", o.ID)}}
}

func input(p *protocol.Profile, channel string) Input {
	return Input{DecisionID: "d-1", CustomerID: p.ID, Channel: channel, Now: now, Profile: p}
}

// verdict is where an offer ended up: "rank N", a suppression code, or
// "holdout".
func verdict(t *testing.T, d api.Decision, offerID string) string {
	t.Helper()
	for _, o := range d.Offers {
		if o.OfferID == offerID {
			return "ranked"
		}
	}
	for _, s := range d.Suppressed {
		if s.OfferID == offerID {
			return string(s.Code)
		}
	}
	for _, h := range d.Holdout {
		if slices.Contains(h.OfferIDs, offerID) {
			return "holdout"
		}
	}
	return "absent"
}

func suppressed(t *testing.T, d api.Decision, offerID string) api.SuppressedOffer {
	t.Helper()
	for _, s := range d.Suppressed {
		if s.OfferID == offerID {
			return s
		}
	}
	t.Fatalf("offer %s is not suppressed: %s", offerID, dump(d))
	return api.SuppressedOffer{}
}

func ranked(t *testing.T, d api.Decision, offerID string) api.DecisionOffer {
	t.Helper()
	for _, o := range d.Offers {
		if o.OfferID == offerID {
			return o
		}
	}
	t.Fatalf("offer %s is not ranked: %s", offerID, dump(d))
	return api.DecisionOffer{}
}

func dump(d api.Decision) string {
	b, _ := json.MarshalIndent(d, "", "  ")
	return string(b)
}

// contact is a contact of the customer at time at.
func contact(at time.Time, channel, outcome, offerID string) Contact {
	return Contact{Time: at, Channel: channel, Type: protocol.ContactOffer, Outcome: outcome, OfferID: offerID}
}
