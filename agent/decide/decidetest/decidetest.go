// Package decidetest builds the realistic catalogue and customer base the
// decision benchmarks share: 200 offers with rules (8 of them tariff offers
// over 4 plans), 20 campaigns, 5 contact policies, and as many customers as
// asked for, all deterministic.
package decidetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"touchpoint.dev/touchpoint/agent/decide"
	"touchpoint.dev/touchpoint/protocol"
)

// Plans are the catalogue's tariff plans.
func Plans() []protocol.Plan {
	return []protocol.Plan{
		{Kind: protocol.KindPlan, ID: "lite-18", MonthlyFee: 18, VoiceMinutes: 50, DataMB: 1024, SMS: 20, VoiceOverage: 0.2, DataOverage: 0.05, SMSOverage: 0.1},
		{Kind: protocol.KindPlan, ID: "basic-38", MonthlyFee: 38, VoiceMinutes: 100, DataMB: 3072, SMS: 50, VoiceOverage: 0.15, DataOverage: 0.03, SMSOverage: 0.1},
		{Kind: protocol.KindPlan, ID: "plus-58", MonthlyFee: 58, VoiceMinutes: 500, DataMB: 10240, SMS: 100, VoiceOverage: 0.1, DataOverage: 0.02, SMSOverage: 0.1},
		{Kind: protocol.KindPlan, ID: "max-88", MonthlyFee: 88, VoiceMinutes: 1000, DataMB: 30720, SMS: 300, VoiceOverage: 0.08, DataOverage: 0.01, SMSOverage: 0.05},
	}
}

// Catalog is the benchmark catalogue.
func Catalog() decide.Catalog {
	r := rand.New(rand.NewPCG(1, 2))
	plans := Plans()
	eligibility := []func() string{
		func() string { return fmt.Sprintf("profile.tenureMonths >= %d", r.IntN(36)) },
		func() string { return fmt.Sprintf("profile.arpu > %d", 20+r.IntN(80)) },
		func() string { return fmt.Sprintf("profile.churnRisk >= 0.%d", 1+r.IntN(9)) },
		func() string { return `profile.plan in ["basic-38", "plus-58"]` },
		func() string {
			return fmt.Sprintf("profile.dataMB > %d && profile.voiceMinutes < %d", 500*r.IntN(10), 200+100*r.IntN(8))
		},
		func() string { return fmt.Sprintf(`profile.region != "r%d"`, r.IntN(8)) },
	}
	applicability := []func() string{
		func() string { return `context.intent in ["cancel", "billing"]` },
		func() string { return `context.channel != "sms"` },
		func() string { return fmt.Sprintf("now.Hour() >= %d", r.IntN(6)) },
	}
	suitability := []func() string{
		func() string { return fmt.Sprintf("profile.sms < %d", 20+10*r.IntN(10)) },
		func() string { return `profile.churnLevel != "low"` },
	}
	cats := []string{protocol.CategoryRetention, protocol.CategoryUpsell, protocol.CategoryCrossSell, protocol.CategoryCare}
	c := decide.Catalog{Index: 1000, Plans: plans}
	for i := range 200 {
		o := protocol.Offer{Kind: protocol.KindOffer, ID: fmt.Sprintf("offer-%03d", i), Category: cats[i%len(cats)], Value: float64(5 + r.IntN(100)), Cost: 2}
		if i%25 == 0 { // 8 tariff offers
			o.Category, o.PlanID = protocol.CategoryTariff, plans[(i/25)%len(plans)].ID
		}
		if r.IntN(3) > 0 {
			o.Channels = sample(r, protocol.KnownChannels, 2+r.IntN(3))
		}
		if r.IntN(10) < 6 {
			o.Eligibility = eligibility[r.IntN(len(eligibility))]()
		}
		if r.IntN(10) < 3 {
			o.Applicability = applicability[r.IntN(len(applicability))]()
		}
		if r.IntN(10) < 2 {
			o.Suitability = suitability[r.IntN(len(suitability))]()
		}
		if r.IntN(4) == 0 {
			o.LeverWeight = 0.5 + r.Float64()
		}
		if r.IntN(5) == 0 {
			o.Suppression = &protocol.Suppression{Declines: 2, Days: 30, PauseDays: 60}
		}
		if r.IntN(20) == 0 {
			o.VolumeCap = 1000
		}
		o.Transactional = i%40 == 7
		c.Offers = append(c.Offers, o)
	}
	for i := range 20 {
		k := protocol.Campaign{Kind: protocol.KindCampaign, ID: fmt.Sprintf("camp-%02d", i), BusinessWeight: float64(r.IntN(3)) * 0.5}
		for j := range 10 {
			k.Offers = append(k.Offers, c.Offers[i*10+j].ID)
		}
		k.Offers = append(k.Offers, c.Offers[r.IntN(200)].ID) // some offers are in two campaigns
		k.Offers = slices.Compact(k.Offers)
		if r.IntN(2) == 0 {
			k.Channels = sample(r, protocol.KnownChannels, 3)
		}
		switch i {
		case 3:
			k.Status = protocol.StatusPaused
		case 4:
			k.EndAt = "2026-11-01T00:00:00+08:00"
		}
		if i%4 == 1 {
			k.Segment = fmt.Sprintf("profile.tenureMonths >= %d", 3*i)
		}
		if i%5 == 2 {
			k.ControlGroupPercent = 10
		}
		c.Campaigns = append(c.Campaigns, k)
	}
	quiet := policy("ivr-quiet", "ivr", 1, "24h")
	quiet.QuietHours = &protocol.QuietHours{Start: "21:00", End: "08:00"}
	consent := policy("sms-consent", "sms", 2, "168h")
	consent.RequireConsent = true
	c.Policies = []protocol.ContactPolicy{
		policy("default", "all", 6, "168h"), policy("kiosk-daily", "kiosk", 3, "24h"), quiet, consent, policy("app-daily", "app", 3, "24h"),
	}
	return c
}

func policy(id, channel string, max int, window string) protocol.ContactPolicy {
	return protocol.ContactPolicy{Kind: protocol.KindContactPolicy, ID: id, Channel: channel, MaxContacts: max, Window: window}
}

func sample(r *rand.Rand, from []string, n int) []string {
	s := slices.Clone(from)
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s[:n]
}

// CustomerID names customer i.
func CustomerID(i int) string { return "C" + strconv.Itoa(i) }

var (
	planIDs = []string{"lite-18", "basic-38", "plus-58", "max-88"}
	levels  = []string{"low", "medium", "high", "critical"}
)

// Profile is customer i: tenure, usage, plan, ARPU, region and churn risk
// drawn from a generator seeded by i, so any customer can be rebuilt alone.
func Profile(i int) protocol.Profile {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	risk := float64(r.IntN(100)) / 100
	p := protocol.Profile{
		ID: CustomerID(i), Region: "r" + strconv.Itoa(r.IntN(8)), Index: 1,
		Attributes: map[string]any{
			"name": "Customer " + strconv.Itoa(i), "phone": fmt.Sprintf("139%08d", i%100_000_000),
			"tenureMonths": float64(r.IntN(121)), "voiceMinutes": float64(8 * r.IntN(150)),
			"dataMB": float64(100 * r.IntN(200)), "sms": float64(2 * r.IntN(100)),
			"plan": planIDs[r.IntN(len(planIDs))], "arpu": float64(18 + r.IntN(120)),
		},
		Derived: map[string]any{"churnRisk": risk, "churnLevel": levels[int(risk*4)]},
	}
	if i%3 == 0 {
		p.Consents = map[string]bool{"all": true}
	}
	return p
}
