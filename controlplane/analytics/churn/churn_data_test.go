package churn

import (
	"os"
	"path/filepath"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
)

func loadFile(t testing.TB, path string) *Dataset {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, err := Load(f, LoadOptions{Label: "Churn"})
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return ds
}

func publishedSplit(t testing.TB) (train, test *Dataset) {
	t.Helper()
	dir := analyticstest.SharedData(t)
	return loadFile(t, filepath.Join(dir, "churn-bigml-80.csv")), loadFile(t, filepath.Join(dir, "churn-bigml-20.csv"))
}

func TestTrain_PublishedSplitAUC(t *testing.T) {
	train, test := publishedSplit(t)
	for _, tc := range []struct {
		kind string
		min  float64
	}{{KindGBDT, 0.92}, {KindLogistic, 0.80}} {
		t.Run(tc.kind, func(t *testing.T) {
			m, err := Train(train, Config{Kind: tc.kind})
			if err != nil {
				t.Fatal(err)
			}
			mt, err := EvaluateModel(m, test)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: auc %.4f accuracy %.4f trees %d", tc.kind, mt.AUC, mt.Accuracy, len(m.Trees))
			if mt.AUC < tc.min {
				t.Errorf("%s holdout AUC %.4f, want ≥ %.2f", tc.kind, mt.AUC, tc.min)
			}
		})
	}
}
