package decide

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// benchCatalog is a realistic catalogue: 200 offers with a mix of rules
// (8 of them tariff offers over 4 plans), in 20 active campaigns (some on a
// few channels, some with a segment or a 10% control group, a few offers
// in two), 5 policies (caps per channel and for all, quiet hours,
// consent).
func benchCatalog() Catalog {
	r := rand.New(rand.NewPCG(1, 2))
	plans := []protocol.Plan{
		{Kind: protocol.KindPlan, ID: "lite-18", MonthlyFee: 18, VoiceMinutes: 50, DataMB: 1024, SMS: 20, VoiceOverage: 0.2, DataOverage: 0.05, SMSOverage: 0.1},
		basic38, plus58,
		{Kind: protocol.KindPlan, ID: "max-88", MonthlyFee: 88, VoiceMinutes: 1000, DataMB: 30720, SMS: 300, VoiceOverage: 0.08, DataOverage: 0.01, SMSOverage: 0.05},
	}
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
	var c Catalog
	c.Index = 1000
	c.Plans = plans
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
		if r.IntN(2) == 0 {
			k.Channels = sample(r, protocol.KnownChannels, 3)
		}
		switch i { // every campaign is active; some say so, some have a schedule
		case 3:
			k.StartAt, k.EndAt = "2026-10-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"
		case 4:
			k.Status = protocol.StatusActive
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

func sample(r *rand.Rand, from []string, n int) []string {
	s := slices.Clone(from)
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s[:n]
}

// benchCustomer is one customer as a compact record: the million of them
// take 16 MB without a pointer, so the collector does not walk them.
type benchCustomer struct {
	tenure, voice, data, sms, arpu, risk uint8
	plan, region                         uint8
	consent                              bool
}

const benchCustomers = 1_000_000

// benchCustomerRecords are 1,000,000 customers with realistic attributes,
// generated once per test binary.
var benchCustomerRecords = sync.OnceValue(func() []benchCustomer {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]benchCustomer, benchCustomers)
	for i := range out {
		out[i] = benchCustomer{
			tenure: uint8(r.IntN(121)), voice: uint8(r.IntN(150)), data: uint8(r.IntN(200)), sms: uint8(r.IntN(100)),
			arpu: uint8(r.IntN(120)), risk: uint8(r.IntN(100)), plan: uint8(r.IntN(4)), region: uint8(r.IntN(8)), consent: i%3 == 0,
		}
	}
	return out
})

// benchValues are the attribute values, boxed once and shared.
type benchValues struct {
	tenure, voice, data, sms, arpu, risk []any
	plans, levels                        []any
	regions                              []string
}

func newBenchValues() *benchValues {
	box := func(n int, f func(int) float64) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	return &benchValues{
		tenure:  box(121, func(i int) float64 { return float64(i) }),
		voice:   box(150, func(i int) float64 { return float64(i * 8) }),
		data:    box(200, func(i int) float64 { return float64(i * 100) }),
		sms:     box(100, func(i int) float64 { return float64(i * 2) }),
		arpu:    box(120, func(i int) float64 { return 18 + float64(i) }),
		risk:    box(100, func(i int) float64 { return float64(i) / 100 }),
		plans:   []any{"lite-18", "basic-38", "plus-58", "max-88"},
		levels:  []any{"low", "medium", "high", "critical"},
		regions: []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"},
	}
}

// profile fills p (its maps reused) with customer i, as the agent's cache
// would decode a stored profile for a decision.
func (v *benchValues) profile(p *protocol.Profile, i int, c benchCustomer) {
	if p.Attributes == nil {
		p.Attributes, p.Derived = map[string]any{}, map[string]any{}
	}
	p.ID = "C" + strconv.Itoa(i)
	p.Region = v.regions[c.region]
	a := p.Attributes
	a["tenureMonths"], a["voiceMinutes"], a["dataMB"] = v.tenure[c.tenure], v.voice[c.voice], v.data[c.data]
	a["sms"], a["plan"], a["arpu"] = v.sms[c.sms], v.plans[c.plan], v.arpu[c.arpu]
	p.Derived["churnRisk"], p.Derived["churnLevel"] = v.risk[c.risk], v.levels[c.risk/25]
	p.Consents = nil
	if c.consent {
		p.Consents = consentAll
	}
}

var consentAll = map[string]bool{"all": true}

// benchProfileMaps are the same million customers as protocol.Profile
// values with their own maps, resident in the heap (821 MB, 6.7 million
// objects): the collector's marking then weighs on every decision.
var benchProfileMaps = sync.OnceValue(func() []*protocol.Profile {
	v := newBenchValues()
	recs := benchCustomerRecords()
	out := make([]*protocol.Profile, len(recs))
	for i, c := range recs {
		p := &protocol.Profile{}
		v.profile(p, i, c)
		if p.Consents != nil {
			p.Consents = map[string]bool{"all": true}
		}
		out[i] = p
	}
	return out
})

// benchContacts fills a customer's history of about five contacts in the
// last ten days, from the customer's index (deterministic, no allocation).
func benchContacts(buf []Contact, i int, at time.Time, offers []protocol.Offer) []Contact {
	buf = buf[:0]
	h := uint64(i)*0x9e3779b97f4a7c15 + 1
	next := func(n uint64) uint64 { h ^= h >> 29; h *= 0xbf58476d1ce4e5b9; return (h >> 7) % n }
	outcomes := protocol.Outcomes
	for range 3 + next(5) {
		buf = append(buf, Contact{
			Time:    at.Add(-time.Duration(next(240)) * time.Hour),
			Channel: protocol.KnownChannels[next(uint64(len(protocol.KnownChannels)))],
			Type:    protocol.ContactOffer,
			Outcome: outcomes[next(uint64(len(outcomes)))],
			OfferID: offers[next(uint64(len(offers)))].ID,
		})
	}
	return buf
}

// BenchmarkDecide: one decision per op for a random one of 1,000,000
// customers, on a random channel and intent, over benchCatalog, with about
// five contacts of history. Reports the latency of Decide itself (p50,
// p99, timed around each call) and decisions per second of Decide time.
//
// compact: the customers are compact records and each decision's profile
// is filled in from one (as the agent decodes a cached profile per
// request). maps: the million profiles are resident protocol.Profile
// values with their own maps.
func BenchmarkDecide(b *testing.B) {
	cat := benchCatalog()
	e := Compile(cat)
	volume := map[string]int64{}
	for i, o := range cat.Offers {
		volume[o.ID] = int64(i * 7)
	}
	compact := func() func(int) *protocol.Profile {
		recs := benchCustomerRecords()
		v := newBenchValues()
		var p protocol.Profile
		return func(i int) *protocol.Profile {
			v.profile(&p, i, recs[i])
			return &p
		}
	}
	fresh := func(in Input) api.Decision { return e.Decide(in) }
	b.Run("compact", func(b *testing.B) { benchDecide(b, cat, volume, compact(), fresh) })
	b.Run("maps", func(b *testing.B) {
		profiles := benchProfileMaps()
		benchDecide(b, cat, volume, func(i int) *protocol.Profile { return profiles[i] }, fresh)
	})
	// compact-reused: DecideInto with one Decision reused, as a daemon
	// with a pool of answers would decide.
	b.Run("compact-reused", func(b *testing.B) {
		var d api.Decision
		benchDecide(b, cat, volume, compact(), func(in Input) api.Decision {
			e.DecideInto(&d, in)
			return d
		})
	})
}

// threadCPU reads the calling thread's CPU clock
// (CLOCK_THREAD_CPUTIME_ID); 0 where it is not available. Under a
// hypervisor with steal-time accounting (CONFIG_PARAVIRT_TIME_ACCOUNTING,
// as on this project's machines) it leaves out the time the host gave to
// other guests.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func benchDecide(b *testing.B, cat Catalog, volume map[string]int64, profile func(int) *protocol.Profile, decide func(Input) api.Decision) {
	r := rand.New(rand.NewPCG(5, 6))
	channels := []string{"kiosk", "ivr", "terminal", "app"}
	intents := []string{"", "", "cancel", "billing", "upgrade"}
	base := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	var contacts []Contact
	lat := make([]time.Duration, 0, b.N)
	cpu := make([]time.Duration, 0, b.N)
	ranked, supp := 0, 0
	runtime.LockOSThread() // so that the thread's CPU clock is this goroutine's
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ci := r.IntN(benchCustomers)
		at := base.Add(time.Duration(r.IntN(86400)) * time.Second)
		contacts = benchContacts(contacts, ci, at, cat.Offers)
		p := profile(ci)
		in := Input{
			DecisionID: "d", CustomerID: p.ID, Channel: channels[r.IntN(len(channels))], Intent: intents[r.IntN(len(intents))],
			Now: at, Profile: p, Contacts: contacts, OfferVolume: volume,
		}
		c0 := threadCPU()
		start := time.Now()
		d := decide(in)
		lat = append(lat, time.Since(start))
		cpu = append(cpu, threadCPU()-c0)
		ranked += len(d.Offers)
		supp += len(d.Suppressed)
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(cpu)
	var total time.Duration
	for _, l := range lat {
		total += l
	}
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(lat, 0.50), "p50-µs")
	b.ReportMetric(pct(lat, 0.99), "p99-µs")
	// The same on the thread's CPU clock: what the decision cost, without
	// the time other processes held the core (the machine is shared).
	b.ReportMetric(pct(cpu, 0.50), "cpu-p50-µs")
	b.ReportMetric(pct(cpu, 0.99), "cpu-p99-µs")
	b.ReportMetric(float64(len(lat))/total.Seconds(), "decisions/s")
	b.ReportMetric(float64(ranked)/float64(b.N), "ranked/op")
	b.ReportMetric(float64(supp)/float64(b.N), "suppressed/op")
}
