package catalog_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
	"touchpoint.dev/touchpoint/controlplane/analytics/churn"
	"touchpoint.dev/touchpoint/controlplane/catalog"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// tinyModel is a logistic model over one numeric and one categorical
// feature (three inputs), small enough to write by hand.
const tinyModel = `{"kind":"logistic","features":[{"name":"minutes","kind":"numeric","mean":100,"std":50,"median":90},` +
	`{"name":"plan","kind":"categorical","levels":["basic","gold"]}],"baseScore":-1,"coefficients":[1.5,0.5,-0.5]}`

func modelDoc(fields string) string {
	return `{"kind":"Model","id":"churn-main","modelKind":"logistic","version":1,"status":"inactive",` +
		`"createdAt":"2026-12-01T08:00:00Z","metrics":{"auc":0.81,"accuracy":0.85,"trainRows":2666},` + fields + `}`
}

func TestParse_ModelCanonicalForm(t *testing.T) {
	d := parseOne(t, `{"kind":"Model","id":"churn-main","modelKind":"logistic","version":3,"metrics":{"auc":0.8,"accuracy":0.9,"trainRows":10},"model":`+tinyModel+`}`)
	var m protocol.Model
	if err := json.Unmarshal(d.JSON, &m); err != nil {
		t.Fatal(err)
	}
	if m.Status != protocol.ModelInactive || m.Thresholds != churnmodel.DefaultWarningThresholds || m.Version != 3 {
		t.Errorf("status %q thresholds %+v version %d: want inactive, the defaults and 3", m.Status, m.Thresholds, m.Version)
	}
	if m.Body == nil || m.Body.Kind != churnmodel.KindLogistic || m.Body.Warning != m.Thresholds {
		t.Fatalf("body %+v: want the document's kind and thresholds", m.Body)
	}
	// The canonical body scores on its own, as the agent will.
	p := m.Body.Score(map[string]any{"minutes": 200.0, "plan": "basic"})
	want := churnmodel.Sigmoid(-1 + 1.5*2 + 0.5)
	if d := p - want; d > 1e-12 || d < -1e-12 {
		t.Errorf("score %v, want %v", p, want)
	}

	// Thresholds given at the top level win over the body's.
	d = parseOne(t, modelDoc(`"thresholds":{"medium":0.2,"high":0.4,"critical":0.6},"model":`+
		strings.Replace(tinyModel, `"baseScore"`, `"warningThresholds":{"medium":0.3,"high":0.5,"critical":0.9},"baseScore"`, 1)))
	if err := json.Unmarshal(d.JSON, &m); err != nil {
		t.Fatal(err)
	}
	if want := (churnmodel.WarningThresholds{Medium: 0.2, High: 0.4, Critical: 0.6}); m.Thresholds != want || m.Body.Warning != want {
		t.Errorf("thresholds %+v, body %+v: want %+v in both", m.Thresholds, m.Body.Warning, want)
	}
}

func TestParse_ModelRejectsBadDocuments(t *testing.T) {
	body := `"model":` + tinyModel
	for _, tc := range []struct {
		name  string
		doc   string
		code  api.Code
		field string
	}{
		{"no modelKind", `{"kind":"Model","id":"m","version":1,` + body + `}`, api.CodeMissingField, "modelKind"},
		{"unknown modelKind", strings.Replace(modelDoc(body), `"logistic","version"`, `"forest","version"`, 1), api.CodeInvalidField, "modelKind"},
		{"no version", strings.Replace(modelDoc(body), `"version":1,`, ``, 1), api.CodeMissingField, "version"},
		{"negative version", strings.Replace(modelDoc(body), `"version":1`, `"version":-2`, 1), api.CodeInvalidField, "version"},
		{"fractional version", strings.Replace(modelDoc(body), `"version":1`, `"version":1.5`, 1), api.CodeInvalidField, "version"},
		{"bad status", strings.Replace(modelDoc(body), `"inactive"`, `"live"`, 1), api.CodeInvalidField, "status"},
		{"bad createdAt", strings.Replace(modelDoc(body), `2026-12-01T08:00:00Z`, `yesterday`, 1), api.CodeInvalidField, "createdAt"},
		{"auc above 1", strings.Replace(modelDoc(body), `"auc":0.81`, `"auc":1.3`, 1), api.CodeInvalidField, "metrics.auc"},
		{"negative trainRows", strings.Replace(modelDoc(body), `"trainRows":2666`, `"trainRows":-1`, 1), api.CodeInvalidField, "metrics.trainRows"},
		{"unknown metric", strings.Replace(modelDoc(body), `"auc":0.81`, `"AUC":0.81`, 1), api.CodeUnknownField, "metrics.AUC"},
		{"thresholds out of order", modelDoc(`"thresholds":{"medium":0.6,"high":0.5,"critical":0.7},` + body), api.CodeInvalidField, "thresholds"},
		{"threshold above 1", modelDoc(`"thresholds":{"medium":0.3,"high":0.5,"critical":1.5},` + body), api.CodeInvalidField, "thresholds"},
		{"no body", modelDoc(`"label":"Churn"`), api.CodeMissingField, "model"},
		{"body of another kind", modelDoc(strings.Replace(body, `"kind":"logistic"`, `"kind":"gbdt"`, 1)), api.CodeInvalidField, "model.kind"},
		{"unknown body field", modelDoc(strings.Replace(body, `"baseScore"`, `"bias":1,"baseScore"`, 1)), api.CodeUnknownField, "model.bias"},
		{"unknown feature field", modelDoc(strings.Replace(body, `"mean":100`, `"avg":100`, 1)), api.CodeUnknownField, "model.features[0].avg"},
		{"unknown tree field", `{"kind":"Model","id":"m","modelKind":"gbdt","version":1,"model":{"kind":"gbdt","features":[{"name":"x","kind":"numeric","std":1}],` +
			`"trees":[{"feature":[-1],"threshold":[0],"left":[-1],"right":[-1],"value":[0]},{"feature":[-1],"threshold":[0],"left":[-1],"right":[-1],"values":[0]}]}}`, api.CodeUnknownField, "model.trees[1].values"},
		{"coefficients do not match inputs", modelDoc(strings.Replace(body, `[1.5,0.5,-0.5]`, `[1.5,0.5]`, 1)), api.CodeInvalidModel, "model"},
		{"bad feature kind", modelDoc(strings.Replace(body, `"kind":"categorical"`, `"kind":"text"`, 1)), api.CodeInvalidModel, "model"},
		{"zero std", modelDoc(strings.Replace(body, `"std":50`, `"std":0`, 1)), api.CodeInvalidModel, "model"},
		{"gbdt child before parent", `{"kind":"Model","id":"m","modelKind":"gbdt","version":1,"model":{"kind":"gbdt","features":[{"name":"x","kind":"numeric","std":1}],` +
			`"trees":[{"feature":[0,-1,-1],"threshold":[0,0,0],"left":[0,-1,-1],"right":[2,-1,-1],"value":[0,1,2]}]}}`, api.CodeInvalidModel, "model"},
		{"gbdt ragged arrays", `{"kind":"Model","id":"m","modelKind":"gbdt","version":1,"model":{"kind":"gbdt","features":[{"name":"x","kind":"numeric","std":1}],` +
			`"trees":[{"feature":[-1],"threshold":[0,0],"left":[-1],"right":[-1],"value":[0]}]}}`, api.CodeInvalidModel, "model"},
		{"body is not an object", modelDoc(`"model":[1,2]`), api.CodeInvalidField, "model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalog.Parse([]byte(tc.doc))
			var ae *api.Error
			if !errors.As(err, &ae) {
				t.Fatalf("Parse accepted %s (err %v)", tc.doc, err)
			}
			if ae.Code != tc.code || ae.Field != tc.field {
				t.Errorf("got %s on %q (%s); want %s on %q", ae.Code, ae.Field, ae.Message, tc.code, tc.field)
			}
		})
	}
}

func TestParse_ModelTooLargeIsRefused(t *testing.T) {
	// A logistic model with enough one-hot levels to pass the limit.
	levels := make([]string, 0, 60000)
	coef := make([]string, 0, 60000)
	for i := range 60000 {
		levels = append(levels, fmt.Sprintf(`"level-%06d"`, i))
		coef = append(coef, "0.125")
	}
	body := `{"kind":"logistic","features":[{"name":"plan","kind":"categorical","levels":[` + strings.Join(levels, ",") +
		`]}],"baseScore":0,"coefficients":[` + strings.Join(coef, ",") + `]}`
	_, err := catalog.Parse([]byte(modelDoc(`"model":` + body)))
	if api.CodeOf(err) != api.CodeBodyTooLarge {
		t.Fatalf("a %d-byte model: %v, want %s", len(body), err, api.CodeBodyTooLarge)
	}
}

// TestParse_RealTrained200TreeModelRoundTrips trains a 200-tree GBDT on
// the published churn data, stores it as a catalogue document and checks
// its size against the limits on the way to the agents, and that the
// canonical document scores every test customer exactly as the trained
// model does.
func TestParse_RealTrained200TreeModelRoundTrips(t *testing.T) {
	dir := analyticstest.SharedData(t)
	load := func(name string) *churn.Dataset {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ds, err := churn.Load(f, churn.LoadOptions{Label: "Churn"})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	train, test := load("churn-bigml-80.csv"), load("churn-bigml-20.csv")
	m, err := churn.Train(train, churn.Config{Kind: churn.KindGBDT, GBDT: churn.GBDTConfig{Trees: 200, KeepAll: true}})
	if err != nil {
		t.Fatal(err)
	}
	mt, err := churn.EvaluateModel(m, test)
	if err != nil {
		t.Fatal(err)
	}
	doc := protocol.Model{
		Kind: protocol.KindModel, ID: "churn-gbdt-200", ModelKind: churnmodel.KindGBDT, Version: 1, Label: "Churn",
		Status: protocol.ModelActive, CreatedAt: "2026-12-01T08:00:00Z",
		Metrics: protocol.ModelMetrics{AUC: mt.AUC, Accuracy: mt.Accuracy, LogLoss: mt.LogLoss, TrainRows: train.Len(), TestRows: mt.Rows, Trees: len(m.Trees)},
		Body:    m,
	}
	raw, err := json.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	d := parseOne(t, string(raw))
	const adminBodyLimit, fsmApplyLimit = 2 << 20, 3 << 20
	t.Logf("200-tree GBDT: %d bytes as applied, %d canonical (limit %d; admin body %d, FSM apply %d)", len(raw), len(d.JSON), catalog.MaxModelBytes, adminBodyLimit, fsmApplyLimit)
	// Margin: the model fits four times over in the model limit, and an
	// activation (two models in one entry) fits the FSM's apply limit.
	if len(d.JSON) > catalog.MaxModelBytes/4 || 2*catalog.MaxModelBytes > fsmApplyLimit || catalog.MaxModelBytes > adminBodyLimit/2 {
		t.Errorf("a %d-byte model leaves too little margin under %d", len(d.JSON), catalog.MaxModelBytes)
	}
	var back protocol.Model
	if err := json.Unmarshal(d.JSON, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Body.Prepare(); err != nil {
		t.Fatal(err)
	}
	if len(back.Body.Trees) != 200 || back.Metrics.AUC != mt.AUC {
		t.Fatalf("%d trees, auc %v: want 200 and %v", len(back.Body.Trees), back.Metrics.AUC, mt.AUC)
	}
	want, _ := churn.PredictDataset(m, test)
	for r := range test.Len() {
		attrs := map[string]any{}
		for _, c := range test.Columns {
			if v, ok := churnmodel.ParseNumber(c.Cells[r]); ok && !c.Categorical {
				attrs[c.Name] = v
			} else if c.Cells[r] != "" {
				attrs[c.Name] = c.Cells[r]
			}
		}
		if got := back.Body.Score(attrs); got != want[r] {
			t.Fatalf("row %d: %v from the catalogue, %v trained", r, got, want[r])
		}
	}
}
