package churn

import (
	"math"
	"slices"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// FitFeatures derives the feature spec from the training rows.
func FitFeatures(train *Dataset) []Feature {
	fs := make([]Feature, 0, len(train.Columns))
	for _, c := range train.Columns {
		if c.Categorical {
			set := map[string]bool{}
			for _, s := range c.Cells {
				if s == "" {
					s = MissingLevel
				}
				set[s] = true
			}
			levels := make([]string, 0, len(set))
			for s := range set {
				levels = append(levels, s)
			}
			slices.Sort(levels)
			fs = append(fs, Feature{Name: c.Name, Kind: churnmodel.FeatureCategorical, Levels: levels})
			continue
		}
		var vals []float64
		missing := false
		for _, s := range c.Cells {
			if v, ok := churnmodel.ParseNumber(s); ok {
				vals = append(vals, v)
			} else {
				missing = true
			}
		}
		f := Feature{Name: c.Name, Kind: churnmodel.FeatureNumeric, MissingFlag: missing, Std: 1}
		if len(vals) > 0 {
			slices.Sort(vals)
			n := len(vals)
			if n%2 == 1 {
				f.Median = vals[n/2]
			} else {
				f.Median = (vals[n/2-1] + vals[n/2]) / 2
			}
			// Mean and spread over the imputed column, as the model sees it.
			total := float64(len(c.Cells))
			sum := 0.0
			for _, v := range vals {
				sum += v
			}
			sum += float64(len(c.Cells)-n) * f.Median
			f.Mean = sum / total
			ss := 0.0
			for _, v := range vals {
				ss += (v - f.Mean) * (v - f.Mean)
			}
			ss += float64(len(c.Cells)-n) * (f.Median - f.Mean) * (f.Median - f.Mean)
			if sd := math.Sqrt(ss / total); sd > 1e-12 {
				f.Std = sd
			}
		}
		fs = append(fs, f)
	}
	return fs
}

// encodeDataset encodes every row of d, matching its columns to the spec
// by name; a column the spec names but d lacks is missing throughout.
func encodeDataset(e *churnmodel.Encoder, d *Dataset) [][]float64 {
	fs := e.Features()
	width := e.Width()
	col := make([]int, len(fs))
	for i, f := range fs {
		col[i] = -1
		for j, c := range d.Columns {
			if c.Name == f.Name {
				col[i] = j
			}
		}
	}
	n := d.Len()
	flat := make([]float64, n*width)
	rows := make([][]float64, n)
	for r := range n {
		rows[r] = flat[r*width : (r+1)*width : (r+1)*width]
		for i := range fs {
			var v any
			if col[i] >= 0 {
				if s := d.Columns[col[i]].Cells[r]; s != "" {
					v = s
				}
			}
			e.Put(rows[r], i, v)
		}
	}
	return rows
}
