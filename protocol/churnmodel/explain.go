package churnmodel

import (
	"cmp"
	"math"
	"slices"
)

// Factor is one feature's part in a customer's score, in log-odds: how
// much it moved the margin (positive: towards churn).
type Factor struct {
	Feature      string  `json:"feature"`
	Value        any     `json:"value"` // the customer's value; nil when missing
	Contribution float64 `json:"contribution"`
}

// Explain scores attrs and attributes the margin to the features:
//
//   - logistic: feature i contributes Σ coefficient_j × input_j over its
//     encoded inputs j (the standardised number and its missing indicator,
//     or the one-hot level), so the margin is baseScore + Σ contributions;
//   - gbdt: per-feature path attribution (Saabas): walking each tree from
//     the root to the customer's leaf, every split adds value(child) −
//     value(node) to the feature it splits on, so the margin is the sum of
//     baseScore, every tree's root value and the contributions.
//
// It returns the probability and every feature's factor, largest
// contribution first (ties by feature order). It allocates; it is for
// reports (the watchlist), not the decision path.
func (m *Model) Explain(attrs map[string]any) (float64, []Factor, error) {
	if err := m.Prepare(); err != nil {
		return math.NaN(), nil, err
	}
	x := make([]float64, m.enc.width)
	m.enc.Encode(x, attrs)
	contrib := make([]float64, len(m.enc.features))
	if m.Kind == KindLogistic {
		for j, c := range m.Coefficients {
			contrib[m.enc.owner[j]] += c * x[j]
		}
	} else {
		for _, r := range m.roots {
			i := r
			for {
				n := &m.nodes[i]
				if n.feature < 0 {
					break
				}
				next := n.right
				if x[n.feature] <= n.threshold {
					next = n.left
				}
				contrib[m.enc.owner[n.feature]] += m.nodes[next].value - n.value
				i = next
			}
		}
	}
	out := make([]Factor, len(contrib))
	for i, f := range m.enc.features {
		out[i] = Factor{Feature: f.Name, Value: attrs[f.Name], Contribution: contrib[i]}
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(contrib[b], contrib[a]) })
	sorted := make([]Factor, len(out))
	for k, i := range order {
		sorted[k] = out[i]
	}
	return Sigmoid(m.Margin(x)), sorted, nil
}
