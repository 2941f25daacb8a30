package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// A model applied by hand has no training metrics: models ls shows "-"
// for them, not an AUC of 0.
func TestModelsLs_HandAppliedModelShowsNoMetrics(t *testing.T) {
	f := newFakeAPI(t, map[string]any{"GET /v1/models": []api.ModelSummary{
		{ID: "churn-gbdt-1", ModelKind: "gbdt", Version: 1, Status: "active", Metrics: protocol.ModelMetrics{AUC: 0.9239, Accuracy: 0.9535, TrainRows: 2666, TestRows: 667, Evaluation: "test"}, Trees: 67},
		{ID: "by-hand", ModelKind: "logistic", Version: 1, Status: "inactive"},
		{ID: "churn-logistic-1", ModelKind: "logistic", Version: 1, Status: "inactive", Metrics: protocol.ModelMetrics{AUC: 0.7840, Accuracy: 0.85, TrainRows: 2133, TestRows: 533, Evaluation: "holdout"}},
	}})
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"touchpoint", "--addr", f.url, "models", "ls"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 4 || !strings.Contains(lines[1], "0.9239") || !strings.Contains(lines[1], "2666") || !strings.Contains(lines[1], "test 667") {
		t.Fatalf("trained model:\n%s", out.String())
	}
	if f := strings.Fields(lines[2]); len(f) < 8 || f[4] != "-" || f[5] != "-" || f[6] != "-" || f[7] != "-" {
		t.Fatalf("hand-applied model:\n%s", out.String())
	}
	// AUCs measured on different sets are not compared unawares.
	if !strings.Contains(lines[3], "holdout 533") {
		t.Fatalf("model evaluated on a holdout:\n%s", out.String())
	}
}
