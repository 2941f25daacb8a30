package churnmodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// Levels lists the warning levels from lowest to highest.
var Levels = []string{LevelLow, LevelMedium, LevelHigh, LevelCritical}

// LevelRank is the position of level in Levels (low 0 … critical 3), or -1
// for an unknown level.
func LevelRank(level string) int {
	for i, l := range Levels {
		if l == level {
			return i
		}
	}
	return -1
}

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

// Check reports cut-offs out of order or outside [0, 1].
func (w WarningThresholds) Check() error {
	if !(0 <= w.Medium && w.Medium <= w.High && w.High <= w.Critical && w.Critical <= 1) {
		return fmt.Errorf("warning thresholds medium %v, high %v, critical %v: want 0 ≤ medium ≤ high ≤ critical ≤ 1", w.Medium, w.High, w.Critical)
	}
	return nil
}

// Min is the lowest probability at level (0 for low, or an unknown level).
func (w WarningThresholds) Min(level string) float64 {
	switch level {
	case LevelMedium:
		return w.Medium
	case LevelHigh:
		return w.High
	case LevelCritical:
		return w.Critical
	}
	return 0
}

// Tree is one regression tree as parallel node arrays. Node 0 is the
// root. A node with Feature < 0 is a leaf whose Value is added to the
// margin; otherwise a row goes Left when its encoded input Feature is ≤
// Threshold, else Right. An inner node's Value is what it would be as a
// leaf: scoring ignores it, attribution (Explain) reads it.
type Tree struct {
	Feature   []int     `json:"feature"`
	Threshold []float64 `json:"threshold"`
	Left      []int     `json:"left"`
	Right     []int     `json:"right"`
	Value     []float64 `json:"value"`
}

// Predict is the tree's leaf value for encoded inputs x (the tree must be
// well formed: Decode checks).
func (t *Tree) Predict(x []float64) float64 {
	i := 0
	for t.Feature[i] >= 0 {
		if x[t.Feature[i]] <= t.Threshold[i] {
			i = t.Left[i]
		} else {
			i = t.Right[i]
		}
	}
	return t.Value[i]
}

// Model is a trained churn model as stored and shipped: JSON-serialisable
// and self-contained. The margin is BaseScore plus either the dot product
// of Coefficients with the encoded inputs (logistic) or the sum of the
// trees' leaf values (gbdt); the probability is its logistic.
type Model struct {
	Kind         string            `json:"kind"`
	Label        string            `json:"label,omitempty"`
	Features     []Feature         `json:"features"`
	Inputs       []string          `json:"inputs,omitempty"` // encoded input names, for reading coefficients and trees
	BaseScore    float64           `json:"baseScore"`
	Coefficients []float64         `json:"coefficients,omitempty"`
	Trees        []Tree            `json:"trees,omitempty"`
	Warning      WarningThresholds `json:"warningThresholds,omitzero"`
	TrainRows    int               `json:"trainRows,omitempty"`
	Metrics      *Metrics          `json:"metrics,omitempty"`

	once    sync.Once
	prepErr error
	enc     *Encoder
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

// Decode reads a model from JSON and checks it can score.
func Decode(data []byte) (*Model, error) {
	m := &Model{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if err := m.Prepare(); err != nil {
		return nil, err
	}
	return m, nil
}

// Prepare checks the model and builds what scoring needs, once; a model
// decoded by other means than Decode (inside a catalogue document) is
// prepared before its first Score. Its fields must not change afterwards.
func (m *Model) Prepare() error {
	m.once.Do(func() { m.prepErr = m.build() })
	return m.prepErr
}

// Encoder is the model's prepared feature encoder (nil before a
// successful Prepare).
func (m *Model) Encoder() *Encoder { return m.enc }

// Thresholds are the model's warning cut-offs, the defaults when it
// states none.
func (m *Model) Thresholds() WarningThresholds {
	if m.Warning == (WarningThresholds{}) {
		return DefaultWarningThresholds
	}
	return m.Warning
}

func (m *Model) build() error {
	enc, err := NewEncoder(m.Features)
	if err != nil {
		return fmt.Errorf("model features: %w", err)
	}
	m.Warning = m.Thresholds()
	if err := m.Warning.Check(); err != nil {
		return err
	}
	if math.IsNaN(m.BaseScore) || math.IsInf(m.BaseScore, 0) {
		return errors.New("baseScore is not a finite number")
	}
	switch m.Kind {
	case KindLogistic:
		if len(m.Coefficients) != enc.width {
			return fmt.Errorf("model has %d coefficients for %d inputs", len(m.Coefficients), enc.width)
		}
		for j, c := range m.Coefficients {
			if math.IsNaN(c) || math.IsInf(c, 0) {
				return fmt.Errorf("coefficient %d is not a finite number", j)
			}
		}
		if len(m.Trees) > 0 {
			return errors.New("a logistic model has coefficients, not trees")
		}
	case KindGBDT:
		if len(m.Coefficients) > 0 {
			return errors.New("a gbdt model has trees, not coefficients")
		}
		var nodes []node
		var roots []int32
		for ti, t := range m.Trees {
			k := len(t.Feature)
			if k == 0 || len(t.Threshold) != k || len(t.Left) != k || len(t.Right) != k || len(t.Value) != k {
				return fmt.Errorf("tree %d: node arrays differ in length or are empty", ti)
			}
			if len(nodes)+k > math.MaxInt32 {
				return errors.New("too many tree nodes")
			}
			off := int32(len(nodes))
			roots = append(roots, off)
			for i := range k {
				n := node{feature: -1, threshold: t.Threshold[i], value: t.Value[i]}
				if math.IsNaN(n.value) || math.IsInf(n.value, 0) || math.IsNaN(n.threshold) {
					return fmt.Errorf("tree %d node %d: threshold or value is not a number", ti, i)
				}
				if f := t.Feature[i]; f >= 0 {
					// Children must come after their parent: no cycles.
					if f >= enc.width || t.Left[i] <= i || t.Right[i] <= i || t.Left[i] >= k || t.Right[i] >= k {
						return fmt.Errorf("tree %d node %d: bad feature or child index", ti, i)
					}
					n.feature, n.left, n.right = int32(f), off+int32(t.Left[i]), off+int32(t.Right[i])
				}
				nodes = append(nodes, n)
			}
		}
		m.nodes, m.roots = nodes, roots
	default:
		return fmt.Errorf("model kind %q: want %s or %s", m.Kind, KindLogistic, KindGBDT)
	}
	m.enc = enc
	w := enc.width
	m.scratch.New = func() any { s := make([]float64, w); return &s }
	return nil
}

// Sigmoid is the logistic function 1/(1+e^−z), computed stably.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	ez := math.Exp(z)
	return ez / (1 + ez)
}

// Margin is the model's log-odds for encoded inputs x (Width() of them).
// The model must be prepared.
func (m *Model) Margin(x []float64) float64 {
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
// does not allocate once warm. It is NaN, not scored, when attrs hold
// fewer than half of the model's features (Encoder.Covered), and when the
// model fails to prepare (Prepare or Decode reports why).
func (m *Model) Score(attrs map[string]any) float64 {
	if m.Prepare() != nil {
		return math.NaN()
	}
	sp := m.scratch.Get().(*[]float64)
	x := *sp
	p := math.NaN()
	if m.enc.Covered(m.enc.Encode(x, attrs)) {
		p = Sigmoid(m.Margin(x))
	}
	m.scratch.Put(sp)
	return p
}

// Level is the warning level of Score(attrs).
func (m *Model) Level(attrs map[string]any) string {
	return m.Thresholds().Level(m.Score(attrs))
}
