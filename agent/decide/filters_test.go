package decide

import (
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Campaign and offer filters: status, schedule, channel, segment, validity.
func TestDecide_CampaignAndOfferFilters(t *testing.T) {
	base := offer("o", protocol.CategoryUpsell, 10)
	for _, tc := range []struct {
		name     string
		camp     func(*protocol.Campaign)
		offer    func(*protocol.Offer)
		channel  string
		want     string
		campaign string // the campaign the reason belongs to
		reason   string // a substring of the reason
	}{
		{name: "an active campaign presents its offer", want: "ranked"},
		{name: "status active is active", camp: func(c *protocol.Campaign) { c.Status = "active" }, want: "ranked"},
		{name: "a draft campaign does not run", camp: func(c *protocol.Campaign) { c.Status = "draft" }, want: "campaign_inactive", campaign: "k", reason: "campaign k is draft"},
		{name: "a paused campaign does not run", camp: func(c *protocol.Campaign) { c.Status = "paused" }, want: "campaign_inactive", campaign: "k"},
		{name: "a completed campaign does not run", camp: func(c *protocol.Campaign) { c.Status = "completed" }, want: "campaign_inactive", campaign: "k"},
		{name: "before startAt", camp: func(c *protocol.Campaign) { c.StartAt = "2026-12-02T00:00:00+08:00" }, want: "outside_schedule", campaign: "k", reason: "runs from 2026-12-02"},
		{name: "at startAt", camp: func(c *protocol.Campaign) { c.StartAt = "2026-12-01T14:00:00+08:00" }, want: "ranked"},
		{name: "after endAt", camp: func(c *protocol.Campaign) { c.EndAt = "2026-11-30T23:59:59+08:00" }, want: "outside_schedule", reason: "ended at"},
		{name: "at endAt", camp: func(c *protocol.Campaign) { c.EndAt = "2026-12-01T06:00:00Z" }, want: "ranked"},
		{name: "inside the schedule", camp: func(c *protocol.Campaign) {
			c.StartAt, c.EndAt = "2026-10-01T00:00:00+08:00", "2026-12-31T23:59:59+08:00"
		}, want: "ranked"},
		{name: "a schedule that does not parse fails closed", camp: func(c *protocol.Campaign) { c.StartAt = "yesterday" }, want: "outside_schedule", reason: "does not parse"},
		{name: "campaign on another channel", camp: func(c *protocol.Campaign) { c.Channels = []string{"ivr", "sms"} }, want: "wrong_channel", campaign: "k", reason: "campaign k runs on ivr, sms only"},
		{name: "campaign on this channel", camp: func(c *protocol.Campaign) { c.Channels = []string{"kiosk"} }, want: "ranked"},
		{name: "campaign segment false", camp: func(c *protocol.Campaign) { c.Segment = `profile.region == "north"` }, want: "not_in_segment", campaign: "k", reason: `segment rule "profile.region == \"north\"" is false`},
		{name: "campaign segment true", camp: func(c *protocol.Campaign) { c.Segment = `profile.region == "south"` }, want: "ranked"},
		{name: "campaign segment reads a missing attribute", camp: func(c *protocol.Campaign) { c.Segment = `profile.vip` }, want: "not_in_segment", reason: "reads profile.vip"},
		{name: "offer on another channel", offer: func(o *protocol.Offer) { o.Channels = []string{"ivr"} }, want: "wrong_channel", reason: "offer o is for ivr only"},
		{name: "offer on this channel", offer: func(o *protocol.Offer) { o.Channels = []string{"ivr", "kiosk"} }, want: "ranked"},
		{name: "offer on an unknown request channel", channel: "fax", offer: func(o *protocol.Offer) { o.Channels = []string{"kiosk"} }, want: "wrong_channel"},
		{name: "offer not valid yet", offer: func(o *protocol.Offer) { o.ValidFrom = "2027-01-01T00:00:00+08:00" }, want: "outside_validity", reason: "valid from 2027-01-01"},
		{name: "offer no longer valid", offer: func(o *protocol.Offer) { o.ValidUntil = "2026-11-01T00:00:00+08:00" }, want: "outside_validity", reason: "was valid until 2026-11-01"},
		{name: "offer valid now", offer: func(o *protocol.Offer) {
			o.ValidFrom, o.ValidUntil = "2026-11-01T00:00:00+08:00", "2026-12-01T14:00:00+08:00"
		}, want: "ranked"},
		{name: "offer validity that does not parse fails closed", offer: func(o *protocol.Offer) { o.ValidUntil = "soon" }, want: "outside_validity", reason: "does not parse"},
		{name: "campaign filters come before the offer's own", camp: func(c *protocol.Campaign) { c.Status = "paused" },
			offer: func(o *protocol.Offer) { o.Channels = []string{"ivr"} }, want: "campaign_inactive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, c := base, campaign("k", "o")
			if tc.offer != nil {
				tc.offer(&o)
			}
			if tc.camp != nil {
				tc.camp(&c)
			}
			e := Compile(Catalog{Offers: []protocol.Offer{o}, Campaigns: []protocol.Campaign{c}})
			p := &protocol.Profile{ID: "C9", Region: "south"}
			ch := tc.channel
			if ch == "" {
				ch = "kiosk"
			}
			d := e.Decide(input(p, ch))
			if got := verdict(t, d, "o"); got != tc.want {
				t.Fatalf("got %s, want %s: %s", got, tc.want, dump(d))
			}
			if tc.want == "ranked" {
				return
			}
			s := suppressed(t, d, "o")
			if tc.campaign != "" && s.CampaignID != tc.campaign {
				t.Errorf("campaign %q, want %q", s.CampaignID, tc.campaign)
			}
			if !strings.Contains(s.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", s.Reason, tc.reason)
			}
		})
	}
}

func TestDecide_OfferInNoCampaignIsListed(t *testing.T) {
	e := Compile(Catalog{Offers: []protocol.Offer{offer("lonely", protocol.CategoryCare, 0)}})
	d := e.Decide(input(profileC1(), "kiosk"))
	if s := suppressed(t, d, "lonely"); s.Code != api.SuppressedNoCampaign {
		t.Fatalf("got %+v", s)
	}
}

// An offer in two campaigns appears once, under the campaign that scores
// higher; when neither may present it, the campaign that got furthest
// gives the reason.
func TestDecide_OfferInTwoCampaigns(t *testing.T) {
	o := offer("o", protocol.CategoryUpsell, 10)
	for _, tc := range []struct {
		name         string
		a, b         func(*protocol.Campaign)
		want         string
		wantCampaign string
	}{
		{name: "the higher business weight wins", a: func(c *protocol.Campaign) { c.BusinessWeight = 1.5 }, b: func(c *protocol.Campaign) { c.BusinessWeight = 2 }, want: "ranked", wantCampaign: "b"},
		{name: "equal weights: the lower id wins", want: "ranked", wantCampaign: "a"},
		{name: "weight 0 means 1", a: func(c *protocol.Campaign) { c.BusinessWeight = 0 }, b: func(c *protocol.Campaign) { c.BusinessWeight = 0.5 }, want: "ranked", wantCampaign: "a"},
		{name: "an inactive campaign leaves the other", a: func(c *protocol.Campaign) { c.BusinessWeight = 9; c.Status = "paused" }, want: "ranked", wantCampaign: "b"},
		{name: "a held-out campaign leaves the other", a: func(c *protocol.Campaign) { c.BusinessWeight = 9; c.ControlGroupPercent = 100 }, want: "ranked", wantCampaign: "b"},
		{name: "the furthest failing campaign gives the reason", a: func(c *protocol.Campaign) { c.Status = "paused" }, b: func(c *protocol.Campaign) { c.Channels = []string{"ivr"} }, want: "wrong_channel", wantCampaign: "b"},
		{name: "both held out: listed under both", a: func(c *protocol.Campaign) { c.ControlGroupPercent = 100 }, b: func(c *protocol.Campaign) { c.ControlGroupPercent = 100 }, want: "holdout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := campaign("a", "o"), campaign("b", "o")
			if tc.a != nil {
				tc.a(&a)
			}
			if tc.b != nil {
				tc.b(&b)
			}
			e := Compile(Catalog{Offers: []protocol.Offer{o}, Campaigns: []protocol.Campaign{b, a}})
			d := e.Decide(input(profileC1(), "kiosk"))
			if got := verdict(t, d, "o"); got != tc.want {
				t.Fatalf("got %s, want %s: %s", got, tc.want, dump(d))
			}
			n := len(d.Offers) + len(d.Suppressed)
			switch tc.want {
			case "ranked":
				if got := ranked(t, d, "o").CampaignID; got != tc.wantCampaign || n != 1 {
					t.Fatalf("campaign %s, want %s: %s", got, tc.wantCampaign, dump(d))
				}
			case "holdout":
				if len(d.Holdout) != 2 || d.Holdout[0].CampaignID != "a" || d.Holdout[1].CampaignID != "b" || n != 0 {
					t.Fatalf("holdout: %s", dump(d))
				}
			default:
				if got := suppressed(t, d, "o").CampaignID; got != tc.wantCampaign || n != 1 {
					t.Fatalf("campaign %s, want %s: %s", got, tc.wantCampaign, dump(d))
				}
			}
		})
	}
}

// A rule's now is in the engine's zone (the agent's --timezone), not in
// the host's: at 06:00 UTC it is 14:00 in Shanghai.
func TestRules_NowIsInTheEnginesZone(t *testing.T) {
	o := offer("afternoon", protocol.CategoryUpsell, 10)
	o.Eligibility = "now.Hour() == 14 && now.Location().String() == \"Asia/Shanghai\""
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	in := input(profileC1(), "kiosk")
	if got := verdict(t, Compile(oneOffer(o), WithZone(shanghai)).Decide(in), "afternoon"); got != "ranked" {
		t.Fatalf("in Shanghai: %s", got)
	}
	if got := verdict(t, Compile(oneOffer(o)).Decide(in), "afternoon"); got != "not_eligible" {
		t.Fatalf("without a zone, now is the input's (UTC, hour 6): %s", got)
	}
	// The host's zone by name is refused where a rule names it.
	o.Eligibility = `now.In(timezone("Local")).Hour() >= 0`
	if got := verdict(t, Compile(oneOffer(o), WithZone(shanghai)).Decide(in), "afternoon"); got != "rule_error" {
		t.Fatalf(`timezone("Local"): %s`, got)
	}
}
