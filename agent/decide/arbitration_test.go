package decide

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// score = propensity × value × contextWeight × leverWeight, every factor in
// the answer, ranked by score then offer id.
func TestDecide_Arbitration(t *testing.T) {
	retain := offer("retain", protocol.CategoryRetention, 60) // prior 0.1
	care := offer("care", protocol.CategoryCare, 20)
	care.Propensity = 0.5
	upsell := offer("upsell", protocol.CategoryUpsell, 30)
	upsell.LeverWeight, upsell.Propensity = 2, 0.5
	tie := offer("a-tie", protocol.CategoryUpsell, 60) // 0.5 × 60 × 1 = upsell's 0.5 × 30 × 2, exactly
	tie.Propensity = 0.5
	camp := campaign("k", "retain", "care", "upsell", "a-tie")
	camp.BusinessWeight = 1.5
	cat := Catalog{Offers: []protocol.Offer{retain, care, upsell, tie}, Campaigns: []protocol.Campaign{camp}}

	for _, tc := range []struct {
		name         string
		intent       string
		level        string
		propensities map[string]float64
		opts         []Option
		// per offer: context weight (before the campaign's 1.5)
		want  map[string]float64
		order string
		why   map[string]string
	}{
		{name: "no intent", want: map[string]float64{"retain": 1, "care": 1, "upsell": 1, "a-tie": 1},
			// a-tie and upsell 0.5×60×1.5 = 0.5×30×1.5×2 = 45 (a tie: by id), care 0.5×20×1.5 = 15, retain 0.1×60×1.5 = 9
			order: "a-tie upsell care retain",
			why:   map[string]string{"upsell": "lever ×2", "retain": "retention offer worth 60.00 yuan, propensity 0.1 (prior)", "care": "×1.5 for campaign k"}},
		// retain 0.1×60×1.5×3 = 27, care 0.5×20×1.5×1.5 = 22.5
		{name: "intent cancel weighs retention ×3 and care ×1.5", intent: "cancel", want: map[string]float64{"retain": 3, "care": 1.5, "upsell": 1, "a-tie": 1},
			order: "a-tie upsell retain care", why: map[string]string{"retain": `×3 for intent "cancel"`}},
		// retain 0.1×60×1.5×3×2 = 54
		{name: "intent and churn level multiply", intent: "cancel", level: "critical", want: map[string]float64{"retain": 6, "care": 1.5, "upsell": 1, "a-tie": 1},
			order: "retain a-tie upsell care"},
		{name: "intent billing weighs care ×1.5", intent: "billing", want: map[string]float64{"retain": 1, "care": 1.5, "upsell": 1, "a-tie": 1}},
		{name: "intent upgrade weighs upsell ×2", intent: "upgrade", want: map[string]float64{"retain": 1, "care": 1, "upsell": 2, "a-tie": 2}},
		{name: "churn level critical weighs retention ×2", level: "critical", want: map[string]float64{"retain": 2, "care": 1, "upsell": 1, "a-tie": 1},
			why: map[string]string{"retain": `×2 for churn level "critical"`}},
		{name: "churn level high weighs retention ×1.5", level: "high", want: map[string]float64{"retain": 1.5, "care": 1, "upsell": 1, "a-tie": 1}},
		{name: "an unknown intent weighs 1", intent: "chat", want: map[string]float64{"retain": 1, "care": 1, "upsell": 1, "a-tie": 1}},
		{name: "weights can be replaced", intent: "cancel", opts: []Option{WithWeights(Weights{Intent: map[string]map[string]float64{"cancel": {"upsell": 4}}})},
			want: map[string]float64{"retain": 1, "care": 1, "upsell": 4, "a-tie": 4}},
		{name: "a learned propensity replaces the prior", propensities: map[string]float64{"retain": 0.9, "care": 7, "upsell": math.NaN()},
			want: map[string]float64{"retain": 1, "care": 1, "upsell": 1, "a-tie": 1}, why: map[string]string{"retain": "propensity 0.9 (model)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := profileC1()
			if tc.level != "" {
				p.Derived = map[string]any{"churnLevel": tc.level}
			}
			in := input(p, "kiosk")
			in.Intent, in.Propensities = tc.intent, tc.propensities
			d := Compile(cat, tc.opts...).Decide(in)
			if len(d.Offers) != 4 {
				t.Fatalf("offers: %s", dump(d))
			}
			for i, o := range d.Offers {
				src := map[string]protocol.Offer{"retain": retain, "care": care, "upsell": upsell, "a-tie": tie}[o.OfferID]
				prop := src.EffectivePropensity()
				if v, ok := tc.propensities[o.OfferID]; ok && !math.IsNaN(v) {
					prop = math.Min(v, 1)
				}
				ctx := 1.5 * tc.want[o.OfferID]
				lever := src.EffectiveLeverWeight()
				if o.Rank != i+1 || !near(o.Propensity, prop) || o.Value != src.Value || !near(o.ContextWeight, ctx) ||
					o.LeverWeight != lever || !near(o.Weight, ctx*lever) || !near(o.Score, prop*src.Value*ctx*lever) {
					t.Errorf("%s: %+v; want propensity %v, context %v, lever %v", o.OfferID, o, prop, ctx, lever)
				}
				if i > 0 {
					prev := d.Offers[i-1]
					if prev.Score < o.Score || (prev.Score == o.Score && prev.OfferID > o.OfferID) {
						t.Errorf("rank %d (%s %v) before %s %v", i, prev.OfferID, prev.Score, o.OfferID, o.Score)
					}
				}
				if w, ok := tc.why[o.OfferID]; ok && !strings.Contains(o.Reason, w) {
					t.Errorf("%s: reason %q does not say %q", o.OfferID, o.Reason, w)
				}
			}
			if a, u := ranked(t, d, "a-tie"), ranked(t, d, "upsell"); a.Score != u.Score || a.Rank != u.Rank-1 {
				t.Errorf("tied offers: a-tie %v rank %d, upsell %v rank %d", a.Score, a.Rank, u.Score, u.Rank)
			}
			if tc.order != "" {
				var got []string
				for _, o := range d.Offers {
					got = append(got, o.OfferID)
				}
				if g := strings.Join(got, " "); g != tc.order {
					t.Errorf("order %q, want %q", g, tc.order)
				}
			}
		})
	}
}

// The same input gives the same decision: no clock, no randomness, and
// the engine keeps no state between decisions.
func TestDecide_IsDeterministic(t *testing.T) {
	c := readmeCatalog()
	c.Offers = append(c.Offers, offer("boost", protocol.CategoryUpsell, 30))
	c.Campaigns = append(c.Campaigns, campaign("half", "boost"))
	c.Campaigns[1].ControlGroupPercent = 50
	e := Compile(c)
	in := input(profileC1(), "kiosk")
	in.Contacts = []Contact{contact(now.Add(-1), "ivr", "presented", "retain-10")}
	first := dump(e.Decide(in))
	for range 50 {
		_ = e.Decide(input(profileC2(), "ivr"))
		if got := dump(e.Decide(in)); got != first {
			t.Fatalf("decisions differ:\n%s\n%s", first, got)
		}
	}
	if e.Index() != 7 {
		t.Fatalf("index %d", e.Index())
	}
}

// Decide reads its input and changes none of it.
func TestDecide_DoesNotChangeItsInput(t *testing.T) {
	e := Compile(readmeCatalog())
	p := profileC1()
	in := input(p, "kiosk")
	in.Context = map[string]any{"store": "sh-01"}
	in.Contacts = []Contact{contact(now, "ivr", "presented", "x"), contact(now.Add(-1), "kiosk", "presented", "y")}
	before := dump(e.Decide(in))
	if len(in.Context) != 1 || len(p.Attributes) != 4 || p.Derived != nil || in.Contacts[0].Channel != "ivr" {
		t.Fatalf("input changed: %+v %+v", in.Context, p)
	}
	if dump(e.Decide(in)) != before {
		t.Fatal("second decision differs")
	}
}

// Decisions made at the same time on one engine are the decisions made
// one after the other.
func TestDecide_ConcurrentDecisionsAgree(t *testing.T) {
	cat := benchCatalog()
	e := Compile(cat)
	v := newBenchValues()
	inputFor := func(i int) Input {
		p := &protocol.Profile{}
		v.profile(p, i, benchCustomer{tenure: uint8(i % 121), voice: uint8(i % 150), data: uint8(i * 7 % 200), sms: uint8(i % 100),
			arpu: uint8(i * 3 % 120), risk: uint8(i * 13 % 100), plan: uint8(i % 4), region: uint8(i % 8), consent: i%3 == 0})
		return Input{CustomerID: p.ID, Channel: protocol.KnownChannels[i%4], Intent: []string{"", "cancel", "billing"}[i%3], Now: now.Add(time.Duration(i) * time.Minute),
			Profile: p, Contacts: benchContacts(nil, i, now, cat.Offers)}
	}
	const n = 40
	want := make([]string, n)
	for i := range n {
		want[i] = dump(e.Decide(inputFor(i)))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				j := (i + g*10) % n
				if got := dump(e.Decide(inputFor(j))); got != want[j] {
					t.Errorf("customer %d decided differently when concurrent", j)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// A Decision reused by DecideInto holds exactly what a fresh one would.
func TestDecideInto_ReusedDecisionEqualsAFreshOne(t *testing.T) {
	c := benchCatalog()
	c.Campaigns[2].ControlGroupPercent = 100 // some holdouts
	e := Compile(c)
	v := newBenchValues()
	var reused api.Decision
	for i := range 60 {
		p := &protocol.Profile{}
		v.profile(p, i, benchCustomer{tenure: uint8(i * 5 % 121), voice: uint8(i % 150), data: uint8(i * 7 % 200), sms: uint8(i % 100),
			arpu: uint8(i * 3 % 120), risk: uint8(i * 13 % 100), plan: uint8(i % 4), region: uint8(i % 8)})
		if i%7 == 0 {
			p.Attributes = map[string]any{} // no current bill, no churn risk
			p.Derived = nil
		}
		in := Input{CustomerID: p.ID, Channel: protocol.KnownChannels[i%6], Intent: []string{"", "cancel", "billing"}[i%3],
			Now: now.Add(time.Duration(i) * 37 * time.Minute), Profile: p, Contacts: benchContacts(nil, i, now, c.Offers)}
		e.DecideInto(&reused, in)
		if got, want := dump(reused), dump(e.Decide(in)); got != want {
			t.Fatalf("decision %d differs when reused:\n%s\nwant\n%s", i, got, want)
		}
	}
	empty := Compile(Catalog{}).Decide(input(profileC1(), "kiosk"))
	if b, _ := json.Marshal(empty); !strings.Contains(string(b), `"offers":[],"suppressed":[],"holdout":[]`) {
		t.Fatalf("empty decision: %s", b)
	}
}

// sortKeys switches from insertion to a branchless merge above mergeAbove
// candidates: both must rank exactly as rankKey.before orders, whatever
// the size, ties in score and the order the keys come in.
func TestSortKeys_RanksAsBeforeAtEverySize(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var tmp []rankKey
	for n := range 3*mergeAbove + 7 {
		for _, shape := range []string{"random", "ties", "ascending", "descending"} {
			keys := make([]rankKey, n)
			for i := range keys {
				keys[i] = rankKey{score: r.Float64() * r.Float64() * 40, offer: int32(i * 3), cand: int32(i)}
				switch {
				case shape == "ties":
					keys[i].score = float64(r.IntN(4))
				case shape == "ascending":
					keys[i].score = float64(i)
				case shape == "descending":
					keys[i].score = float64(n - i)
				}
			}
			if shape == "random" || shape == "ties" {
				r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			}
			want := slices.Clone(keys)
			slices.SortFunc(want, func(a, b rankKey) int {
				if a.before(b) {
					return -1
				}
				return 1
			})
			tmp = sortKeys(keys, tmp)
			if !slices.Equal(keys, want) {
				t.Fatalf("%d keys, %s: ranked\n%v\nwant\n%v", n, shape, keys, want)
			}
		}
	}
}

// A product of factors is answered as a person would write it: a campaign
// weight of 1.2 and a lever of 3 make a weight of 3.6 and a score of 18,
// not 3.5999999999999996 and 17.999999999999996.
func TestDecide_ProductsCarryNoFloatNoise(t *testing.T) {
	o := offer("x", protocol.CategoryUpsell, 10)
	o.LeverWeight, o.Propensity = 3, 0.5
	c := campaign("k", "x")
	c.BusinessWeight = 1.2
	if w := c.BusinessWeight * o.LeverWeight; w == 3.6 {
		t.Fatal("the test needs a product with float noise")
	}
	d := Compile(Catalog{Offers: []protocol.Offer{o}, Campaigns: []protocol.Campaign{c}}).Decide(input(profileC1(), "kiosk"))
	r := ranked(t, d, "x")
	raw, _ := json.Marshal(r)
	if r.Weight != 3.6 || r.Score != 18 || !strings.Contains(string(raw), `"weight":3.6,`) {
		t.Fatalf("%s", raw)
	}
}
