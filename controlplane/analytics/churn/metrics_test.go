package churn

import (
	"math"
	"testing"
)

func TestAUC_HandMadeCasesWithTies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []bool{false, true, false, true}, 0.5},
		// Pairs (pos,neg): (0.5,0.1) win, (0.5,0.5) tie, (0.9,0.1) win, (0.9,0.5) win → 3.5/4.
		{"tie across classes", []float64{0.1, 0.5, 0.5, 0.9}, []bool{false, false, true, true}, 0.875},
		// pos {0.3,0.3,0.7}, neg {0.3,0.6}: 0.3 vs 0.3 ties (2 × ½), vs 0.6 loses; 0.7 beats both → 3/6.
		{"ties within and across", []float64{0.3, 0.3, 0.7, 0.3, 0.6}, []bool{true, true, true, false, false}, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AUC(tc.scores, tc.labels); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("AUC %v, want %v", got, tc.want)
			}
		})
	}
	if !math.IsNaN(AUC([]float64{0.2, 0.4}, []bool{true, true})) {
		t.Error("AUC of a single class should be NaN")
	}
}

func TestEvaluate_ThresholdsAndCalibration(t *testing.T) {
	p := []float64{0.05, 0.25, 0.35, 0.55, 0.75, 0.95}
	y := []bool{false, false, true, false, true, true}
	m := Evaluate(p, y)
	if m.Accuracy != 4.0/6 {
		t.Errorf("accuracy %v, want 4/6", m.Accuracy)
	}
	want := []ThresholdMetrics{
		{Threshold: 0.3, Precision: 3.0 / 4, Recall: 1, Flagged: 4},
		{Threshold: 0.5, Precision: 2.0 / 3, Recall: 2.0 / 3, Flagged: 3},
		{Threshold: 0.7, Precision: 1, Recall: 2.0 / 3, Flagged: 2},
	}
	for i, w := range want {
		if m.At[i] != w {
			t.Errorf("at %v: %+v, want %+v", w.Threshold, m.At[i], w)
		}
	}
	if len(m.Calibration) != 10 {
		t.Fatalf("%d calibration bins, want 10", len(m.Calibration))
	}
	c := m.Calibration[3]
	if c.Count != 1 || c.MeanPredicted != 0.35 || c.ObservedRate != 1 {
		t.Errorf("bin [0.3,0.4): %+v", c)
	}
	if m.Calibration[9].Count != 1 || m.Calibration[1].ObservedRate != 0 {
		t.Errorf("bins %+v", m.Calibration)
	}
}

func TestWarningLevels(t *testing.T) {
	w := DefaultWarningThresholds
	for p, want := range map[float64]string{0: LevelLow, 0.29: LevelLow, 0.3: LevelMedium, 0.5: LevelHigh, 0.69: LevelHigh, 0.7: LevelCritical, 1: LevelCritical} {
		if got := w.Level(p); got != want {
			t.Errorf("level(%v) = %s, want %s", p, got, want)
		}
	}
}

func TestDecode_DefaultsAndChecksWarningThresholds(t *testing.T) {
	m, err := Decode([]byte(`{"kind":"logistic","features":[{"name":"x","kind":"numeric","std":1}],"coefficients":[0]}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Warning != DefaultWarningThresholds || m.Level(map[string]any{"x": 0.0}) != LevelHigh {
		t.Errorf("thresholds %+v, level of p=0.5 %s: want the defaults and high", m.Warning, m.Level(nil))
	}
	if _, err := Decode([]byte(`{"kind":"logistic","features":[],"coefficients":[],"warningThresholds":{"medium":0.8,"high":0.5,"critical":0.9}}`)); err == nil {
		t.Error("thresholds out of order accepted")
	}
}
