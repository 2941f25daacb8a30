package decide

import (
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// Each rule kind has its own code; a missing attribute makes a rule false
// with a reason naming it; an error at runtime or on the agent's compile
// gives rule_error, for that offer only.
func TestDecide_Rules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offer  func(*protocol.Offer)
		ctx    map[string]any
		intent string
		want   string
		reason string
	}{
		{name: "eligibility true", offer: func(o *protocol.Offer) { o.Eligibility = "profile.tenureMonths >= 6" }, want: "ranked"},
		{name: "eligibility false", offer: func(o *protocol.Offer) { o.Eligibility = "profile.tenureMonths >= 24" }, want: "not_eligible",
			reason: `eligibility rule "profile.tenureMonths >= 24" is false`},
		{name: "applicability false", offer: func(o *protocol.Offer) { o.Applicability = `context.channel == "ivr"` }, want: "not_applicable",
			reason: `applicability rule "context.channel == \"ivr\"" is false`},
		{name: "applicability sees the intent", intent: "cancel", offer: func(o *protocol.Offer) { o.Applicability = `context.intent == "cancel"` }, want: "ranked"},
		{name: "suitability false", offer: func(o *protocol.Offer) { o.Suitability = "profile.dataMB > 10000" }, want: "not_suitable",
			reason: `suitability rule "profile.dataMB > 10000" is false`},
		{name: "rules run in order: eligibility first", offer: func(o *protocol.Offer) {
			o.Eligibility, o.Suitability = "false", "false"
		}, want: "not_eligible"},
		{name: "a missing attribute makes the rule false and says which", offer: func(o *protocol.Offer) { o.Eligibility = "profile.churnRisk >= 0.7" },
			want: "not_eligible", reason: "reads profile.churnRisk, which the customer's profile does not have"},
		{name: "a missing attribute is false even where nil would pass", offer: func(o *protocol.Offer) { o.Eligibility = `profile.gender != "f"` },
			want: "not_eligible", reason: "reads profile.gender"},
		{name: "a rule may handle a missing attribute with ??", offer: func(o *protocol.Offer) { o.Eligibility = "(profile.churnRisk ?? 0) < 0.5" }, want: "ranked"},
		{name: "a rule may test a missing attribute against nil", offer: func(o *protocol.Offer) { o.Eligibility = "profile.churnRisk == nil" }, want: "ranked"},
		{name: "a missing context key makes the rule false", offer: func(o *protocol.Offer) { o.Applicability = `context.store == "sh-01"` },
			want: "not_applicable", reason: "reads context.store, which the request's context does not have"},
		{name: "a context key set to null is missing", ctx: map[string]any{"store": nil}, offer: func(o *protocol.Offer) { o.Applicability = `context.store == "sh-01"` },
			want: "not_applicable", reason: "reads context.store"},
		{name: "context keys are seen", ctx: map[string]any{"store": "sh-01"}, offer: func(o *protocol.Offer) { o.Applicability = `context.store == "sh-01"` }, want: "ranked"},
		{name: "derived fields win over attributes", offer: func(o *protocol.Offer) { o.Eligibility = `profile.tier == "gold"` }, want: "ranked"},
		{name: "the profile's id, region and doNotDisturb are seen", offer: func(o *protocol.Offer) {
			o.Eligibility = `profile.id == "C1" && profile.region == "sh" && !profile.doNotDisturb`
		}, want: "ranked"},
		{name: "now is the decision time", offer: func(o *protocol.Offer) { o.Applicability = "now.Year() == 2026 && now.Day() == 1" }, want: "ranked"},
		{name: "an error at runtime is rule_error with the error", offer: func(o *protocol.Offer) { o.Eligibility = "profile.plan.foo > 1" },
			want: "rule_error", reason: `eligibility rule "profile.plan.foo > 1" failed: `},
		{name: "a string compared with a number is rule_error", offer: func(o *protocol.Offer) { o.Eligibility = "profile.plan > 3" }, want: "rule_error"},
		{name: "a rule the agent cannot compile is rule_error", offer: func(o *protocol.Offer) { o.Eligibility = "profile.tenureMonths >=" },
			want: "rule_error", reason: "does not compile on the agent"},
		{name: "a rule that is not boolean is rule_error", offer: func(o *protocol.Offer) { o.Eligibility = "1 + 2" }, want: "rule_error"},
		{name: "integer division by zero is rule_error", offer: func(o *protocol.Offer) { o.Eligibility = "profile.tenureMonths % 0 == 1" }, want: "rule_error"},
		{name: "float division by zero is just infinity", offer: func(o *protocol.Offer) { o.Eligibility = "profile.tenureMonths / 0 > 1" }, want: "ranked"},
		{name: "now() is not available: now is a value", offer: func(o *protocol.Offer) { o.Eligibility = "now() > now" }, want: "rule_error"},
		{name: "a constant time zone is loaded at compile", offer: func(o *protocol.Offer) {
			o.Applicability = `now.In(timezone("Asia/Shanghai")).Hour() == 14`
		}, want: "ranked"},
		{name: "date with a constant zone", offer: func(o *protocol.Offer) {
			o.Applicability = `now > date("2026-12-01 13:59", "2006-01-02 15:04", "Asia/Shanghai")`
		}, want: "ranked"},
		{name: "date without a zone still works", offer: func(o *protocol.Offer) { o.Applicability = `now > date("2026-11-30")` }, want: "ranked"},
		{name: "a time zone named at decision time is refused", offer: func(o *protocol.Offer) { o.Applicability = `now.In(timezone(profile.plan)).Hour() > 0` },
			want: "rule_error", reason: "constant"},
		{name: "an unknown time zone is refused", offer: func(o *protocol.Offer) { o.Applicability = `now.In(timezone("Mars/Olympus")).Hour() > 0` },
			want: "rule_error", reason: "Mars/Olympus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := offer("o", protocol.CategoryRetention, 10)
			tc.offer(&o)
			other := offer("other", protocol.CategoryCare, 1) // never affected by o's rule
			e := Compile(Catalog{Offers: []protocol.Offer{o, other}, Campaigns: []protocol.Campaign{campaign("k", "o", "other")}})
			p := &protocol.Profile{ID: "C1", Region: "sh",
				Attributes: map[string]any{"tenureMonths": 12.0, "dataMB": 5120.0, "plan": "basic-38", "tier": "silver"},
				Derived:    map[string]any{"tier": "gold"}}
			in := input(p, "kiosk")
			in.Context, in.Intent = tc.ctx, tc.intent
			d := e.Decide(in)
			if got := verdict(t, d, "o"); got != tc.want {
				t.Fatalf("got %s, want %s: %s", got, tc.want, dump(d))
			}
			if verdict(t, d, "other") != "ranked" {
				t.Fatalf("another offer was affected: %s", dump(d))
			}
			if tc.reason != "" {
				if s := suppressed(t, d, "o"); !strings.Contains(s.Reason, tc.reason) {
					t.Fatalf("reason %q does not say %q", s.Reason, tc.reason)
				}
			}
		})
	}
}

// Rules that would hang or exhaust an agent are stopped by the sandbox
// and filter only their offer.
func TestDecide_HostileRulesAreStopped(t *testing.T) {
	arr := "[" + strings.TrimSuffix(strings.Repeat("1,", 100), ",") + "]"
	for _, tc := range []struct {
		name, rule, reason string
	}{
		{"nested loops over constant arrays", "all(" + arr + ", all(" + arr + ", all(" + arr + ", all(" + arr + ", # > 0))))", "loop iterations"},
		{"a reduce that doubles a string", `reduce(1..40, #acc + #acc, "ab") != ""`, "longer than"},
		{"let bindings that double a string", `let a = "xxxxxxxxxxxxxxxx"; let b = a+a; let c = b+b; let d = c+c; let f = d+d; let g = f+f; let h = g+g; let i = h+h; let j = i+i; let k = j+j; let l = k+k; len(l+l) > 0`, "longer than"},
		{"repeat of a long string", `len(repeat(repeat("abcdefgh", 1000), 1000)) > 0`, "longer than"},
		{"replace of every character", `len(replace(repeat("a", 10000), "", repeat("b", 10000))) > 0`, "longer than"},
		{"join of many copies", `len(join(map(1..5000, "abcdefghij"), "--")) > 0`, "longer than"},
		{"a huge range", `len(1..100000000) > 0`, "memory budget"},
		{"a map over a big range", `len(map(1..50000, #)) > 0`, "loop iterations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := offer("o", protocol.CategoryRetention, 10)
			o.Eligibility = tc.rule
			e := Compile(Catalog{Offers: []protocol.Offer{o, offer("other", protocol.CategoryCare, 1)}, Campaigns: []protocol.Campaign{campaign("k", "o", "other")}})
			start := time.Now()
			d := e.Decide(input(profileC1(), "kiosk"))
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the decision took %v", took)
			}
			s := suppressed(t, d, "o")
			if s.Code != "rule_error" || !strings.Contains(s.Reason, tc.reason) {
				t.Fatalf("got %+v, want rule_error saying %q", s, tc.reason)
			}
			if verdict(t, d, "other") != "ranked" {
				t.Fatalf("another offer was affected: %s", dump(d))
			}
		})
	}
}

// The sandbox keeps what ordinary rules do: closures, string building,
// arithmetic and time work as on the control plane.
func TestCompileRule_OrdinaryRulesBehaveAsOnTheControlPlane(t *testing.T) {
	for _, tc := range []struct {
		rule string
		want bool
	}{
		{`profile.arpu > 50 and profile.plan in ["basic-38", "plus-58"]`, true},
		{`context.intent == "cancel" || profile.churnRisk >= 0.7`, true},
		{`len(profile.plan) > 0`, true},
		{`profile.plan + "-x" == "basic-38-x"`, true},
		{`"a" + "b" == "ab"`, true},
		{`1 + 2 == 3`, true},
		{`profile.arpu + 1 > 60`, true},
		{`now + duration("1h") > now`, true},
		{`all([1, 2, 3], # > 0) and any(["a", "b"], # == "b")`, true},
		{`sum(map([1, 2, 3], # * 2)) == 12`, true},
		{`count(1..10, # % 2 == 0) == 5`, true},
		{`filter([1, 2, 3], # > 1)[0] == 2`, true},
		{`reduce(1..4, #acc + #, 0) == 10`, true},
		{`len(repeat("ab", 3)) == 6 && replace("a-b", "-", "") == "ab" && join(["a", "b"], ",") == "a,b"`, true},
		{`upper(trim(" x ")) == "X"`, true},
		{`date("2026-01-01") < now`, true},
		{`now.Hour() == 6`, true},
		{`profile.plan matches "^basic"`, true},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			e, r := engineFor(tc.rule)
			if r.err != nil {
				t.Fatalf("compile: %v", r.err)
			}
			s := e.newScratch()
			p := &protocol.Profile{ID: "C1", Attributes: map[string]any{"arpu": 60.0, "plan": "basic-38", "churnRisk": 0.8}}
			in := Input{Now: now, Profile: p, Intent: "cancel"}
			s.begin(e, &in, p)
			res := e.eval(s, r)
			if res.err != nil || (res.state == stTrue) != tc.want {
				t.Fatalf("state %d, error %v", res.state, res.err)
			}
		})
	}
}

func TestReadsOf_GuardedAttributesAreNotRequired(t *testing.T) {
	for _, tc := range []struct {
		rule string
		want string
	}{
		{"profile.a > 1", "profile.a"},
		{`profile["a"] > 1 && context.b == 2`, "profile.a context.b"},
		{"profile.a ?? 1 > 0", ""},
		{"profile.a == nil || profile.a > 1", ""},
		{"nil != profile.a && profile.a > 1", ""},
		{"profile?.a > 1", ""},
		{"profile.a?.b > 1", ""},
		{"profile.a.b > 1 && profile.a.b < 3", "profile.a"},
		{"profile[context.k] > 1", "context.k"},
		{"len(profile) > 1", ""},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			var got []string
			needs, _ := readsOf(tc.rule)
			for _, n := range needs {
				if n.context {
					got = append(got, "context."+n.key)
				} else {
					got = append(got, "profile."+n.key)
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Fatalf("got %q, want %q", g, tc.want)
			}
		})
	}
}
