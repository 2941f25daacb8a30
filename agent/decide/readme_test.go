package decide

import (
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// The README scenario, exactly.
func TestDecide_READMEScenario(t *testing.T) {
	e := Compile(readmeCatalog())

	t.Run("C1 on the kiosk gets retain-10 ranked first", func(t *testing.T) {
		d := e.Decide(input(profileC1(), "kiosk"))
		if len(d.Offers) != 1 || d.Offers[0].OfferID != "retain-10" || d.Offers[0].Rank != 1 || d.Offers[0].CampaignID != "winback-q4" {
			t.Fatalf("offers: %s", dump(d))
		}
		o := d.Offers[0]
		// 0.1 (prior) × 60 yuan × weight 1.
		if o.Score != 0.1*60 || o.Propensity != 0.1 || o.Value != 60 || o.Weight != 1 || o.ContextWeight != 1 || o.LeverWeight != 1 {
			t.Fatalf("score parts: %+v", o)
		}
		if d.ConfigIndex != 7 || d.CustomerID != "C1" || d.Channel != "kiosk" || d.DecisionID != "d-1" {
			t.Fatalf("header: %s", dump(d))
		}
		if len(d.Suppressed) != 0 || len(d.Holdout) != 0 {
			t.Fatalf("nothing should be filtered: %s", dump(d))
		}
	})

	t.Run("C2 lists retain-10 as not eligible", func(t *testing.T) {
		d := e.Decide(input(profileC2(), "kiosk"))
		s := suppressed(t, d, "retain-10")
		if s.Code != api.SuppressedNotEligible || !strings.Contains(s.Reason, "profile.tenureMonths >= 6") || len(d.Offers) != 0 {
			t.Fatalf("got %s", dump(d))
		}
	})

	t.Run("C1 after two presented contacts on kiosk and ivr is capped", func(t *testing.T) {
		in := input(profileC1(), "kiosk")
		in.Contacts = []Contact{
			contact(now.Add(-48*time.Hour), "kiosk", protocol.OutcomePresented, "retain-10"),
			contact(now.Add(-2*time.Hour), "ivr", protocol.OutcomePresented, "retain-10"),
		}
		d := e.Decide(in)
		s := suppressed(t, d, "retain-10")
		want := `contact cap: policy "default" allows 2 contacts per 168h on all channels; customer had 2`
		if s.Code != api.SuppressedContactCap || s.Reason != want {
			t.Fatalf("got %+v, want reason %q", s, want)
		}
	})
}
