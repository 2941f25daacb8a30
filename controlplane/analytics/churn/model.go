package churn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Model kinds.
const (
	KindLogistic = "logistic"
	KindGBDT     = "gbdt"
)

// Warning levels, from a predicted churn probability.
const (
	LevelLow      = "low"
	LevelMedium   = "medium"
	LevelHigh     = "high"
	LevelCritical = "critical"
)

// WarningThresholds map a probability to a level: below Medium is low,
// from Medium medium, from High high, from Critical critical.
type WarningThresholds struct {
	Medium   float64 `json:"medium"`
	High     float64 `json:"high"`
	Critical float64 `json:"critical"`
}

// DefaultWarningThresholds are 0.3 / 0.5 / 0.7.
var DefaultWarningThresholds = WarningThresholds{Medium: 0.3, High: 0.5, Critical: 0.7}

// Level names the warning level of probability p.
func (w WarningThresholds) Level(p float64) string {
	switch {
	case p >= w.Critical:
		return LevelCritical
	case p >= w.High:
		return LevelHigh
	case p >= w.Medium:
		return LevelMedium
	}
	return LevelLow
}

// Model is a trained churn model as stored and shipped: JSON-serialisable
// and self-contained. The margin is BaseScore plus either the dot product
// of Coefficients with the encoded inputs (logistic) or the sum of the
// trees' leaf values (gbdt); the probability is its logistic.
type Model struct {
	Kind         string            `json:"kind"`
	Label        string            `json:"label"`
	Features     []Feature         `json:"features"`
	Inputs       []string          `json:"inputs"` // encoded input names, for reading coefficients and trees
	BaseScore    float64           `json:"baseScore"`
	Coefficients []float64         `json:"coefficients,omitempty"`
	Trees        []Tree            `json:"trees,omitempty"`
	Warning      WarningThresholds `json:"warningThresholds"`
	TrainRows    int               `json:"trainRows"`
	Metrics      *Metrics          `json:"metrics,omitempty"`

	once    sync.Once
	prepErr error
	enc     *encoder
	nodes   []node
	roots   []int32
	scratch sync.Pool
}

// node is a tree node flattened for scoring: child indexes are absolute.
type node struct {
	feature     int32 // < 0: leaf
	left, right int32
	threshold   float64
	value       float64
}

// Config chooses and tunes the model Train fits.
type Config struct {
	Kind     string // KindLogistic or KindGBDT
	Logistic LogisticConfig
	GBDT     GBDTConfig
	// Rand draws the GBDT early-stopping slice; nil is NewRand(DefaultSeed).
	Rand *rand.Rand
}

// Train fits a model of cfg.Kind on train.
func Train(train *Dataset, cfg Config) (*Model, error) {
	if train.Len() == 0 {
		return nil, errors.New("no training rows")
	}
	if cfg.Rand == nil {
		cfg.Rand = NewRand(DefaultSeed)
	}
	fs := FitFeatures(train)
	enc, err := newEncoder(fs)
	if err != nil {
		return nil, err
	}
	if enc.width == 0 {
		return nil, errors.New("no feature columns besides the label and id")
	}
	x := enc.encodeDataset(train)
	m := &Model{Kind: cfg.Kind, Label: train.Label, Features: fs, Inputs: enc.names(), Warning: DefaultWarningThresholds, TrainRows: train.Len()}
	switch cfg.Kind {
	case KindLogistic:
		w, b, err := fitLogistic(x, train.Labels, cfg.Logistic)
		if err != nil {
			return nil, fmt.Errorf("logistic regression: %w", err)
		}
		m.Coefficients, m.BaseScore = w, b
	case KindGBDT:
		base, trees, err := fitGBDT(x, train.Labels, cfg.GBDT, cfg.Rand)
		if err != nil {
			return nil, fmt.Errorf("gradient-boosted trees: %w", err)
		}
		m.BaseScore, m.Trees = base, trees
	default:
		return nil, fmt.Errorf("model kind %q: want %s or %s", cfg.Kind, KindLogistic, KindGBDT)
	}
	return m, nil
}

// Decode reads a model from JSON and checks it can score.
func Decode(data []byte) (*Model, error) {
	m := &Model{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if err := m.prepare(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Model) prepare() error {
	m.once.Do(func() { m.prepErr = m.build() })
	return m.prepErr
}

func (m *Model) build() error {
	enc, err := newEncoder(m.Features)
	if err != nil {
		return fmt.Errorf("model features: %w", err)
	}
	m.enc = enc
	if m.Warning == (WarningThresholds{}) {
		m.Warning = DefaultWarningThresholds
	}
	if w := m.Warning; !(0 <= w.Medium && w.Medium <= w.High && w.High <= w.Critical && w.Critical <= 1) {
		return fmt.Errorf("warning thresholds %+v: want 0 ≤ medium ≤ high ≤ critical ≤ 1", w)
	}
	switch m.Kind {
	case KindLogistic:
		if len(m.Coefficients) != enc.width {
			return fmt.Errorf("model has %d coefficients for %d inputs", len(m.Coefficients), enc.width)
		}
	case KindGBDT:
		for ti, t := range m.Trees {
			k := len(t.Feature)
			if k == 0 || len(t.Threshold) != k || len(t.Left) != k || len(t.Right) != k || len(t.Value) != k {
				return fmt.Errorf("tree %d: node arrays differ in length or are empty", ti)
			}
			off := int32(len(m.nodes))
			m.roots = append(m.roots, off)
			for i := range k {
				n := node{feature: -1, threshold: t.Threshold[i], value: t.Value[i]}
				if f := t.Feature[i]; f >= 0 {
					// Children must come after their parent: no cycles.
					if f >= enc.width || t.Left[i] <= i || t.Right[i] <= i || t.Left[i] >= k || t.Right[i] >= k {
						return fmt.Errorf("tree %d node %d: bad feature or child index", ti, i)
					}
					n.feature, n.left, n.right = int32(f), off+int32(t.Left[i]), off+int32(t.Right[i])
				}
				m.nodes = append(m.nodes, n)
			}
		}
	default:
		return fmt.Errorf("model kind %q: want %s or %s", m.Kind, KindLogistic, KindGBDT)
	}
	w := enc.width
	m.scratch.New = func() any { s := make([]float64, w); return &s }
	return nil
}

// margin is the model's log-odds for encoded inputs x.
func (m *Model) margin(x []float64) float64 {
	z := m.BaseScore
	if m.Kind == KindLogistic {
		for j, c := range m.Coefficients {
			z += c * x[j]
		}
		return z
	}
	nodes := m.nodes
	for _, r := range m.roots {
		i := r
		for {
			n := &nodes[i]
			if n.feature < 0 {
				z += n.value
				break
			}
			if x[n.feature] <= n.threshold {
				i = n.left
			} else {
				i = n.right
			}
		}
	}
	return z
}

// Score is the churn probability of one customer from profile-like
// attributes: numbers as float64, categorical values as strings, a
// missing key (or nil) as missing. It is safe for concurrent use and
// does not allocate once warm. A model that fails to prepare scores NaN;
// Decode reports why.
func (m *Model) Score(features map[string]any) float64 {
	if m.prepare() != nil {
		return math.NaN()
	}
	sp := m.scratch.Get().(*[]float64)
	x := *sp
	for i := range m.enc.features {
		m.enc.put(x, i, features[m.enc.features[i].Name])
	}
	p := sigmoid(m.margin(x))
	m.scratch.Put(sp)
	return p
}

// Level is the warning level of Score(features).
func (m *Model) Level(features map[string]any) string {
	return m.Warning.Level(m.Score(features))
}

// PredictDataset scores every row of d (matched to the features by name).
func (m *Model) PredictDataset(d *Dataset) ([]float64, error) {
	if err := m.prepare(); err != nil {
		return nil, err
	}
	x := m.enc.encodeDataset(d)
	p := make([]float64, len(x))
	for i, r := range x {
		p[i] = sigmoid(m.margin(r))
	}
	return p, nil
}

// Evaluate scores d and stores the metrics in the model.
func (m *Model) Evaluate(d *Dataset) (Metrics, error) {
	p, err := m.PredictDataset(d)
	if err != nil {
		return Metrics{}, err
	}
	mt := Evaluate(p, d.Labels)
	m.Metrics = &mt
	return mt, nil
}

// CheckColumns reports a test dataset whose feature columns differ from
// the model's.
func (m *Model) CheckColumns(d *Dataset) error {
	have := map[string]bool{}
	for _, c := range d.Columns {
		have[c.Name] = true
	}
	for _, f := range m.Features {
		if !have[f.Name] {
			return fmt.Errorf("column %q missing", f.Name)
		}
		delete(have, f.Name)
	}
	for name := range have {
		return fmt.Errorf("column %q not in the training data", name)
	}
	return nil
}
