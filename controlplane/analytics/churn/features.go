package churn

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// MissingLevel is the level a blank categorical cell (or a missing key)
// takes; it is one-hot encoded like any other level seen in training.
const MissingLevel = "(missing)"

// Feature is one input column as the model sees it. A numeric feature is
// imputed with the training median when missing, standardised with the
// training mean and standard deviation, and followed by a 0/1 missing
// indicator when any training value was missing. A categorical feature is
// one-hot over the levels seen in training; an unseen level is all zeros.
type Feature struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"` // "numeric" or "categorical"
	Mean        float64  `json:"mean,omitempty"`
	Std         float64  `json:"std,omitempty"`
	Median      float64  `json:"median,omitempty"`
	MissingFlag bool     `json:"missingIndicator,omitempty"`
	Levels      []string `json:"levels,omitempty"`
}

// Width is the number of encoded inputs the feature produces.
func (f *Feature) Width() int {
	if f.Kind == "categorical" {
		return len(f.Levels)
	}
	if f.MissingFlag {
		return 2
	}
	return 1
}

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
			fs = append(fs, Feature{Name: c.Name, Kind: "categorical", Levels: levels})
			continue
		}
		var vals []float64
		missing := false
		for _, s := range c.Cells {
			if v, ok := parseNumber(s); ok {
				vals = append(vals, v)
			} else {
				missing = true
			}
		}
		f := Feature{Name: c.Name, Kind: "numeric", MissingFlag: missing, Std: 1}
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

// encoder is a feature spec prepared for encoding: offsets into the
// encoded vector and a level index per categorical feature.
type encoder struct {
	features []Feature
	offset   []int
	levels   []map[string]int
	width    int
}

func newEncoder(fs []Feature) (*encoder, error) {
	e := &encoder{features: fs, offset: make([]int, len(fs)), levels: make([]map[string]int, len(fs))}
	for i := range fs {
		f := &fs[i]
		switch f.Kind {
		case "numeric":
			if !(f.Std > 0) || math.IsInf(f.Std, 0) || math.IsNaN(f.Mean) || math.IsNaN(f.Median) {
				return nil, fmt.Errorf("feature %q: bad mean/std/median", f.Name)
			}
		case "categorical":
			m := make(map[string]int, len(f.Levels))
			for k, l := range f.Levels {
				m[l] = k
			}
			e.levels[i] = m
		default:
			return nil, fmt.Errorf("feature %q: kind %q: want numeric or categorical", f.Name, f.Kind)
		}
		e.offset[i] = e.width
		e.width += f.Width()
	}
	return e, nil
}

// names lists the encoded inputs ("Total day minutes", "State=KS", …).
func (e *encoder) names() []string {
	out := make([]string, 0, e.width)
	for _, f := range e.features {
		if f.Kind == "categorical" {
			for _, l := range f.Levels {
				out = append(out, f.Name+"="+l)
			}
			continue
		}
		out = append(out, f.Name)
		if f.MissingFlag {
			out = append(out, f.Name+" missing")
		}
	}
	return out
}

// put writes feature i's encoding of v into dst (dst[e.offset[i]:]). v is
// nil (missing), a float64 (or other number), a string or a bool.
func (e *encoder) put(dst []float64, i int, v any) {
	f := &e.features[i]
	at := e.offset[i]
	if f.Kind == "categorical" {
		for k := range f.Levels {
			dst[at+k] = 0
		}
		var s string
		switch x := v.(type) {
		case nil:
			s = MissingLevel
		case string:
			s = x
			if s == "" {
				s = MissingLevel
			}
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		case int:
			s = strconv.Itoa(x)
		case bool:
			s = strconv.FormatBool(x)
		default:
			s = fmt.Sprint(x)
		}
		if k, ok := e.levels[i][s]; ok {
			dst[at+k] = 1
		}
		return
	}
	x, ok := 0.0, false
	switch t := v.(type) {
	case float64:
		x, ok = t, !math.IsNaN(t) && !math.IsInf(t, 0)
	case float32:
		x, ok = float64(t), !math.IsNaN(float64(t)) && !math.IsInf(float64(t), 0)
	case int:
		x, ok = float64(t), true
	case int64:
		x, ok = float64(t), true
	case bool:
		if t {
			x = 1
		}
		ok = true
	case string:
		if t != "" {
			x, ok = parseNumber(t)
		}
	}
	if !ok {
		x = f.Median
	}
	dst[at] = (x - f.Mean) / f.Std
	if f.MissingFlag {
		dst[at+1] = 0
		if !ok {
			dst[at+1] = 1
		}
	}
}

// encodeDataset encodes every row of d, matching its columns to the spec
// by name; a column the spec names but d lacks is missing throughout.
func (e *encoder) encodeDataset(d *Dataset) [][]float64 {
	col := make([]int, len(e.features))
	for i, f := range e.features {
		col[i] = -1
		for j, c := range d.Columns {
			if c.Name == f.Name {
				col[i] = j
			}
		}
	}
	n := d.Len()
	flat := make([]float64, n*e.width)
	rows := make([][]float64, n)
	for r := range n {
		rows[r] = flat[r*e.width : (r+1)*e.width : (r+1)*e.width]
		for i := range e.features {
			var v any
			if col[i] >= 0 {
				if s := d.Columns[col[i]].Cells[r]; s != "" {
					v = s
				}
			}
			e.put(rows[r], i, v)
		}
	}
	return rows
}
