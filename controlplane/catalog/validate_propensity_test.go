package catalog_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/catalog"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func propensityDoc(fields string) string {
	return `{"kind":"PropensityTable","id":"default","segmentField":"rfmSegment","learnedAt":"2026-12-01T08:00:00Z","contacts":110,"priorStrength":2,` + fields + `}`
}

func TestParse_PropensityTable(t *testing.T) {
	d := parseOne(t, propensityDoc(`"arms":[{"offerId":"retain-10","segment":"champions","alpha":12.2,"beta":89.8,"n":100,"accepted":12},`+
		`{"offerId":"retain-10","segment":"lost","alpha":1.2,"beta":9.8,"n":10,"accepted":1}]`))
	var tab protocol.PropensityTable
	if err := json.Unmarshal(d.JSON, &tab); err != nil {
		t.Fatal(err)
	}
	if d.Kind != protocol.KindPropensities || len(tab.Arms) != 2 || tab.Explore() != protocol.DefaultExploreBelow || tab.Table().Arms[1].Segment != "lost" {
		t.Fatalf("parsed %+v", tab)
	}
	if k, ok := protocol.KindFromPlural("propensities"); !ok || k != protocol.KindPropensities {
		t.Errorf("get propensities: %v %v", k, ok)
	}
	// An empty table (nothing learned yet) is valid.
	parseOne(t, propensityDoc(`"arms":[]`))
}

func TestParse_PropensityTableRefusesBadTables(t *testing.T) {
	arm := func(offer, seg string, a, b float64, n, acc int) string {
		raw, _ := json.Marshal(map[string]any{"offerId": offer, "segment": seg, "alpha": a, "beta": b, "n": n, "accepted": acc})
		return string(raw)
	}
	for _, tc := range []struct {
		name, doc string
		code      api.Code
		field     string
	}{
		{"unsorted arms", propensityDoc(`"arms":[` + arm("b", "", 1, 1, 0, 0) + `,` + arm("a", "", 1, 1, 0, 0) + `]`), api.CodeInvalidField, "arms"},
		{"repeated arm", propensityDoc(`"arms":[` + arm("a", "x", 1, 1, 0, 0) + `,` + arm("a", "x", 1, 1, 0, 0) + `]`), api.CodeInvalidField, "arms"},
		{"accepted above n", propensityDoc(`"arms":[` + arm("a", "", 3, 1, 1, 2) + `]`), api.CodeInvalidField, "arms"},
		{"alpha 0", propensityDoc(`"arms":[` + arm("a", "", 0, 1, 0, 0) + `]`), api.CodeInvalidField, "arms"},
		{"unknown arm field", propensityDoc(`"arms":[{"offerId":"a","segment":"","alpha":1,"beta":1,"n":0,"accepted":0,"mean":0.5}]`), api.CodeUnknownField, ""},
		{"explore below -2", propensityDoc(`"exploreBelow":-2,"arms":[]`), api.CodeInvalidField, "exploreBelow"},
		{"bad learnedAt", strings.Replace(propensityDoc(`"arms":[]`), "2026-12-01T08:00:00Z", "yesterday", 1), api.CodeInvalidField, "learnedAt"},
		{"prior strength 0", strings.Replace(propensityDoc(`"arms":[]`), `"priorStrength":2`, `"priorStrength":0`, 1), api.CodeInvalidField, "arms"},
	} {
		_, err := catalog.Parse([]byte(tc.doc))
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != tc.code || (tc.field != "" && ae.Field != tc.field) {
			t.Errorf("%s: %v, want %s on %q", tc.name, err, tc.code, tc.field)
		}
	}
}
