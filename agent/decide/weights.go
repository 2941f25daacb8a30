package decide

import (
	"math"
	"slices"
	"strconv"

	"touchpoint.dev/touchpoint/protocol"
)

// Weights is the context part of arbitration: how much the request's
// intent and the customer's churn level weigh each offer category. An
// offer's context weight is its campaign's business weight times
// Intent[intent][category] times ChurnLevel[churnLevel][category]; an
// entry that is missing, not finite or negative weighs 1.
type Weights struct {
	// Intent maps a request intent to category multipliers.
	Intent map[string]map[string]float64 `json:"intent"`
	// ChurnLevel maps the customer's derived churnLevel to category
	// multipliers.
	ChurnLevel map[string]map[string]float64 `json:"churnLevel"`
}

// DefaultWeights is the table Compile uses unless WithWeights gives
// another (a fresh copy each call):
//
//	intent cancel:      retention ×3, care ×1.5
//	intent billing:     tariff ×2,    care ×1.5
//	intent upgrade:     upsell ×2,    tariff ×1.5
//	churnLevel high:    retention ×1.5
//	churnLevel critical: retention ×2
func DefaultWeights() Weights {
	return Weights{
		Intent: map[string]map[string]float64{
			"cancel":  {protocol.CategoryRetention: 3, protocol.CategoryCare: 1.5},
			"billing": {protocol.CategoryTariff: 2, protocol.CategoryCare: 1.5},
			"upgrade": {protocol.CategoryUpsell: 2, protocol.CategoryTariff: 1.5},
		},
		ChurnLevel: map[string]map[string]float64{
			"high":     {protocol.CategoryRetention: 1.5},
			"critical": {protocol.CategoryRetention: 2},
		},
	}
}

// numCategories counts protocol.KnownCategories plus one slot for an
// unknown category (which always weighs 1).
var numCategories = len(protocol.KnownCategories) + 1

func categoryIndex(c string) int {
	if i := slices.Index(protocol.KnownCategories, c); i >= 0 {
		return i
	}
	return len(protocol.KnownCategories)
}

// factorRow is one intent's (or churn level's) multipliers per category
// index, with the words a reason uses for each one that is not 1.
type factorRow struct {
	idx    int // 1 + the key's position among the table's keys; 0 for no row
	w      []float64
	reason []string
}

// compileFactors turns one table of Weights into rows; label is how a
// reason names the key ("intent", "churn level").
func compileFactors(t map[string]map[string]float64, label string) (map[string]factorRow, []factorRow) {
	out := make(map[string]factorRow, len(t))
	keys := make([]string, 0, len(t))
	for key := range t {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	rows := []factorRow{{}} // rows[0] is "no row"
	for _, key := range keys {
		cats := t[key]
		row := factorRow{idx: len(rows), w: make([]float64, numCategories), reason: make([]string, numCategories)}
		for i := range row.w {
			row.w[i] = 1
		}
		for cat, w := range cats {
			i := categoryIndex(cat)
			if i == len(protocol.KnownCategories) || math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
				continue
			}
			row.w[i] = w
			if w != 1 {
				row.reason[i] = ", ×" + formatFactor(w) + " for " + label + " " + strconv.Quote(key)
			}
		}
		out[key] = row
		rows = append(rows, row)
	}
	return out, rows
}

func formatFactor(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
