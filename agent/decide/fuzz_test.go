package decide

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// hostileRules seed the fuzz targets: huge, deeply nested, wrong types,
// division by zero, string times number, loops and string bombs.
var hostileRules = []string{
	"profile.tenureMonths >= 6",
	`profile.arpu > 50 and profile.plan in ["basic-38", "plus-58"]`,
	"profile.plan.foo > 1",
	`"a" * 3 == "aaa"`,
	"profile.plan * 2 > 1",
	"1 / 0 > 1",
	"profile.tenureMonths % 0 == 0",
	"1 % 0 == 0",
	strings.Repeat("(", 2000) + "true" + strings.Repeat(")", 2000),
	strings.Repeat("!", 3000) + "true",
	strings.Repeat("profile.a > 1 && ", 300) + "true",
	`profile.x ?? 1 > 0`,
	`all(1..100, all(1..100, all(1..100, # > 0)))`,
	`reduce(1..64, #acc + #acc, "x") != ""`,
	`len(repeat("ab", 100000000)) > 0`,
	`len(replace(repeat("a", 5000), "", repeat("b", 5000))) > 0`,
	`len(1..1000000000) > 0`,
	`now.In(timezone(profile.plan)).Hour() > 1`,
	`date(profile.plan) < now`,
	`fromJSON(profile.plan) != nil`,
	`sortBy(map(1..5000, {"a": #}), .a)[0].a > 0`,
	`profile["ten" + "ure"] > 1`,
	`let x = profile; x.tenureMonths > 1`,
	`$env.profile.tenureMonths > 1`,
	`__step(__budget, true)`,
	`now()`,
	`profile.plan < "c" || profile.tenureMonths == 12 && !(profile.tenureMonths != 12.0)`,
	`profile.plan not in ["basic-38"] or -1 < profile.tenureMonths`,
	`profile.tenureMonths in ["12"]`,
	`profile.plan == true`,
	`context.n >= 1e308`,
	"",
	"\xff\xfe",
}

// FuzzCompileRule: any rule text compiles or is refused without a panic,
// and a compiled rule evaluates — to true, false, missing or an error —
// quickly, on any profile.
func FuzzCompileRule(f *testing.F) {
	for _, r := range hostileRules {
		f.Add(r, "basic-38", 12.0)
	}
	f.Fuzz(func(t *testing.T, src, plan string, tenure float64) {
		r, err := compileRule(src, zoneCache{})
		if err != nil {
			if r == nil || r.err == nil || r.prog != nil {
				t.Fatalf("a refused rule must carry its error: %+v", r)
			}
			return
		}
		e, r := engineFor(src)
		s := e.newScratch()
		p := &protocol.Profile{ID: "C1", Attributes: map[string]any{"plan": plan, "tenureMonths": tenure, "tags": "a,b"}}
		in := Input{Now: now, Profile: p, Intent: "cancel", Context: map[string]any{"list": []any{1.0, "x"}}}
		s.begin(e, &in, p)
		start := time.Now()
		res := e.eval(s, r)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("rule %q took %v", src, took)
		}
		if res.state == stUnknown || (res.state == stError) != (res.err != nil) {
			t.Fatalf("result %+v", res)
		}
		agreeWithVM(t, s, r)
	})
}

// engineFor is an engine holding just the rule src.
func engineFor(src string) (*Engine, *rule) {
	e := &Engine{}
	r := e.addRule(src, zoneCache{})
	return e, r
}

// agreeWithVM fails when the fast path answers a rule differently from
// expr's program.
func agreeWithVM(t *testing.T, s *scratch, r *rule) {
	t.Helper()
	if r.fast == nil {
		return
	}
	for _, i := range r.needIdx {
		if s.vals[i] == nil {
			return // the rule is false before either runs
		}
	}
	fast, ok := r.fast(s)
	if !ok {
		return
	}
	s.budget.steps = 0
	out, err := s.run(r.prog)
	if b, isBool := out.(bool); err != nil || !isBool || b != fast {
		t.Fatalf("rule %q: fast path says %v, the program %v (%v)", r.src, fast, out, err)
	}
}

// FuzzDecide: a catalogue with hostile rules, and any profile values,
// intent and history, never makes Decide panic or hang; the answer encodes
// as JSON and names every offer exactly once.
func FuzzDecide(f *testing.F) {
	for i, r := range hostileRules {
		f.Add(r, hostileRules[(i+1)%len(hostileRules)], "basic-38", 12.0, 30.0, "cancel", "kiosk", int64(i)*3600, uint8(i))
	}
	f.Fuzz(func(t *testing.T, rule, segment, plan string, tenure, pct float64, intent, channel string, ago int64, flags uint8) {
		c := tariffCatalog()
		c.Offers = append(c.Offers, readmeCatalog().Offers...)
		c.Offers[2].Eligibility = rule
		c.Offers[2].Applicability = segment
		c.Offers[1].Suitability = rule
		c.Offers[0].Transactional = flags&1 != 0
		c.Offers[2].Suppression = &protocol.Suppression{Declines: 1 + int(flags&3), Days: 30, PauseDays: 1 + int(flags>>4)}
		c.Offers[2].VolumeCap = int64(flags)
		k := readmeCatalog().Campaigns[0]
		k.Segment, k.ControlGroupPercent, k.BusinessWeight = segment, pct, tenure
		c.Campaigns = append(c.Campaigns, k)
		c.Campaigns[0].ControlGroupPercent = 100 - pct
		c.Policies = readmeCatalog().Policies
		quiet := policy("q", channel, int(flags>>2), "1h")
		quiet.QuietHours = &protocol.QuietHours{Start: "21:00", End: plan}
		quiet.RequireConsent = flags&2 != 0
		c.Policies = append(c.Policies, quiet)
		c.Plans[0].MonthlyFee = tenure
		if flags&8 != 0 {
			// A live churn score over the fuzzed profile (its complaints
			// attribute is the fuzzed tenure, NaN and ±Inf included).
			c.Churn = complaintsModel()
		}

		e := Compile(c)
		p := &protocol.Profile{ID: "C1", DoNotDisturb: flags&128 != 0, Consents: map[string]bool{channel: flags&64 != 0},
			Attributes: map[string]any{"plan": plan, "tenureMonths": tenure, "voiceMinutes": tenure * 10, "dataMB": -tenure, "arpu": pct, "complaints": tenure},
			Derived:    map[string]any{"churnLevel": intent, "churnRisk": pct / 100}}
		in := Input{DecisionID: "d", CustomerID: plan, Channel: channel, Intent: intent, Now: now, Profile: p,
			Context:      map[string]any{"store": plan, "n": tenure},
			Contacts:     []Contact{contact(now.Add(-time.Duration(ago)), channel, "declined", "retain-10"), contact(now.Add(time.Duration(ago)), "ivr", plan, "retain-10")},
			OfferVolume:  map[string]int64{"retain-10": ago},
			Propensities: map[string]float64{"move-plus-58": tenure},
		}
		start := time.Now()
		d := e.Decide(in)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("decision took %v", took)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("the decision does not encode: %v", err)
		}
		if c.Churn != nil && (d.ChurnRisk == nil || !(*d.ChurnRisk >= 0 && *d.ChurnRisk <= 1) || d.ChurnModel != "churn-main") {
			t.Fatalf("with a churn model: risk %v model %q", d.ChurnRisk, d.ChurnModel)
		}
		seen := map[string]int{}
		for _, o := range d.Offers {
			seen[o.OfferID]++
			if math.IsNaN(o.Score) || o.Rank < 1 {
				t.Fatalf("offer %+v", o)
			}
		}
		for _, s := range d.Suppressed {
			seen[s.OfferID]++
			if s.Code == "" || s.Reason == "" {
				t.Fatalf("suppressed without a code or reason: %+v", s)
			}
		}
		held := map[string]bool{}
		for _, h := range d.Holdout {
			for _, id := range h.OfferIDs {
				held[id] = true
			}
		}
		for _, o := range c.Offers {
			if n := seen[o.ID]; n > 1 || (n == 0) != held[o.ID] {
				t.Fatalf("offer %s appears %d times (held out: %v): %s", o.ID, n, held[o.ID], dump(d))
			}
		}
	})
}
