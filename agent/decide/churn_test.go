package decide

import (
	"math"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/churnmodel"
	"touchpoint.dev/touchpoint/protocol/churnmodel/churnmodeltest"
)

// complaintsModel is a logistic churn model on one feature: no complaints
// scores about 0.03 (low), four complaints about 0.92 (critical).
func complaintsModel() *ChurnModel {
	return &ChurnModel{ID: "churn-main", Version: 2, Model: &churnmodel.Model{
		Kind: churnmodel.KindLogistic, BaseScore: -2, Coefficients: []float64{1.5},
		Features: []churnmodel.Feature{{Name: "complaints", Kind: churnmodel.FeatureNumeric, Mean: 1, Std: 1, Median: 0}},
	}}
}

// retentionOrUpsell: a 60-yuan retention offer against a 200-yuan upsell.
// With intent cancel (retention ×3) the upsell still wins (20 > 18) unless
// the customer's churn level is critical (retention ×2 more: 36 > 20).
func retentionOrUpsell(model *ChurnModel) Catalog {
	return Catalog{
		Offers:    []protocol.Offer{offer("retain-10", protocol.CategoryRetention, 60), offer("data-plus", protocol.CategoryUpsell, 200)},
		Campaigns: []protocol.Campaign{campaign("k", "retain-10", "data-plus")},
		Churn:     model,
	}
}

func TestDecide_LiveChurnScoreLeadsWithRetentionForCriticalRisk(t *testing.T) {
	// The profile's derived fields say low risk: the live score overrides
	// them when a model is active.
	hot := &protocol.Profile{ID: "C7", Attributes: map[string]any{"complaints": 4.0}, Derived: map[string]any{"churnRisk": 0.01, "churnLevel": "low"}}
	calm := &protocol.Profile{ID: "C8", Attributes: map[string]any{"complaints": 0.0}}
	cancel := func(p *protocol.Profile) Input { in := input(p, "ivr"); in.Intent = "cancel"; return in }

	withModel := Compile(retentionOrUpsell(complaintsModel()))
	d := withModel.Decide(cancel(hot))
	want := churnmodel.Sigmoid(-2 + 1.5*3)
	if d.ChurnRisk == nil || math.Abs(*d.ChurnRisk-want) > 1e-12 || d.ChurnLevel != "critical" || d.ChurnModel != "churn-main" || d.ChurnModelVersion != 2 {
		t.Fatalf("churn %v %q model %q v%d: want %.3f critical from churn-main v2: %s", d.ChurnRisk, d.ChurnLevel, d.ChurnModel, d.ChurnModelVersion, want, dump(d))
	}
	if len(d.Offers) != 2 || d.Offers[0].OfferID != "retain-10" || d.Offers[0].ContextWeight != 6 {
		t.Fatalf("critical risk calling to cancel: want retain-10 first with context weight 3 × 2: %s", dump(d))
	}
	d = withModel.Decide(cancel(calm))
	if d.ChurnLevel != "low" || d.Offers[0].OfferID != "data-plus" {
		t.Fatalf("low risk calling to cancel: want data-plus first, level low: %s", dump(d))
	}
	// Without a model, the hot customer's stale derived level stands, and
	// the upsell wins: the live score made the difference.
	d = Compile(retentionOrUpsell(nil)).Decide(cancel(hot))
	if d.ChurnLevel != "low" || *d.ChurnRisk != 0.01 || d.ChurnModel != "" || d.Offers[0].OfferID != "data-plus" {
		t.Fatalf("no model: want the derived low risk and data-plus first: %s", dump(d))
	}
}

func TestDecide_RulesSeeTheLiveChurnLevel(t *testing.T) {
	o := offer("save-desk", protocol.CategoryRetention, 100)
	o.Eligibility = `profile.churnLevel == "critical" && profile.churnRisk > 0.9`
	cat := oneOffer(o)
	cat.Churn = complaintsModel()
	e := Compile(cat)
	hot := &protocol.Profile{ID: "C7", Attributes: map[string]any{"complaints": 4.0}, Derived: map[string]any{"churnLevel": "low"}}
	if v := verdict(t, e.Decide(input(hot, "kiosk")), "save-desk"); v != "ranked" {
		t.Errorf("critical customer: %s, want ranked", v)
	}
	calm := &protocol.Profile{ID: "C8", Attributes: map[string]any{"complaints": 0.0}, Derived: map[string]any{"churnLevel": "critical", "churnRisk": 0.99}}
	if v := verdict(t, e.Decide(input(calm, "kiosk")), "save-desk"); v != "not_eligible" {
		t.Errorf("low-risk customer with a stale critical level: %s, want not_eligible", v)
	}
	// Too few of the model's features: the customer is not scored, and
	// the level the control plane derived (if any) stands.
	d := e.Decide(input(&protocol.Profile{ID: "C9", Derived: map[string]any{"churnLevel": "medium"}}, "kiosk"))
	if d.ChurnModel != "" || d.ChurnRisk != nil || d.ChurnLevel != "medium" {
		t.Errorf("a profile without the model's features: model %q risk %v level %q, want unscored and the derived medium", d.ChurnModel, d.ChurnRisk, d.ChurnLevel)
	}
}

func TestCompile_BrokenChurnModelIsIgnored(t *testing.T) {
	cat := retentionOrUpsell(&ChurnModel{ID: "broken", Model: &churnmodel.Model{Kind: "forest"}})
	d := Compile(cat).Decide(input(profileC1(), "kiosk"))
	if d.ChurnModel != "" || d.ChurnRisk != nil || len(d.Offers) != 2 {
		t.Errorf("a model that cannot score must be left out: %s", dump(d))
	}
}

// BenchmarkDecideChurnModel: a README decision without a churn model,
// and with an active 200-tree GBDT (every tree full to depth 5) scored
// over the customer's profile inside the decision: the difference is
// the in-agent cost of the live churn score.
func BenchmarkDecideChurnModel(b *testing.B) {
	m, attrs := churnmodeltest.Synthetic(churnmodel.KindGBDT, 200, 3)
	p := profileC1()
	for k, v := range attrs {
		p.Attributes[k] = v
	}
	for _, tc := range []struct {
		name  string
		model *ChurnModel
	}{{"none", nil}, {"gbdt200", &ChurnModel{ID: "m", Version: 1, Model: m}}} {
		b.Run(tc.name, func(b *testing.B) {
			cat := readmeCatalog()
			cat.Churn = tc.model
			e := Compile(cat)
			in := input(p, "kiosk")
			in.Intent = "cancel"
			var d api.Decision
			b.ReportAllocs()
			for b.Loop() {
				e.DecideInto(&d, in)
			}
		})
	}
}
