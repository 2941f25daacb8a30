package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
	"touchpoint.dev/touchpoint/controlplane/analytics/churn"
)

func TestModelsTrain_PublishedSplitAUC(t *testing.T) {
	data := analyticstest.SharedData(t)
	train, test := filepath.Join(data, "churn-bigml-80.csv"), filepath.Join(data, "churn-bigml-20.csv")
	for _, tc := range []struct {
		kind string
		min  float64
	}{{"gbdt", 0.92}, {"logistic", 0.80}} {
		t.Run(tc.kind, func(t *testing.T) {
			save := filepath.Join(t.TempDir(), "model.json")
			// Training is local: the address is never dialled.
			out := mustTP(t, "http://127.0.0.1:1", "unused", "models", "train", "--data", train, "--test", test,
				"--label", "Churn", "--kind", tc.kind, "--save", save, "-o", "json")
			var rep struct {
				ID      string `json:"id"`
				Kind    string `json:"kind"`
				Metrics struct {
					AUC      float64 `json:"auc"`
					Accuracy float64 `json:"accuracy"`
					Rows     int     `json:"rows"`
				} `json:"metrics"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if !strings.HasPrefix(rep.ID, "churn-"+tc.kind+"-") || rep.Kind != tc.kind {
				t.Errorf("id %q kind %q", rep.ID, rep.Kind)
			}
			if rep.Metrics.AUC < tc.min || rep.Metrics.Rows != 667 {
				t.Errorf("auc %.4f on %d rows, want ≥ %.2f on 667", rep.Metrics.AUC, rep.Metrics.Rows, tc.min)
			}
			doc, err := os.ReadFile(save)
			if err != nil {
				t.Fatal(err)
			}
			m, err := churn.Decode(doc)
			if err != nil {
				t.Fatalf("saved model: %v", err)
			}
			if m.Kind != tc.kind || m.Metrics == nil || m.Metrics.AUC != rep.Metrics.AUC {
				t.Errorf("saved model kind %q metrics %+v", m.Kind, m.Metrics)
			}
		})
	}
}

func TestModelsTrain_TableAndHoldout(t *testing.T) {
	data := analyticstest.SharedData(t)
	out := mustTP(t, "http://127.0.0.1:1", "", "models", "train", "--data", filepath.Join(data, "churn-bigml-80.csv"),
		"--holdout", "0.2", "--label", "Churn", "--kind", "logistic")
	for _, want := range []string{"ROC AUC", "accuracy@0.5", "PRECISION", "RECALL", "OBSERVED RATE", "0.9–1.0", "holdout: 534 rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestModelsTrain_BadInputsFail(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("x,Churn\n1,True\n2,perhaps\n3,False\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--data", filepath.Join(dir, "none.csv"), "--holdout", "0.2", "--label", "Churn"}, "no such file"},
		{"bad label", []string{"--data", bad, "--holdout", "0.2", "--label", "Churn"}, "line 3"},
		{"unknown label column", []string{"--data", bad, "--holdout", "0.2", "--label", "Left"}, `"Left" not in the header`},
		{"no evaluation set", []string{"--data", bad, "--label", "Churn"}, "--test FILE or --holdout"},
		{"bad kind", []string{"--data", bad, "--holdout", "0.2", "--label", "Churn", "--kind", "forest"}, "--kind"},
		{"bad fraction", []string{"--data", bad, "--holdout", "1.2", "--label", "Churn"}, "--holdout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := tp(t, "http://127.0.0.1:1", "", append([]string{"models", "train"}, tc.args...)...)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q: want non-zero and %q", code, errs, tc.want)
			}
		})
	}
}
