package churn

import (
	"math"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

func TestLoad_LabelsAnyCaseAndIDExcluded(t *testing.T) {
	csv := "id,plan,minutes,churn\n" +
		"a,basic,10,True\nb,gold,20,no\nc,basic,,YES\nd, ,5.5,0\ne,gold,7,1\nf,basic,3,FALSE\n"
	ds, err := Load(strings.NewReader(csv), LoadOptions{Label: "churn", ID: "id"})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := []bool{true, false, true, false, true, false}
	for i, l := range wantLabels {
		if ds.Labels[i] != l {
			t.Errorf("row %d label %v, want %v", i, ds.Labels[i], l)
		}
	}
	if len(ds.Columns) != 2 || ds.Columns[0].Name != "plan" || ds.Columns[1].Name != "minutes" {
		t.Fatalf("columns %+v: want plan, minutes (id and label excluded)", ds.Columns)
	}
	if !ds.Columns[0].Categorical || ds.Columns[1].Categorical {
		t.Errorf("plan categorical %v, minutes categorical %v: want true, false", ds.Columns[0].Categorical, ds.Columns[1].Categorical)
	}
	if ds.IDs[3] != "d" || ds.Columns[0].Cells[3] != "" || ds.Columns[1].Cells[2] != "" {
		t.Errorf("ids %v cells %v %v: whitespace and blank cells should be missing", ds.IDs, ds.Columns[0].Cells, ds.Columns[1].Cells)
	}
}

func TestLoad_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, csv, want string
	}{
		{"bad label names the line", "x,Churn\n1,True\n2,maybe\n", "line 3"},
		{"no label column", "x,y\n1,2\n", `label column "Churn" not in the header`},
		{"empty", "", "no header"},
		{"header only", "x,Churn\n", "no data rows"},
		{"ragged row", "x,Churn\n1,True,3\n", "wrong number of fields"},
		{"duplicate header", "x,x,Churn\n1,2,True\n", "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.csv), LoadOptions{Label: "Churn"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSplit_StratifiedKeepsLabelRatio(t *testing.T) {
	train, _ := publishedSplit(t)
	tr, ho, err := train.Split(0.2, NewRand(DefaultSeed))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len()+ho.Len() != train.Len() {
		t.Fatalf("%d + %d rows, want %d", tr.Len(), ho.Len(), train.Len())
	}
	ratio := func(d *Dataset) float64 { return float64(d.Positives()) / float64(d.Len()) }
	if math.Abs(ratio(tr)-ratio(train)) > 0.002 || math.Abs(ratio(ho)-ratio(train)) > 0.002 {
		t.Errorf("churn rate all %.4f train %.4f holdout %.4f: want the same to 0.002", ratio(train), ratio(tr), ratio(ho))
	}
	if got, want := ho.Len(), int(0.2*float64(train.Len())+0.5); got < want-1 || got > want+1 {
		t.Errorf("holdout %d rows, want about %d", got, want)
	}
	tr2, _, _ := train.Split(0.2, NewRand(DefaultSeed))
	for j := range tr.Columns {
		for i := range tr.Columns[j].Cells {
			if tr.Columns[j].Cells[i] != tr2.Columns[j].Cells[i] {
				t.Fatal("the same seed gave a different split")
			}
		}
	}
	if _, _, err := train.Split(1.5, NewRand(DefaultSeed)); err == nil {
		t.Error("holdout 1.5 accepted")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("x,plan,Churn\n1,a,True\n2,b,False\n,,yes\n")
	f.Add("Churn\n1\n0\n")
	f.Add("a,Churn\n\"q\"\"\",No\n")
	f.Add("x,Churn\n1e999,true\nNaN,false\n")
	f.Fuzz(func(t *testing.T, data string) {
		ds, err := Load(strings.NewReader(data), LoadOptions{Label: "Churn", ID: "id"})
		if err != nil {
			return
		}
		for _, c := range ds.Columns {
			if len(c.Cells) != ds.Len() {
				t.Fatalf("column %q has %d cells for %d rows", c.Name, len(c.Cells), ds.Len())
			}
		}
		enc, err := churnmodel.NewEncoder(FitFeatures(ds))
		if err != nil {
			t.Fatalf("spec from loaded data does not encode: %v", err)
		}
		for _, r := range encodeDataset(enc, ds) {
			for _, v := range r {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("encoded %v", r)
				}
			}
		}
	})
}
