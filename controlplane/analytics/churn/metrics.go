package churn

import (
	"math"
	"slices"
)

// ReportThresholds are the thresholds Evaluate reports precision/recall at.
var reportThresholds = [...]float64{0.3, 0.5, 0.7}

// AUC is the area under the ROC curve: the Mann–Whitney statistic with
// tied scores given their average rank. It is NaN with a single class.
func AUC(scores []float64, labels []bool) float64 {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	var rankSum float64
	pos := 0
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j averaged
		for k := i; k < j; k++ {
			if labels[idx[k]] {
				rankSum += avg
				pos++
			}
		}
		i = j
	}
	neg := n - pos
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg))
}

// Evaluate computes the metrics of probabilities p against labels.
func Evaluate(p []float64, labels []bool) Metrics {
	m := Metrics{Rows: len(p), AUC: AUC(p, labels)}
	correct := 0
	for i, l := range labels {
		if l {
			m.Positives++
		}
		if (p[i] >= 0.5) == l {
			correct++
		}
		q := math.Min(math.Max(p[i], 1e-15), 1-1e-15)
		if l {
			m.LogLoss -= math.Log(q)
		} else {
			m.LogLoss -= math.Log(1 - q)
		}
	}
	if m.Rows > 0 {
		m.Accuracy = float64(correct) / float64(m.Rows)
		m.LogLoss /= float64(m.Rows)
	}
	for _, th := range reportThresholds {
		tm := ThresholdMetrics{Threshold: th}
		tp := 0
		for i, l := range labels {
			if p[i] >= th {
				tm.Flagged++
				if l {
					tp++
				}
			}
		}
		if tm.Flagged > 0 {
			tm.Precision = float64(tp) / float64(tm.Flagged)
		}
		if m.Positives > 0 {
			tm.Recall = float64(tp) / float64(m.Positives)
		}
		m.At = append(m.At, tm)
	}
	m.Calibration = make([]CalibrationBin, 10)
	obs := make([]int, 10)
	for i, l := range labels {
		b := min(max(int(p[i]*10), 0), 9)
		m.Calibration[b].Count++
		m.Calibration[b].MeanPredicted += p[i]
		if l {
			obs[b]++
		}
	}
	for b := range m.Calibration {
		c := &m.Calibration[b]
		c.Low, c.High = float64(b)/10, float64(b+1)/10
		if c.Count > 0 {
			c.MeanPredicted /= float64(c.Count)
			c.ObservedRate = float64(obs[b]) / float64(c.Count)
		}
	}
	if math.IsNaN(m.AUC) {
		m.AUC = 0 // JSON has no NaN; a single-class holdout has no AUC
	}
	return m
}
