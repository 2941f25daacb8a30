package churnmodel

import (
	"fmt"
	"math"
	"strconv"
)

// Feature kinds.
const (
	FeatureNumeric     = "numeric"
	FeatureCategorical = "categorical"
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
	Kind        string   `json:"kind"` // FeatureNumeric or FeatureCategorical
	Mean        float64  `json:"mean,omitempty"`
	Std         float64  `json:"std,omitempty"`
	Median      float64  `json:"median,omitempty"`
	MissingFlag bool     `json:"missingIndicator,omitempty"`
	Levels      []string `json:"levels,omitempty"`
}

// Width is the number of encoded inputs the feature produces.
func (f *Feature) Width() int {
	if f.Kind == FeatureCategorical {
		return len(f.Levels)
	}
	if f.MissingFlag {
		return 2
	}
	return 1
}

// ParseNumber parses a trimmed non-blank cell (or attribute string) as a
// finite float.
func ParseNumber(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v || v > 1e300 || v < -1e300 {
		return 0, false
	}
	return v, true
}

// Encoder is a feature spec prepared for encoding: offsets into the
// encoded vector and a level index per categorical feature.
type Encoder struct {
	features []Feature
	offset   []int
	owner    []int // owner[j] is the feature encoded input j belongs to
	levels   []levelIndex
	width    int
}

// NewEncoder checks a feature spec and prepares it for encoding.
func NewEncoder(fs []Feature) (*Encoder, error) {
	e := &Encoder{features: fs, offset: make([]int, len(fs)), levels: make([]levelIndex, len(fs))}
	for i := range fs {
		f := &fs[i]
		switch f.Kind {
		case FeatureNumeric:
			if !(f.Std > 0) || math.IsInf(f.Std, 0) || math.IsNaN(f.Mean) || math.IsInf(f.Mean, 0) || math.IsNaN(f.Median) || math.IsInf(f.Median, 0) {
				return nil, fmt.Errorf("feature %q: bad mean/std/median", f.Name)
			}
		case FeatureCategorical:
			ix, err := newLevelIndex(f)
			if err != nil {
				return nil, err
			}
			e.levels[i] = ix
		default:
			return nil, fmt.Errorf("feature %q: kind %q: want numeric or categorical", f.Name, f.Kind)
		}
		e.offset[i] = e.width
		e.width += f.Width()
		for range f.Width() {
			e.owner = append(e.owner, i)
		}
	}
	return e, nil
}

// Width is the length of an encoded vector.
func (e *Encoder) Width() int { return e.width }

// Features is the spec the encoder was built from.
func (e *Encoder) Features() []Feature { return e.features }

// Owner is the index of the feature that encoded input j belongs to.
func (e *Encoder) Owner(j int) int { return e.owner[j] }

// Names lists the encoded inputs ("Total day minutes", "State=KS", …).
func (e *Encoder) Names() []string {
	out := make([]string, 0, e.width)
	for _, f := range e.features {
		if f.Kind == FeatureCategorical {
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

// Put writes feature i's encoding of v into dst (dst[offset of i:]). v is
// nil (missing), a number (float64, float32, int, int64), a string (parsed
// as a number for a numeric feature; "" is missing) or a bool.
//
// For a categorical feature, a string is its level's exact text. A number
// is the level its strconv text names, else the first level that spells
// the same number in decimal ("1.50" for 1.5, not the code "0123" for
// 123). A bool is the level "true" or "false", else the first level that
// spells it yes/no/true/false in any case ("Yes" for true): the level the
// training CSV's cell was, when `customers import` typed that cell.
//
// It reports whether v is there: not nil, not "", and for a numeric
// feature a number (a value it cannot read is imputed like a missing one).
func (e *Encoder) Put(dst []float64, i int, v any) (present bool) {
	f := &e.features[i]
	at := e.offset[i]
	if f.Kind == FeatureCategorical {
		for k := range f.Levels {
			dst[at+k] = 0
		}
		if k := e.levels[i].level(v); k >= 0 {
			dst[at+k] = 1
		}
		return v != nil && v != ""
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
			x, ok = ParseNumber(t)
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
	return ok
}

// Encode writes the encoding of attrs (looked up by feature name) into
// dst, which holds Width() inputs, and returns how many of the features
// attrs holds (Put's present).
func (e *Encoder) Encode(dst []float64, attrs map[string]any) (present int) {
	for i := range e.features {
		if e.Put(dst, i, attrs[e.features[i].Name]) {
			present++
		}
	}
	return present
}

// Covered reports whether present of the encoder's features are enough
// to score a customer: at least half of them. A profile with less (a
// customer imported from another source, with none of the columns the
// model was trained on) would be scored almost wholly from the training
// medians, a confident-looking risk that says nothing of the customer.
func (e *Encoder) Covered(present int) bool { return 2*present >= len(e.features) }
