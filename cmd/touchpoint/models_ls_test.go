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
		{ID: "churn-gbdt-1", ModelKind: "gbdt", Version: 1, Status: "active", Metrics: protocol.ModelMetrics{AUC: 0.9239, Accuracy: 0.9535, TrainRows: 2666}, Trees: 67},
		{ID: "by-hand", ModelKind: "logistic", Version: 1, Status: "inactive"},
	}})
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"touchpoint", "--addr", f.url, "models", "ls"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 3 || !strings.Contains(lines[1], "0.9239") || !strings.Contains(lines[1], "2666") {
		t.Fatalf("trained model:\n%s", out.String())
	}
	if f := strings.Fields(lines[2]); len(f) < 7 || f[4] != "-" || f[5] != "-" || f[6] != "-" {
		t.Fatalf("hand-applied model:\n%s", out.String())
	}
}
