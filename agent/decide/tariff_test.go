package decide

import (
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// The demo plans.
var (
	basic38 = protocol.Plan{Kind: protocol.KindPlan, ID: "basic-38", Name: "Basic 38", MonthlyFee: 38, VoiceMinutes: 100, DataMB: 3072, SMS: 50,
		VoiceOverage: 0.15, DataOverage: 0.03, SMSOverage: 0.1}
	plus58 = protocol.Plan{Kind: protocol.KindPlan, ID: "plus-58", Name: "Plus 58", MonthlyFee: 58, VoiceMinutes: 500, DataMB: 10240, SMS: 100,
		VoiceOverage: 0.1, DataOverage: 0.02, SMSOverage: 0.1}
)

func tariffOffer(id, plan string) protocol.Offer {
	o := offer(id, protocol.CategoryTariff, 20)
	o.PlanID = plan
	return o
}

func tariffCatalog(extra ...protocol.Plan) Catalog {
	return Catalog{
		Offers:    []protocol.Offer{tariffOffer("move-plus-58", "plus-58"), tariffOffer("move-basic-38", "basic-38")},
		Plans:     append([]protocol.Plan{basic38, plus58}, extra...),
		Campaigns: []protocol.Campaign{campaign("tariffs", "move-plus-58", "move-basic-38")},
	}
}

// Bills re-rated by hand.
//
// C1 uses 420 minutes, 5120 MB and 30 SMS a month:
//
//	basic-38: 38 + (420−100)×0.15 + (5120−3072)×0.03 + 0 (30 ≤ 50 SMS)
//	        = 38 + 48 + 61.44 = 147.44
//	plus-58:  58 + 0 (420 ≤ 500) + 0 (5120 ≤ 10240) + 0 (30 ≤ 100) = 58
//
// C2 uses 90 minutes, 800 MB and 10 SMS, inside both allowances:
//
//	basic-38: 38; plus-58: 58
//
// A heavy user of 700 minutes, 12000 MB and 160 SMS:
//
//	basic-38: 38 + 600×0.15 + 8928×0.03 + 110×0.1 = 38 + 90 + 267.84 + 11 = 406.84
//	plus-58:  58 + 200×0.1  + 1760×0.02 + 60×0.1  = 58 + 20 + 35.2  + 6  = 119.20
func TestBill_HandComputed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		usage api.TariffUsage
		plan  protocol.Plan
		want  float64
	}{
		{"C1 on basic-38", api.TariffUsage{VoiceMinutes: 420, DataMB: 5120, SMS: 30}, basic38, 147.44},
		{"C1 on plus-58", api.TariffUsage{VoiceMinutes: 420, DataMB: 5120, SMS: 30}, plus58, 58},
		{"C2 on basic-38", api.TariffUsage{VoiceMinutes: 90, DataMB: 800, SMS: 10}, basic38, 38},
		{"C2 on plus-58", api.TariffUsage{VoiceMinutes: 90, DataMB: 800, SMS: 10}, plus58, 58},
		{"heavy on basic-38", api.TariffUsage{VoiceMinutes: 700, DataMB: 12000, SMS: 160}, basic38, 406.84},
		{"heavy on plus-58", api.TariffUsage{VoiceMinutes: 700, DataMB: 12000, SMS: 160}, plus58, 119.2},
		{"no usage is the fee", api.TariffUsage{}, plus58, 58},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Bill(&tc.plan, tc.usage); got != tc.want {
				t.Fatalf("bill %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecide_TariffAdvice(t *testing.T) {
	retired := protocol.Plan{Kind: protocol.KindPlan, ID: "old-18", MonthlyFee: 18, Status: "retired"}
	for _, tc := range []struct {
		name        string
		attrs       map[string]any
		plans       []protocol.Plan
		wantCurrent any // float64, or nil when unknown
		wantSource  string
		wantPlans   string // plan:bill, cheapest first
		want        map[string]string
		value       map[string]float64
		reason      map[string]string
		usageError  string
	}{
		{name: "C1 on basic-38 saves 89.44 on plus-58",
			attrs:       map[string]any{"voiceMinutes": 420.0, "dataMB": 5120.0, "sms": 30.0, "plan": "basic-38"},
			wantCurrent: 147.44, wantSource: "plan", wantPlans: "plus-58:58 basic-38:147.44",
			want:   map[string]string{"move-plus-58": "ranked", "move-basic-38": "no_saving"},
			value:  map[string]float64{"move-plus-58": 89.44}, // 147.44 − 58
			reason: map[string]string{"move-basic-38": "already on basic-38", "move-plus-58": "saving 89.44 yuan a month (147.44 yuan now, 58.00 on plus-58)"}},
		{name: "C2 on basic-38 would pay more on plus-58",
			attrs:       map[string]any{"voiceMinutes": 90.0, "dataMB": 800.0, "sms": 10.0, "planId": "basic-38"},
			wantCurrent: 38.0, wantSource: "plan", wantPlans: "basic-38:38 plus-58:58",
			want:   map[string]string{"move-plus-58": "no_saving", "move-basic-38": "no_saving"},
			reason: map[string]string{"move-plus-58": "bill is 38.00 yuan now and would be 58.00 yuan on plus-58"}},
		{name: "an unknown plan falls back to arpu",
			attrs:       map[string]any{"voiceMinutes": 90.0, "dataMB": 800.0, "sms": 10.0, "plan": "gold-99", "arpu": 66.5},
			wantCurrent: 66.5, wantSource: "arpu", wantPlans: "basic-38:38 plus-58:58",
			want:  map[string]string{"move-plus-58": "ranked", "move-basic-38": "ranked"},
			value: map[string]float64{"move-plus-58": 8.5, "move-basic-38": 28.5}},
		{name: "monthlyCharge comes before arpu",
			attrs:       map[string]any{"monthlyCharge": 40.0, "arpu": 99.0},
			wantCurrent: 40.0, wantSource: "monthlyCharge", wantPlans: "basic-38:38 plus-58:58",
			want:  map[string]string{"move-plus-58": "no_saving", "move-basic-38": "ranked"},
			value: map[string]float64{"move-basic-38": 2}},
		{name: "monthlySpend is the last resort",
			attrs:       map[string]any{"monthlySpend": 60.0},
			wantCurrent: 60.0, wantSource: "monthlySpend", wantPlans: "basic-38:38 plus-58:58",
			want: map[string]string{"move-plus-58": "ranked", "move-basic-38": "ranked"}},
		{name: "an unknown current bill shows no saving",
			attrs:       map[string]any{"voiceMinutes": 420.0},
			wantCurrent: nil, wantPlans: "plus-58:58 basic-38:86",
			want:   map[string]string{"move-plus-58": "no_saving", "move-basic-38": "no_saving"},
			reason: map[string]string{"move-plus-58": "current bill is unknown"}},
		{name: "a usage given as text bills no plan, rather than as 0",
			attrs:       map[string]any{"voiceMinutes": "420 min", "dataMB": 5120.0, "sms": 30.0, "plan": "basic-38"},
			wantCurrent: nil, wantPlans: "",
			want:       map[string]string{"move-plus-58": "no_saving", "move-basic-38": "no_saving"},
			reason:     map[string]string{"move-plus-58": "plus-58 cannot be billed, the profile's voiceMinutes is not a monthly usage"},
			usageError: "voiceMinutes is not a monthly usage (a number ≥ 0): 420 min; no plan is billed"},
		{name: "a negative usage bills no plan",
			attrs:       map[string]any{"voiceMinutes": 420.0, "sms": -5.0, "arpu": 99.0},
			wantCurrent: nil, wantPlans: "",
			want:       map[string]string{"move-plus-58": "no_saving", "move-basic-38": "no_saving"},
			usageError: "sms is not a monthly usage (a number ≥ 0): -5; no plan is billed"},
		{name: "a usage of null counts as not recorded",
			attrs:       map[string]any{"voiceMinutes": 420.0, "dataMB": 5120.0, "sms": nil, "plan": "basic-38"},
			wantCurrent: 147.44, wantSource: "plan", wantPlans: "plus-58:58 basic-38:147.44",
			want: map[string]string{"move-plus-58": "ranked", "move-basic-38": "no_saving"}},
		{name: "a customer on a retired plan is re-rated on it; retired plans are not advised",
			attrs: map[string]any{"plan": "old-18", "voiceMinutes": 10.0}, plans: []protocol.Plan{retired},
			wantCurrent: 18.0, wantSource: "plan", wantPlans: "old-18:18 basic-38:38 plus-58:58",
			want: map[string]string{"move-plus-58": "no_saving", "move-basic-38": "no_saving"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Compile(tariffCatalog(tc.plans...))
			d := e.Decide(input(&protocol.Profile{ID: "C1", Attributes: tc.attrs}, "kiosk"))
			tr := d.Tariff
			if tr == nil {
				t.Fatalf("no tariff block: %s", dump(d))
			}
			switch want := tc.wantCurrent.(type) {
			case nil:
				if tr.CurrentBill != nil {
					t.Errorf("current bill %v, want unknown", *tr.CurrentBill)
				}
			case float64:
				if tr.CurrentBill == nil || *tr.CurrentBill != want || tr.CurrentBillSource != tc.wantSource {
					t.Errorf("current bill %v from %q, want %v from %q", tr.CurrentBill, tr.CurrentBillSource, want, tc.wantSource)
				}
			}
			if tr.UsageError != tc.usageError {
				t.Errorf("usage error %q, want %q", tr.UsageError, tc.usageError)
			}
			if tr.Plans == nil {
				t.Errorf("plans is nil: the answer would say null, not []")
			}
			var plans []string
			for _, p := range tr.Plans {
				plans = append(plans, p.PlanID+":"+formatFactor(p.Bill))
				if (p.Saving == nil) != (tr.CurrentBill == nil) || (p.Saving != nil && *p.Saving != round2(*tr.CurrentBill-p.Bill)) {
					t.Errorf("plan %s saving %v", p.PlanID, p.Saving)
				}
			}
			if g := strings.Join(plans, " "); g != tc.wantPlans {
				t.Errorf("plans %q, want %q", g, tc.wantPlans)
			}
			for id, want := range tc.want {
				if got := verdict(t, d, id); got != want {
					t.Errorf("%s: got %s, want %s", id, got, want)
				}
			}
			for id, want := range tc.value {
				if o := ranked(t, d, id); o.Value != want || !near(o.Score, 0.1*want) {
					t.Errorf("%s: value %v score %v, want value %v", id, o.Value, o.Score, want)
				}
			}
			for id, want := range tc.reason {
				var got string
				if tc.want[id] == "ranked" {
					got = ranked(t, d, id).Reason
				} else {
					got = suppressed(t, d, id).Reason
				}
				if !strings.Contains(got, want) {
					t.Errorf("%s: reason %q does not say %q", id, got, want)
				}
			}
		})
	}
}

func TestDecide_TariffOfferWithoutUsablePlan(t *testing.T) {
	c := Catalog{
		Offers: []protocol.Offer{tariffOffer("to-retired", "old"), tariffOffer("to-missing", "gone"), tariffOffer("to-none", "")},
		Plans:  []protocol.Plan{{Kind: protocol.KindPlan, ID: "old", MonthlyFee: 1, Status: "retired"}},
	}
	c.Campaigns = []protocol.Campaign{campaign("k", "to-retired", "to-missing", "to-none")}
	d := Compile(c).Decide(input(&protocol.Profile{ID: "C1", Attributes: map[string]any{"arpu": 100.0}}, "kiosk"))
	for _, id := range []string{"to-retired", "to-missing", "to-none"} {
		if got := verdict(t, d, id); got != string(api.SuppressedPlanUnavailable) {
			t.Errorf("%s: %s", id, got)
		}
	}
	if d.Tariff == nil || len(d.Tariff.Plans) != 0 {
		t.Errorf("tariff block: %+v", d.Tariff)
	}
}
