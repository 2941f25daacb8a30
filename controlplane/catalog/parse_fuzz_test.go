package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/catalog"
	"touchpoint.dev/touchpoint/protocol/api"
)

// fuzzSeeds are realistic requests and the hostile shapes a parser meets.
var fuzzSeeds = []string{
	retainOfferYAML,
	retainOfferCanonical,
	"[" + retainOfferCanonical + "]",
	"---\n" + planYAML + "---\n" + retainOfferYAML + "---\n" + campaignYAML + "---\n" + policyYAML,
	`[{"kind":"Plan","id":"pro-98","monthlyFee":98},{"kind":"Offer","id":"move","category":"tariff","value":1,"cost":0,"planId":"pro-98"},{"kind":"Campaign","id":"c","offers":["move"],"controlGroupPercent":5}]`,
	"kind: Offer\nid: o\ncategory: care\nvalue: 0\ncost: 0\nsuppression: {declines: 3, days: 30, pauseDays: 90}\nvalidFrom: 2026-01-01T00:00:00+08:00\nvalidUntil: 2026-12-31T23:59:59+08:00\n",
	// YAML alias bomb.
	"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nkind: Plan\nid: p\n",
	"kind: Campaign\nid: c1\noffers: &o [o1]\nchannels: *o\n",
	// Deep nesting.
	"kind: Plan\nid: p\nx: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n",
	`{"kind":"Plan","id":"p","x":` + strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100) + "}",
	strings.Repeat("- ", 100) + "x\n",
	// Huge and NaN-like numbers.
	"kind: Plan\nid: p\nmonthlyFee: 99999999999999999999999999999\ndataMB: 1.7976931348623157e308\n",
	"kind: Plan\nid: p\nmonthlyFee: 1e999\n",
	`{"kind":"Plan","id":"p","monthlyFee":1e400}`,
	`{"kind":"Plan","id":"p","monthlyFee":-0}`,
	"kind: Offer\nid: o\ncategory: care\nvalue: .nan\ncost: .inf\n",
	"kind: Offer\nid: o\ncategory: care\nvalue: NaN\ncost: -.Inf\n",
	`{"kind":"Offer","id":"o","category":"care","value":NaN,"cost":0}`,
	"kind: Offer\nid: o\ncategory: care\nvalue: 0x1F\ncost: 0o17\nvolumeCap: 1_000\n",
	// Odd but legal shapes.
	"kind: !!str Plan\nid: !!str 42\nmonthlyFee: !!float 1\n",
	"kind: Plan\nid: p\nmonthlyFee: 1\ndescription: |\n  line one\n  <b>&amp;</b> \u2028\n",
	`{"KIND":"Plan","Id":"p","MonthlyFee":1}`,
	`{"kind":"Plan","id":"p","monthlyFee":1,"monthlyFee":2}`,
	"\ufeffkind: Plan\nid: p\nmonthlyFee: 1\n",
	"{\"kind\":\"Plan\",\"id\":\"p\",\"description\":\"\xff\xfe\",\"monthlyFee\":1}",
	// Models: a logistic body, a gbdt body, thresholds only in the body.
	`{"kind":"Model","id":"m","modelKind":"logistic","version":1,"model":{"kind":"logistic","features":[{"name":"x","kind":"numeric","mean":1,"std":2,"median":1},{"name":"p","kind":"categorical","levels":["a","b"]}],"baseScore":-1,"coefficients":[1,2,3]}}`,
	`{"kind":"Model","id":"g","modelKind":"gbdt","version":2,"status":"active","thresholds":{"medium":0.2,"high":0.4,"critical":0.8},"model":{"features":[{"name":"x","kind":"numeric","std":1,"missingIndicator":true}],"trees":[{"feature":[1,-1,-1],"threshold":[0.5,0,0],"left":[1,-1,-1],"right":[2,-1,-1],"value":[0,-1,1]}]}}`,
	"kind: Model\nid: y\nmodelKind: logistic\nversion: 1\nmodel:\n  kind: logistic\n  features: [{name: x, kind: numeric, std: 1}]\n  coefficients: [0.5]\n  warningThresholds: {medium: 0.1, high: 0.2, critical: 0.3}\n",
	"---\n---\n",
	"[]",
	"null",
	"",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		docs, err := catalog.Parse(body)
		if err != nil {
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code == "" {
				t.Fatalf("error %T %v is not an *api.Error with a code", err, err)
			}
			if docs != nil {
				t.Fatalf("documents returned with an error")
			}
			return
		}
		if len(docs) == 0 || len(docs) > catalog.MaxDocuments {
			t.Fatalf("accepted %d documents", len(docs))
		}
		for i, d := range docs {
			// The canonical JSON is itself an accepted request that
			// parses to exactly the same document.
			again, err := catalog.Parse(d.JSON)
			if err != nil {
				t.Fatalf("document %d: canonical JSON %s is refused: %v", i, d.JSON, err)
			}
			if len(again) != 1 {
				t.Fatalf("document %d: canonical JSON parses to %d documents", i, len(again))
			}
			a := again[0]
			if a.Kind != d.Kind || a.ID != d.ID || string(a.JSON) != string(d.JSON) {
				t.Fatalf("document %d: canonical JSON is not stable:\n first %s/%s %s\nsecond %s/%s %s", i, d.Kind, d.ID, d.JSON, a.Kind, a.ID, a.JSON)
			}
			if len(a.Refs) != len(d.Refs) {
				t.Fatalf("document %d: refs %v became %v", i, d.Refs, a.Refs)
			}
			for j := range a.Refs {
				if a.Refs[j] != d.Refs[j] {
					t.Fatalf("document %d: refs %v became %v", i, d.Refs, a.Refs)
				}
			}
		}
	})
}
