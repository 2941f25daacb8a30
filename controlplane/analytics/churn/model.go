package churn

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// The shipped model format lives in protocol/churnmodel (agents score
// it); these names keep the training side reading as before.
type (
	Model             = churnmodel.Model
	Tree              = churnmodel.Tree
	Feature           = churnmodel.Feature
	WarningThresholds = churnmodel.WarningThresholds
	Metrics           = churnmodel.Metrics
	ThresholdMetrics  = churnmodel.ThresholdMetrics
	CalibrationBin    = churnmodel.CalibrationBin
)

// Model kinds and warning levels (see churnmodel).
const (
	KindLogistic  = churnmodel.KindLogistic
	KindGBDT      = churnmodel.KindGBDT
	LevelLow      = churnmodel.LevelLow
	LevelMedium   = churnmodel.LevelMedium
	LevelHigh     = churnmodel.LevelHigh
	LevelCritical = churnmodel.LevelCritical
	MissingLevel  = churnmodel.MissingLevel
)

// DefaultWarningThresholds are 0.3 / 0.5 / 0.7.
var DefaultWarningThresholds = churnmodel.DefaultWarningThresholds

// Decode reads a model from JSON and checks it can score.
func Decode(data []byte) (*Model, error) { return churnmodel.Decode(data) }

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
	enc, err := churnmodel.NewEncoder(fs)
	if err != nil {
		return nil, err
	}
	if enc.Width() == 0 {
		return nil, errors.New("no feature columns besides the label and id")
	}
	x := encodeDataset(enc, train)
	m := &Model{Kind: cfg.Kind, Label: train.Label, Features: fs, Inputs: enc.Names(), Warning: DefaultWarningThresholds, TrainRows: train.Len()}
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

// PredictDataset scores every row of d (matched to the features by name).
func PredictDataset(m *Model, d *Dataset) ([]float64, error) {
	if err := m.Prepare(); err != nil {
		return nil, err
	}
	x := encodeDataset(m.Encoder(), d)
	p := make([]float64, len(x))
	for i, r := range x {
		p[i] = churnmodel.Sigmoid(m.Margin(r))
	}
	return p, nil
}

// EvaluateModel scores d and stores the metrics in the model.
func EvaluateModel(m *Model, d *Dataset) (Metrics, error) {
	p, err := PredictDataset(m, d)
	if err != nil {
		return Metrics{}, err
	}
	mt := Evaluate(p, d.Labels)
	m.Metrics = &mt
	return mt, nil
}

// CheckColumns reports a test dataset whose feature columns differ from
// the model's.
func CheckColumns(m *Model, d *Dataset) error {
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
