// Package churnmodeltest builds churn models for tests and benchmarks
// outside the training code (the agent's engine, the shipped format).
package churnmodeltest

import (
	"fmt"
	"math/rand/v2"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// Synthetic builds a model shaped like the published churn model (16
// numeric features, a 51-level state, two yes/no plans: 71 inputs) with
// trees full to depth 5 (63 nodes each, every path 5 splits long: more
// work a tree than a trained model, whose trees average 27 nodes), and a
// customer's attributes for it. The same seed gives the same model.
func Synthetic(kind string, trees int, seed uint64) (*churnmodel.Model, map[string]any) {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := &churnmodel.Model{Kind: kind, Label: "Churn", BaseScore: -1.77}
	attrs := map[string]any{}
	for i := range 16 {
		name := fmt.Sprintf("numeric %d", i)
		m.Features = append(m.Features, churnmodel.Feature{Name: name, Kind: churnmodel.FeatureNumeric, Mean: 100, Std: 30, Median: 99, MissingFlag: i == 3})
		attrs[name] = 100 + 30*rng.NormFloat64()
	}
	var states []string
	for i := range 51 {
		states = append(states, fmt.Sprintf("S%02d", i))
	}
	m.Features = append(m.Features,
		churnmodel.Feature{Name: "State", Kind: churnmodel.FeatureCategorical, Levels: states},
		churnmodel.Feature{Name: "International plan", Kind: churnmodel.FeatureCategorical, Levels: []string{"No", "Yes"}},
		churnmodel.Feature{Name: "Voice mail plan", Kind: churnmodel.FeatureCategorical, Levels: []string{"No", "Yes"}})
	attrs["State"], attrs["International plan"], attrs["Voice mail plan"] = "S17", "Yes", "No"
	width := 17 + 51 + 4
	if kind == churnmodel.KindLogistic {
		for range width {
			m.Coefficients = append(m.Coefficients, rng.NormFloat64())
		}
		return m, attrs
	}
	for range trees {
		var t churnmodel.Tree
		var grow func(depth int) int
		grow = func(depth int) int {
			id := len(t.Feature)
			t.Feature = append(t.Feature, -1)
			t.Threshold = append(t.Threshold, 0)
			t.Left = append(t.Left, -1)
			t.Right = append(t.Right, -1)
			t.Value = append(t.Value, 0.05*rng.NormFloat64())
			if depth < 5 {
				t.Feature[id] = rng.IntN(width)
				t.Threshold[id] = rng.NormFloat64()
				if t.Feature[id] >= 17 {
					t.Threshold[id] = 0.5 // a one-hot split
				}
				l := grow(depth + 1)
				r := grow(depth + 1)
				t.Left[id], t.Right[id] = l, r
			}
			return id
		}
		grow(0)
		m.Trees = append(m.Trees, t)
	}
	return m, attrs
}
