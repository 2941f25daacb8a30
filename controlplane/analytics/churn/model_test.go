package churn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// synthetic builds a dataset where churn follows the plan (categorical)
// and high minutes, with some minutes and plans missing.
func synthetic(n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("id,plan,minutes,calls,churn\n")
	plans := []string{"basic", "gold", "prepaid"}
	for i := range n {
		plan := plans[rng.IntN(3)]
		minutes := rng.Float64() * 300
		calls := rng.IntN(10)
		z := -2.0 + minutes/100
		if plan == "prepaid" {
			z += 1.5
		}
		churn := rng.Float64() < 1/(1+math.Exp(-z))
		ms := strconv.FormatFloat(minutes, 'f', 1, 64)
		if rng.IntN(10) == 0 {
			ms = " "
		}
		if rng.IntN(20) == 0 {
			plan = ""
		}
		fmt.Fprintf(&b, "c%d,%s,%s,%d,%v\n", i, plan, ms, calls, churn)
	}
	return b.String()
}

func TestTrain_MissingAndCategoricalHandling(t *testing.T) {
	ds, err := Load(strings.NewReader(synthetic(2000, 7)), LoadOptions{Label: "churn", ID: "id"})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{KindLogistic, KindGBDT} {
		t.Run(kind, func(t *testing.T) {
			m, err := Train(ds, Config{Kind: kind})
			if err != nil {
				t.Fatal(err)
			}
			var plan, minutes *Feature
			for i := range m.Features {
				switch m.Features[i].Name {
				case "plan":
					plan = &m.Features[i]
				case "minutes":
					minutes = &m.Features[i]
				}
			}
			if plan == nil || plan.Kind != "categorical" || strings.Join(plan.Levels, ",") != "(missing),basic,gold,prepaid" {
				t.Fatalf("plan feature %+v: want categorical with a missing level", plan)
			}
			if minutes == nil || minutes.Kind != "numeric" || !minutes.MissingFlag || math.Abs(minutes.Median-150) > 15 {
				t.Fatalf("minutes feature %+v: want numeric, median about 150, with a missing indicator", minutes)
			}
			for _, name := range m.Inputs {
				if name == "id" {
					t.Fatal("the id column became an input")
				}
			}
			low := m.Score(map[string]any{"plan": "gold", "minutes": 20.0, "calls": 1.0})
			high := m.Score(map[string]any{"plan": "prepaid", "minutes": 290.0, "calls": 1.0})
			if !(high > low+0.3) {
				t.Errorf("score prepaid/290 min %.3f, gold/20 min %.3f: want the first far higher", high, low)
			}
			// With at least half the features there, a missing key, an
			// unseen level and a wrong type score, and a missing number
			// scores as the median would, plus its indicator.
			for _, attrs := range []map[string]any{
				{"calls": 1.0, "plan": "platinum"}, {"calls": 1.0, "plan": "gold", "minutes": "n/a"},
				{"calls": 2.0, "plan": nil, "minutes": 10.0}, {"plan": 3.0, "minutes": true},
			} {
				if p := m.Score(attrs); !(p > 0 && p < 1) {
					t.Errorf("score(%v) = %v", attrs, p)
				}
			}
			// With fewer than half, the customer is not scored: the risk
			// would be the training medians', not theirs.
			for _, attrs := range []map[string]any{
				nil, {}, {"plan": "gold"}, {"minutes": "n/a", "calls": 1.0}, {"plan": "", "minutes": nil, "calls": 3.0}, {"other": 1.0, "more": "x"},
			} {
				if p := m.Score(attrs); !math.IsNaN(p) {
					t.Errorf("score(%v) = %v, want NaN (too few of the model's features)", attrs, p)
				}
			}
			// An unseen level is all zeros in the one-hot inputs.
			x := make([]float64, len(m.Inputs))
			for i := range x {
				x[i] = 9
			}
			m.Encoder().Put(x, 0, "platinum")
			for j, v := range x[:len(plan.Levels)] {
				if v != 0 {
					t.Fatalf("unseen level encoded %v at input %d", v, j)
				}
			}
		})
	}
}

func TestModel_JSONRoundTripScoresIdentically(t *testing.T) {
	train, test := publishedSplit(t)
	for _, kind := range []string{KindLogistic, KindGBDT} {
		t.Run(kind, func(t *testing.T) {
			m, err := Train(train, Config{Kind: kind, GBDT: GBDTConfig{Trees: 40}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := EvaluateModel(m, test); err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if back.Kind != kind || back.Metrics == nil || back.Metrics.AUC != m.Metrics.AUC {
				t.Fatalf("decoded kind %q metrics %+v", back.Kind, back.Metrics)
			}
			p1, _ := PredictDataset(m, test)
			p2, _ := PredictDataset(back, test)
			for i := range p1 {
				if p1[i] != p2[i] {
					t.Fatalf("row %d: %v before, %v after the round trip", i, p1[i], p2[i])
				}
			}
			for r := range 50 {
				attrs := profile(test, r)
				if a, b := m.Score(attrs), back.Score(attrs); a != b || a != p1[r] {
					t.Fatalf("row %d: Score %v, decoded %v, batch %v", r, a, b, p1[r])
				}
			}
		})
	}
}

func TestDecode_RejectsBrokenModels(t *testing.T) {
	for _, doc := range []string{
		`{"kind":"forest"}`,
		`{"kind":"logistic","features":[{"name":"x","kind":"numeric","std":1}],"coefficients":[1,2]}`,
		`{"kind":"gbdt","features":[{"name":"x","kind":"numeric","std":1}],"trees":[{"feature":[0],"threshold":[0],"left":[0],"right":[0],"value":[0]}]}`,
		`{"kind":"gbdt","features":[{"name":"x","kind":"numeric","std":1}],"trees":[{"feature":[5,-1,-1],"threshold":[0,0,0],"left":[1,-1,-1],"right":[2,-1,-1],"value":[0,1,2]}]}`,
		`{"kind":"gbdt","features":[{"name":"x","kind":"numeric","std":0}]}`,
		`not json`,
	} {
		if _, err := Decode([]byte(doc)); err == nil {
			t.Errorf("Decode(%s) accepted", doc)
		}
	}
}

// profile turns row r of d into attributes the way an agent holds them:
// numbers as float64, other values as strings, blanks left out.
func profile(d *Dataset, r int) map[string]any {
	attrs := map[string]any{}
	for _, c := range d.Columns {
		s := c.Cells[r]
		if s == "" {
			continue
		}
		if v, ok := churnmodel.ParseNumber(s); ok && !c.Categorical {
			attrs[c.Name] = v
		} else {
			attrs[c.Name] = s
		}
	}
	return attrs
}

func BenchmarkScoreGBDT200(b *testing.B) {
	train, test := publishedSplit(b)
	// Early stopping off: all 200 trees are kept.
	m, err := Train(train, Config{Kind: KindGBDT, GBDT: GBDTConfig{Trees: 200, KeepAll: true}})
	if err != nil {
		b.Fatal(err)
	}
	if len(m.Trees) != 200 {
		b.Fatalf("%d trees, want 200", len(m.Trees))
	}
	data, _ := json.Marshal(m)
	dec, err := Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	attrs := profile(test, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dec.Score(attrs)
	}
}

func BenchmarkScoreLogistic(b *testing.B) {
	train, test := publishedSplit(b)
	m, err := Train(train, Config{Kind: KindLogistic})
	if err != nil {
		b.Fatal(err)
	}
	attrs := profile(test, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Score(attrs)
	}
}
