package churnmodel

// Metrics are a model's figures on rows it was not trained on, stored in
// the model (controlplane/analytics/churn computes them).
type Metrics struct {
	Rows      int                `json:"rows"`
	Positives int                `json:"positives"`
	AUC       float64            `json:"auc"`
	Accuracy  float64            `json:"accuracy"` // at threshold 0.5
	LogLoss   float64            `json:"logLoss"`
	At        []ThresholdMetrics `json:"thresholds"`
	// Calibration has 10 bins of predicted probability [0,0.1), …, [0.9,1].
	Calibration []CalibrationBin `json:"calibration"`
}

// ThresholdMetrics is precision and recall when p ≥ Threshold is a warning.
type ThresholdMetrics struct {
	Threshold float64 `json:"threshold"`
	Precision float64 `json:"precision"` // 0 when nothing is flagged
	Recall    float64 `json:"recall"`
	Flagged   int     `json:"flagged"`
}

// CalibrationBin compares the mean predicted probability with the observed
// churn rate of the rows whose prediction falls in [Low, High).
type CalibrationBin struct {
	Low           float64 `json:"low"`
	High          float64 `json:"high"`
	Count         int     `json:"count"`
	MeanPredicted float64 `json:"meanPredicted"`
	ObservedRate  float64 `json:"observedRate"`
}
