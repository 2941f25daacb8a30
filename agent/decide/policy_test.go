package decide

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func withPolicies(c Catalog, ps ...protocol.ContactPolicy) Catalog {
	c.Policies = ps
	return c
}

func policy(id, channel string, max int, window string) protocol.ContactPolicy {
	return protocol.ContactPolicy{Kind: protocol.KindContactPolicy, ID: id, Channel: channel, MaxContacts: max, Window: window}
}

func offersOnly(p protocol.ContactPolicy) protocol.ContactPolicy {
	p.Types = []string{protocol.ContactOffer}
	return p
}

// Caps count contacts in [now−window, now] on the policy's channel (or all
// of them), every outcome, holdouts included.
func TestDecide_ContactCaps(t *testing.T) {
	h := time.Hour
	for _, tc := range []struct {
		name     string
		policies []protocol.ContactPolicy
		channel  string
		contacts []Contact
		want     string
		reason   string
	}{
		{name: "under an all-channel cap", policies: []protocol.ContactPolicy{policy("default", "all", 2, "168h")},
			contacts: []Contact{contact(now.Add(-h), "ivr", "presented", "x")}, want: "ranked"},
		{name: "an all-channel cap counts every channel", policies: []protocol.ContactPolicy{policy("default", "all", 2, "168h")},
			contacts: []Contact{contact(now.Add(-h), "ivr", "declined", "x"), contact(now.Add(-2*h), "sms", "accepted", "y")},
			want:     "contact_cap", reason: `policy "default" allows 2 contacts per 168h on all channels; customer had 2`},
		{name: "a channel cap counts only its channel", policies: []protocol.ContactPolicy{policy("kiosk-daily", "kiosk", 1, "24h")},
			contacts: []Contact{contact(now.Add(-h), "ivr", "presented", "x"), contact(now.Add(-h), "sms", "presented", "x")}, want: "ranked"},
		{name: "a channel cap is reached on its channel", policies: []protocol.ContactPolicy{policy("kiosk-daily", "kiosk", 1, "24h")},
			contacts: []Contact{contact(now.Add(-h), "kiosk", "ignored", "x")},
			want:     "contact_cap", reason: `policy "kiosk-daily" allows 1 contact per 24h on kiosk; customer had 1`},
		{name: "a cap of another channel does not apply", channel: "ivr", policies: []protocol.ContactPolicy{policy("kiosk-daily", "kiosk", 1, "24h")},
			contacts: []Contact{contact(now.Add(-h), "kiosk", "presented", "x")}, want: "ranked"},
		{name: "contacts before the window do not count", policies: []protocol.ContactPolicy{policy("daily", "all", 1, "24h")},
			contacts: []Contact{contact(now.Add(-24*h-time.Second), "kiosk", "presented", "x")}, want: "ranked"},
		{name: "a contact exactly at the window's start counts", policies: []protocol.ContactPolicy{policy("daily", "all", 1, "24h")},
			contacts: []Contact{contact(now.Add(-24*h), "kiosk", "presented", "x")}, want: "contact_cap"},
		{name: "a contact exactly now counts", policies: []protocol.ContactPolicy{policy("daily", "all", 1, "24h")},
			contacts: []Contact{contact(now, "kiosk", "presented", "x")}, want: "contact_cap"},
		{name: "a contact after now does not count", policies: []protocol.ContactPolicy{policy("daily", "all", 1, "24h")},
			contacts: []Contact{contact(now.Add(time.Second), "kiosk", "presented", "x")}, want: "ranked"},
		{name: "a holdout counts toward the cap", policies: []protocol.ContactPolicy{policy("daily", "all", 1, "24h")},
			contacts: []Contact{contact(now.Add(-h), "kiosk", "holdout", "x")}, want: "contact_cap", reason: "customer had 1"},
		{name: "contacts of any type count", policies: []protocol.ContactPolicy{policy("daily", "all", 1, "24h")},
			contacts: []Contact{{Time: now.Add(-h), Channel: "kiosk", Type: protocol.ContactComplaint, Outcome: "presented"}}, want: "contact_cap"},
		{name: "a cap on offer contacts leaves out a complaint", policies: []protocol.ContactPolicy{offersOnly(policy("daily", "all", 1, "24h"))},
			contacts: []Contact{{Time: now.Add(-h), Channel: "kiosk", Type: protocol.ContactComplaint, Outcome: "declined"}}, want: "ranked"},
		{name: "a cap on offer contacts counts an offer", policies: []protocol.ContactPolicy{offersOnly(policy("daily", "all", 1, "24h"))},
			contacts: []Contact{{Time: now.Add(-h), Channel: "kiosk", Type: protocol.ContactComplaint, Outcome: "declined"}, contact(now.Add(-h), "kiosk", "presented", "x")},
			want:     "contact_cap", reason: "customer had 1"},
		{name: "an event given twice counts once", policies: []protocol.ContactPolicy{policy("daily", "all", 2, "24h")},
			contacts: []Contact{contact(now.Add(-h), "kiosk", "presented", "x"), contact(now.Add(-h), "kiosk", "presented", "x")}, want: "ranked"},
		{name: "the order of contacts does not matter", policies: []protocol.ContactPolicy{policy("daily", "all", 2, "24h")},
			contacts: []Contact{contact(now.Add(-h), "kiosk", "presented", "x"), contact(now.Add(-30*h), "kiosk", "presented", "x"), contact(now.Add(-2*h), "kiosk", "presented", "x")},
			want:     "contact_cap", reason: "customer had 2"},
		{name: "overlapping windows: the tighter policy decides", policies: []protocol.ContactPolicy{policy("weekly", "all", 5, "168h"), policy("kiosk-hourly", "kiosk", 1, "1h")},
			contacts: []Contact{contact(now.Add(-30*time.Minute), "kiosk", "presented", "x")}, want: "contact_cap", reason: `"kiosk-hourly"`},
		{name: "the answer to a presentation counts with it", policies: []protocol.ContactPolicy{policy("default", "all", 2, "168h")},
			contacts: []Contact{contact(now.Add(-2*h), "kiosk", "presented", "x"), contact(now.Add(-2*h+time.Minute), "kiosk", "declined", "x")}, want: "ranked"},
		{name: "two presentations and their answers are two contacts", policies: []protocol.ContactPolicy{policy("default", "all", 2, "168h")},
			contacts: []Contact{contact(now.Add(-3*h), "kiosk", "presented", "x"), contact(now.Add(-3*h+time.Minute), "kiosk", "accepted", "x"),
				contact(now.Add(-h), "ivr", "presented", "y"), contact(now.Add(-h+time.Minute), "ivr", "ignored", "y")},
			want: "contact_cap", reason: "customer had 2"},
		{name: "an answer over an hour after the presentation is a contact of its own", policies: []protocol.ContactPolicy{policy("default", "all", 2, "168h")},
			contacts: []Contact{contact(now.Add(-5*h), "kiosk", "presented", "x"), contact(now.Add(-3*h), "kiosk", "declined", "x")}, want: "contact_cap"},
		{name: "an answer on another channel or to another offer is a contact of its own", policies: []protocol.ContactPolicy{policy("default", "all", 2, "168h")},
			contacts: []Contact{contact(now.Add(-2*h), "kiosk", "presented", "x"), contact(now.Add(-2*h+time.Minute), "ivr", "declined", "x")}, want: "contact_cap"},
		{name: "an answer whose presentation left the window still counts", policies: []protocol.ContactPolicy{policy("daily", "all", 1, "24h")},
			contacts: []Contact{contact(now.Add(-24*h-10*time.Minute), "kiosk", "presented", "x"), contact(now.Add(-23*h-30*time.Minute), "kiosk", "accepted", "x")},
			want:     "contact_cap", reason: "customer had 1"},
		{name: "maxContacts 0 allows no marketing contact", policies: []protocol.ContactPolicy{policy("no-sms", "kiosk", 0, "24h")},
			want: "contact_cap", reason: `policy "no-sms" allows no marketing contact on kiosk (maxContacts 0)`},
		{name: "a window that does not parse fails closed", policies: []protocol.ContactPolicy{policy("broken", "all", 5, "a week")},
			want: "policy_error", reason: `policy "broken" cannot be applied`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Compile(withPolicies(oneOffer(offer("o", protocol.CategoryUpsell, 10)), tc.policies...))
			ch := tc.channel
			if ch == "" {
				ch = "kiosk"
			}
			in := input(profileC1(), ch)
			in.Contacts = tc.contacts
			d := e.Decide(in)
			if got := verdict(t, d, "o"); got != tc.want {
				t.Fatalf("got %s, want %s: %s", got, tc.want, dump(d))
			}
			if tc.reason != "" {
				if s := suppressed(t, d, "o"); !strings.Contains(s.Reason, tc.reason) {
					t.Fatalf("reason %q does not say %q", s.Reason, tc.reason)
				}
			}
		})
	}
}

// Quiet hours are wall-clock times in the policy's zone and may cross
// midnight.
func TestDecide_QuietHours(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	at := func(hh, mm int) time.Time { return time.Date(2026, 12, 1, hh, mm, 0, 0, shanghai) }
	overnight := &protocol.QuietHours{Start: "21:00", End: "08:00", Timezone: "Asia/Shanghai"}
	for _, tc := range []struct {
		name  string
		quiet *protocol.QuietHours
		now   time.Time
		want  string
	}{
		{"23:30 local is inside 21:00–08:00", overnight, at(23, 30), "quiet_hours"},
		{"07:59 local is inside 21:00–08:00", overnight, at(7, 59), "quiet_hours"},
		{"08:00 local is outside 21:00–08:00", overnight, at(8, 0), "ranked"},
		{"20:59 local is outside 21:00–08:00", overnight, at(20, 59), "ranked"},
		{"21:00 local is inside 21:00–08:00", overnight, at(21, 0), "quiet_hours"},
		{"00:00 local is inside 21:00–08:00", overnight, at(0, 0), "quiet_hours"},
		{"the same instant given in UTC (15:30Z = 23:30 Shanghai)", overnight, time.Date(2026, 12, 1, 15, 30, 0, 0, time.UTC), "quiet_hours"},
		{"noon in Shanghai (04:00Z)", overnight, time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC), "ranked"},
		{"the default zone is Asia/Shanghai", &protocol.QuietHours{Start: "21:00", End: "08:00"}, time.Date(2026, 12, 1, 15, 30, 0, 0, time.UTC), "quiet_hours"},
		{"a UTC policy at 23:30 Shanghai (15:30Z) is awake", &protocol.QuietHours{Start: "21:00", End: "08:00", Timezone: "UTC"}, at(23, 30), "ranked"},
		{"a daytime span 12:00–14:00", &protocol.QuietHours{Start: "12:00", End: "14:00"}, at(13, 0), "quiet_hours"},
		{"a daytime span ends at its end", &protocol.QuietHours{Start: "12:00", End: "14:00"}, at(14, 0), "ranked"},
		{"equal start and end is no quiet time", &protocol.QuietHours{Start: "09:00", End: "09:00"}, at(9, 0), "ranked"},
		{"a zone that cannot be loaded fails closed", &protocol.QuietHours{Start: "21:00", End: "08:00", Timezone: "Mars/Olympus"}, at(12, 0), "policy_error"},
		{"hours that do not parse fail closed", &protocol.QuietHours{Start: "9pm", End: "08:00"}, at(12, 0), "policy_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy("ivr-quiet", "all", 10, "24h")
			p.QuietHours = tc.quiet
			tx := offer("tx", protocol.CategoryCare, 1)
			tx.Transactional = true
			c := withPolicies(Catalog{Offers: []protocol.Offer{offer("o", protocol.CategoryUpsell, 10), tx}, Campaigns: []protocol.Campaign{campaign("k", "o", "tx")}}, p)
			in := input(profileC1(), "ivr")
			in.Now = tc.now
			d := Compile(c).Decide(in)
			if got := verdict(t, d, "o"); got != tc.want {
				t.Fatalf("got %s, want %s: %s", got, tc.want, dump(d))
			}
			if verdict(t, d, "tx") != "ranked" {
				t.Fatalf("a transactional offer was held by a policy: %s", dump(d))
			}
			if tc.want == "quiet_hours" {
				if s := suppressed(t, d, "o"); !strings.Contains(s.Reason, `policy "ivr-quiet"`) {
					t.Fatalf("reason %q", s.Reason)
				}
			}
		})
	}
}

func TestDecide_Consent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		consents map[string]bool
		require  bool
		want     string
	}{
		{"no consent needed", nil, false, "ranked"},
		{"consent needed and none given", nil, true, "no_consent"},
		{"consent on the channel", map[string]bool{"ivr": true}, true, "ranked"},
		{"consent on all channels", map[string]bool{"all": true}, true, "ranked"},
		{"consent on another channel only", map[string]bool{"sms": true}, true, "no_consent"},
		{"consent refused on the channel", map[string]bool{"ivr": false}, true, "no_consent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy("consent", "ivr", 10, "24h")
			p.RequireConsent = tc.require
			e := Compile(withPolicies(oneOffer(offer("o", protocol.CategoryUpsell, 10)), p))
			prof := profileC1()
			prof.Consents = tc.consents
			d := e.Decide(input(prof, "ivr"))
			if got := verdict(t, d, "o"); got != tc.want {
				t.Fatalf("got %s, want %s: %s", got, tc.want, dump(d))
			}
		})
	}
}

// Do-not-disturb stops every offer, transactional ones included;
// transactional offers bypass caps, quiet hours and consent.
func TestDecide_DoNotDisturbAndTransactional(t *testing.T) {
	capped := policy("none", "all", 0, "24h")
	consent := policy("consent", "all", 10, "24h")
	consent.RequireConsent = true
	quiet := policy("quiet", "all", 10, "24h")
	quiet.QuietHours = &protocol.QuietHours{Start: "00:00", End: "23:59"}
	tx := offer("tx", protocol.CategoryCare, 1)
	tx.Transactional = true
	for _, tc := range []struct {
		name            string
		policy          protocol.ContactPolicy
		dnd             bool
		wantMarketing   string
		wantTransaction string
	}{
		{"a cap of 0 holds marketing, not transactional", capped, false, "contact_cap", "ranked"},
		{"consent holds marketing, not transactional", consent, false, "no_consent", "ranked"},
		{"quiet hours hold marketing, not transactional", quiet, false, "quiet_hours", "ranked"},
		{"do not disturb holds both", policy("lax", "all", 10, "24h"), true, "do_not_disturb", "do_not_disturb"},
		{"do not disturb comes before the cap", capped, true, "do_not_disturb", "do_not_disturb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withPolicies(Catalog{Offers: []protocol.Offer{offer("mkt", protocol.CategoryUpsell, 10), tx, offer("lonely", protocol.CategoryCare, 1)},
				Campaigns: []protocol.Campaign{campaign("k", "mkt", "tx")}}, tc.policy)
			p := profileC1()
			p.DoNotDisturb = tc.dnd
			d := Compile(c).Decide(input(p, "kiosk"))
			if got := verdict(t, d, "mkt"); got != tc.wantMarketing {
				t.Errorf("marketing offer: got %s, want %s", got, tc.wantMarketing)
			}
			if got := verdict(t, d, "tx"); got != tc.wantTransaction {
				t.Errorf("transactional offer: got %s, want %s", got, tc.wantTransaction)
			}
			if tc.dnd && verdict(t, d, "lonely") != "do_not_disturb" {
				t.Errorf("do not disturb is not said for every offer: %s", dump(d))
			}
		})
	}
}

// After `declines` declines within `days` days the offer pauses for
// `pauseDays` days after the last of them.
func TestDecide_SuppressionAfterDeclines(t *testing.T) {
	d24 := 24 * time.Hour
	declined := func(ago time.Duration) Contact {
		return contact(now.Add(-ago), "kiosk", protocol.OutcomeDeclined, "boost")
	}
	for _, tc := range []struct {
		name     string
		contacts []Contact
		want     string
	}{
		{"one decline is not enough", []Contact{declined(d24)}, "ranked"},
		{"two declines within 30 days pause it", []Contact{declined(d24), declined(10 * d24)}, "declined_recently"},
		{"two declines more than 30 days apart do not", []Contact{declined(d24), declined(32 * d24)}, "ranked"},
		{"declines of another offer do not count", []Contact{declined(d24), contact(now.Add(-d24), "kiosk", protocol.OutcomeDeclined, "other")}, "ranked"},
		{"other outcomes are not declines", []Contact{declined(d24), contact(now.Add(-2*d24), "kiosk", protocol.OutcomeIgnored, "boost")}, "ranked"},
		{"the pause still runs 59 days after the last decline", []Contact{declined(59 * d24), declined(70 * d24)}, "declined_recently"},
		{"the pause has expired 60 days after the last decline", []Contact{declined(60 * d24), declined(70 * d24)}, "ranked"},
		{"an old pair counts even when the window has moved on", []Contact{declined(40 * d24), declined(45 * d24)}, "declined_recently"},
		{"a later lone decline does not restart an expired pause", []Contact{declined(d24), declined(80 * d24), declined(85 * d24)}, "ranked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := offer("boost", protocol.CategoryUpsell, 30)
			o.Suppression = &protocol.Suppression{Declines: 2, Days: 30, PauseDays: 60}
			in := input(profileC1(), "kiosk")
			in.Contacts = tc.contacts
			d := Compile(oneOffer(o)).Decide(in)
			if got := verdict(t, d, "boost"); got != tc.want {
				t.Fatalf("got %s, want %s: %s", got, tc.want, dump(d))
			}
			if tc.want == "declined_recently" {
				if s := suppressed(t, d, "boost"); !strings.Contains(s.Reason, "declined offer boost 2 times within 30 days") {
					t.Fatalf("reason %q", s.Reason)
				}
			}
		})
	}
}

func TestDecide_VolumeCap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cap    int64
		volume map[string]int64
		want   string
	}{
		{"under the cap", 100, map[string]int64{"o": 99}, "ranked"},
		{"at the cap", 100, map[string]int64{"o": 100}, "volume_cap"},
		{"over the cap", 100, map[string]int64{"o": 250}, "volume_cap"},
		{"unknown volume reaches no cap", 100, nil, "ranked"},
		{"no count for the offer", 100, map[string]int64{"other": 1000}, "ranked"},
		{"no cap", 0, map[string]int64{"o": 1 << 40}, "ranked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := offer("o", protocol.CategoryUpsell, 10)
			o.VolumeCap = tc.cap
			in := input(profileC1(), "kiosk")
			in.OfferVolume = tc.volume
			d := Compile(oneOffer(o)).Decide(in)
			if got := verdict(t, d, "o"); got != tc.want {
				t.Fatalf("got %s, want %s: %s", got, tc.want, dump(d))
			}
		})
	}
}

// The control group is a deterministic hash of customer and campaign: the
// share held out matches the percentage, 0 and 100 are exact, and the held
// out offers are listed with their campaign.
func TestDecide_ControlGroup(t *testing.T) {
	t.Run("rates over 100k customers", func(t *testing.T) {
		const n = 100_000
		for _, pct := range []float64{0, 1, 10, 33.3, 50, 100} {
			held := 0
			for i := range n {
				if InControlGroup("C"+strconv.Itoa(i), "winback-q4", pct) {
					held++
				}
			}
			got := float64(held) / n * 100
			// 5 standard deviations of a binomial share.
			tol := 5 * math.Sqrt(pct*(100-pct)/n)
			if math.Abs(got-pct) > tol || (pct == 0 && held != 0) || (pct == 100 && held != n) {
				t.Errorf("%v%%: held out %.3f%% (tolerance %.3f)", pct, got, tol)
			}
		}
	})
	t.Run("campaigns are independent", func(t *testing.T) {
		both := 0
		for i := range 100_000 {
			id := "C" + strconv.Itoa(i)
			if InControlGroup(id, "a", 50) && InControlGroup(id, "b", 50) {
				both++
			}
		}
		if math.Abs(float64(both)/1000-25) > 1 {
			t.Errorf("held out of both 50%% campaigns: %.2f%%, want about 25%%", float64(both)/1000)
		}
	})
	t.Run("the bucket is fixed", func(t *testing.T) {
		// Every agent and the control plane must agree on these values;
		// changing the hash moves customers between groups mid-campaign.
		for _, tc := range []struct {
			customer, campaign string
			want               float64
		}{
			{"C1", "winback-q4", 10.931780314470718},
			{"13800138000", "winback-q4", 91.297809740855769},
		} {
			if got := ControlBucket(tc.customer, tc.campaign); got != tc.want {
				t.Errorf("ControlBucket(%q, %q) = %.17g, want %.17g", tc.customer, tc.campaign, got, tc.want)
			}
		}
		if ControlBucket("C1", "a") == ControlBucket("C1a", "") {
			t.Fatal("the separator does not separate")
		}
	})
	t.Run("held-out offers are listed, not ranked", func(t *testing.T) {
		c := Catalog{
			Offers:    []protocol.Offer{offer("a1", protocol.CategoryUpsell, 1), offer("a2", protocol.CategoryUpsell, 1), offer("b1", protocol.CategoryUpsell, 1)},
			Campaigns: []protocol.Campaign{campaign("a", "a1", "a2"), campaign("b", "b1")},
		}
		c.Campaigns[0].ControlGroupPercent = 100
		c.Offers[1].Eligibility = "false"
		d := Compile(c).Decide(input(profileC1(), "kiosk"))
		if len(d.Holdout) != 1 || d.Holdout[0].CampaignID != "a" || strings.Join(d.Holdout[0].OfferIDs, ",") != "a1" {
			t.Fatalf("holdout: %s", dump(d))
		}
		if verdict(t, d, "a2") != string(api.SuppressedNotEligible) || verdict(t, d, "b1") != "ranked" {
			t.Fatalf("others: %s", dump(d))
		}
	})
	t.Run("the same customer is held out by every decision", func(t *testing.T) {
		c := oneOffer(offer("o", protocol.CategoryUpsell, 1))
		c.Campaigns[0].ControlGroupPercent = 50
		e := Compile(c)
		for i := range 200 {
			p := &protocol.Profile{ID: "C" + strconv.Itoa(i)}
			want := InControlGroup(p.ID, "k", 50)
			for range 3 {
				if got := verdict(t, e.Decide(input(p, "kiosk")), "o") == "holdout"; got != want {
					t.Fatalf("customer %s: held out %v, want %v", p.ID, got, want)
				}
			}
		}
	})
}
