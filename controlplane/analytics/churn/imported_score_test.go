package churn_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
	"touchpoint.dev/touchpoint/controlplane/analytics/churn"
	"touchpoint.dev/touchpoint/protocol/attrtext"
)

// importTyped types one CSV cell as `touchpoint customers import` does
// (docs/CUSTOMERS.md), with its rules (protocol/attrtext): blank is
// missing, yes/no/true/false a boolean, a decimal number a float64,
// anything else trimmed text. The published churn data has no personal
// columns, so this is the whole rule for it.
func importTyped(cell string) (any, bool) {
	v := strings.TrimSpace(cell)
	if v == "" {
		return nil, false
	}
	if b, ok := attrtext.Bool(v); ok {
		return b, true
	}
	if f, ok := attrtext.Number(v); ok {
		return f, true
	}
	return v, true
}

// TestScore_ImportedBooleansMeetTheTrainedYesNoLevels is the documented
// workflow on the published data: train on churn-bigml-80.csv as `models
// train` does (both kinds, default seed), import churn-bigml-20.csv as
// customers (its Yes/No plan cells become booleans) and score them. Every
// customer must score exactly as its row does offline, where the plans are
// the text the model learnt its levels from. It lives with the training,
// which it needs for the model; the matching it checks is
// protocol/churnmodel's.
func TestScore_ImportedBooleansMeetTheTrainedYesNoLevels(t *testing.T) {
	dir := analyticstest.SharedData(t)
	load := func(name string) *churn.Dataset {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ds, err := churn.Load(f, churn.LoadOptions{Label: "Churn"})
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		return ds
	}
	train, test := load("churn-bigml-80.csv"), load("churn-bigml-20.csv")
	f, err := os.Open(filepath.Join(dir, "churn-bigml-20.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := rows[0], rows[1:]
	if len(rows) != test.Len() {
		t.Fatalf("%d rows read, %d loaded", len(rows), test.Len())
	}
	for _, kind := range []string{churn.KindGBDT, churn.KindLogistic} {
		t.Run(kind, func(t *testing.T) {
			m, err := churn.Train(train, churn.Config{Kind: kind})
			if err != nil {
				t.Fatal(err)
			}
			offline, err := churn.PredictDataset(m, test)
			if err != nil {
				t.Fatal(err)
			}
			bools, flaggedText, flaggedImported := 0, 0, 0
			for r, rec := range rows {
				text, imported := map[string]any{}, map[string]any{}
				for i, name := range header {
					if name == "Churn" {
						continue
					}
					if s := strings.TrimSpace(rec[i]); s != "" {
						text[name] = s
					}
					if v, ok := importTyped(rec[i]); ok {
						imported[name] = v
						if _, ok := v.(bool); ok {
							bools++
						}
					}
				}
				pt, pi := m.Score(text), m.Score(imported)
				if pt >= 0.5 {
					flaggedText++
				}
				if pi >= 0.5 {
					flaggedImported++
				}
				if pt != offline[r] {
					t.Errorf("line %d: %v scored from text, %v offline", r+2, pt, offline[r])
				}
				if pi != pt {
					t.Errorf("line %d: %v scored as imported (International plan %v, Voice mail plan %v), %v as text",
						r+2, pi, imported["International plan"], imported["Voice mail plan"], pt)
				}
			}
			t.Logf("%d rows, %d boolean cells; flagged ≥ 0.5: %d as text, %d as imported", len(rows), bools, flaggedText, flaggedImported)
			if bools != 2*len(rows) {
				t.Fatalf("%d boolean cells, want the two plans of every row (%d)", bools, 2*len(rows))
			}
		})
	}
}
