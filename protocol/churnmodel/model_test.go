package churnmodel_test

import (
	"encoding/json"
	"math"
	"testing"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
	"touchpoint.dev/touchpoint/protocol/churnmodel/churnmodeltest"
)

func TestExplain_FactorsAddUpToTheMargin(t *testing.T) {
	for _, kind := range []string{churnmodel.KindLogistic, churnmodel.KindGBDT} {
		t.Run(kind, func(t *testing.T) {
			m, attrs := churnmodeltest.Synthetic(kind, 50, 1)
			p, factors, err := m.Explain(attrs)
			if err != nil {
				t.Fatal(err)
			}
			if p != m.Score(attrs) {
				t.Fatalf("Explain p %v, Score %v", p, m.Score(attrs))
			}
			if len(factors) != len(m.Features) {
				t.Fatalf("%d factors for %d features", len(factors), len(m.Features))
			}
			sum := m.BaseScore
			for _, tr := range m.Trees {
				sum += tr.Value[0]
			}
			for i, f := range factors {
				sum += f.Contribution
				if i > 0 && f.Contribution > factors[i-1].Contribution {
					t.Fatalf("factors not sorted: %v after %v", f, factors[i-1])
				}
			}
			if logit := math.Log(p / (1 - p)); math.Abs(sum-logit) > 1e-9 {
				t.Errorf("base + contributions = %v, margin %v", sum, logit)
			}
		})
	}
	// Logistic by hand: coefficient × standardised input.
	m := &churnmodel.Model{Kind: churnmodel.KindLogistic, BaseScore: -1, Coefficients: []float64{2, 0.5, -1},
		Features: []churnmodel.Feature{{Name: "minutes", Kind: churnmodel.FeatureNumeric, Mean: 100, Std: 50, Median: 90},
			{Name: "plan", Kind: churnmodel.FeatureCategorical, Levels: []string{"basic", "gold"}}}}
	_, factors, err := m.Explain(map[string]any{"minutes": 200.0, "plan": "gold"})
	if err != nil {
		t.Fatal(err)
	}
	if factors[0].Feature != "minutes" || factors[0].Contribution != 4 || factors[1].Feature != "plan" || factors[1].Contribution != -1 || factors[0].Value != 200.0 {
		t.Errorf("factors %+v: want minutes +4 (2 × (200−100)/50), then plan −1", factors)
	}
}

func TestLevel_ThresholdsAndRanks(t *testing.T) {
	w := churnmodel.DefaultWarningThresholds
	for _, tc := range []struct {
		p    float64
		want string
	}{{0, "low"}, {0.29, "low"}, {0.3, "medium"}, {0.5, "high"}, {0.69, "high"}, {0.7, "critical"}, {1, "critical"}} {
		if got := w.Level(tc.p); got != tc.want {
			t.Errorf("Level(%v) = %s, want %s", tc.p, got, tc.want)
		}
	}
	if churnmodel.LevelRank("critical") != 3 || churnmodel.LevelRank("low") != 0 || churnmodel.LevelRank("severe") != -1 {
		t.Error("LevelRank")
	}
	if w.Min("high") != 0.5 || w.Min("low") != 0 {
		t.Error("Min")
	}
	if (churnmodel.WarningThresholds{Medium: 0.5, High: 0.4, Critical: 0.9}).Check() == nil {
		t.Error("thresholds out of order accepted")
	}
}

func TestDecode_RoundTripAndRejects(t *testing.T) {
	m, attrs := churnmodeltest.Synthetic(churnmodel.KindGBDT, 20, 2)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := churnmodel.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := m.Score(attrs), back.Score(attrs); a != b || !(a > 0 && a < 1) {
		t.Errorf("score %v before, %v after the round trip", a, b)
	}
	for _, doc := range []string{
		`{"kind":"forest","features":[]}`,
		`{"kind":"logistic","features":[{"name":"x","kind":"numeric","std":1}],"coefficients":[1],"trees":[{"feature":[-1],"threshold":[0],"left":[-1],"right":[-1],"value":[0]}]}`,
		`{"kind":"gbdt","features":[{"name":"x","kind":"numeric","std":1}],"coefficients":[1]}`,
		`{"kind":"gbdt","features":[{"name":"p","kind":"categorical","levels":["a","a"]}]}`,
		`{"kind":"logistic","features":[],"coefficients":[],"warningThresholds":{"medium":0.9,"high":0.1,"critical":0.5}}`,
	} {
		if _, err := churnmodel.Decode([]byte(doc)); err == nil {
			t.Errorf("Decode(%s) accepted", doc)
		}
	}
}

// BenchmarkChurnScore is the agent's per-customer cost: a 200-tree GBDT
// (every tree full to depth 5) scored over a profile's attribute map.
func BenchmarkChurnScore(b *testing.B) {
	for _, tc := range []struct {
		name  string
		kind  string
		trees int
	}{{"gbdt200", churnmodel.KindGBDT, 200}, {"logistic", churnmodel.KindLogistic, 0}} {
		b.Run(tc.name, func(b *testing.B) {
			m, attrs := churnmodeltest.Synthetic(tc.kind, tc.trees, 3)
			if err := m.Prepare(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				m.Score(attrs)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"kind":"logistic","features":[{"name":"x","kind":"numeric","std":1},{"name":"p","kind":"categorical","levels":["a","b"]}],"coefficients":[1,2,3],"baseScore":0.5}`))
	f.Add([]byte(`{"kind":"gbdt","features":[{"name":"x","kind":"numeric","std":2,"missingIndicator":true}],"trees":[{"feature":[1,-1,-1],"threshold":[0.5,0,0],"left":[1,-1,-1],"right":[2,-1,-1],"value":[0,-1,1]}]}`))
	f.Add([]byte(`{"kind":"gbdt","features":[],"trees":[],"warningThresholds":{"medium":0.9,"high":0.1,"critical":0.5}}`))
	f.Add([]byte(`{"kind":"logistic","features":[{"name":"p","kind":"categorical","levels":["2.0","No","Yes","false"]}],"coefficients":[1,2,3,4]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := churnmodel.Decode(data)
		if err != nil {
			return
		}
		for _, attrs := range []map[string]any{{}, {"x": 1.0, "p": "a"}, {"x": "zz", "p": 2.0}, {"x": true, "p": false}, {"p": 7}} {
			p := m.Score(attrs)
			if !(p >= 0 && p <= 1) && !math.IsNaN(p) {
				t.Fatalf("score %v", p)
			}
			_ = m.Warning.Level(p)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := churnmodel.Decode(again); err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
	})
}
