package catalog_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/catalog"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

const retainOfferYAML = `kind: Offer
id: retain-10
name: 10% off for 6 months
category: retention
value: 60
cost: 5
channels: [kiosk, ivr]
eligibility: profile.tenureMonths >= 6
`

// retainOfferCanonical is retainOfferYAML in canonical JSON: the field order
// of protocol.Offer, zero values of omitempty fields left out.
const retainOfferCanonical = `{"kind":"Offer","id":"retain-10","name":"10% off for 6 months","category":"retention","value":60,"cost":5,"channels":["kiosk","ivr"],"eligibility":"profile.tenureMonths >= 6"}`

const planYAML = `kind: Plan
id: pro-98
name: Pro 98
monthlyFee: 98
dataMB: 40960
voiceMinutes: 500
`

const campaignYAML = `kind: Campaign
id: winback-q2
segment: profile.churnScore > 0.7 && context.channel == "ivr"
offers: [retain-10]
channels: [ivr]
startAt: 2026-04-01T00:00:00+08:00
endAt: 2026-06-30T23:59:59+08:00
controlGroupPercent: 10
`

const policyYAML = `kind: ContactPolicy
id: weekly-cap
channel: all
maxContacts: 3
window: 168h
quietHours: {start: "21:00", end: "08:00", timezone: UTC}
`

func parseOne(t *testing.T, body string) catalog.Doc {
	t.Helper()
	docs, err := catalog.Parse([]byte(body))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", body, err)
	}
	if len(docs) != 1 {
		t.Fatalf("parsed %d documents, want 1", len(docs))
	}
	return docs[0]
}

func TestParse_OfferCanonicalJSON(t *testing.T) {
	d := parseOne(t, retainOfferYAML)
	if d.Kind != protocol.KindOffer || d.ID != "retain-10" || len(d.Refs) != 0 {
		t.Errorf("doc = %s/%s refs %v", d.Kind, d.ID, d.Refs)
	}
	if string(d.JSON) != retainOfferCanonical {
		t.Errorf("canonical JSON\n got %s\nwant %s", d.JSON, retainOfferCanonical)
	}
	var o protocol.Offer
	if err := json.Unmarshal(d.JSON, &o); err != nil {
		t.Fatal(err)
	}
	if o.ID != "retain-10" || o.Value != 60 || o.Cost != 5 || o.Eligibility != "profile.tenureMonths >= 6" {
		t.Errorf("offer = %+v", o)
	}

	// The same document written as JSON has the same canonical form.
	for _, body := range []string{retainOfferCanonical, "[" + retainOfferCanonical + "]", "\n  " + retainOfferCanonical + "\n"} {
		if d := parseOne(t, body); string(d.JSON) != retainOfferCanonical {
			t.Errorf("JSON input %s: canonical %s", body, d.JSON)
		}
	}
}

func TestParse_MultipleDocuments(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // kind/id -> refs
	}{
		{"YAML stream", "---\n" + planYAML + "---\n" + retainOfferYAML + "---\n" + campaignYAML + "---\n" + policyYAML,
			[]string{"Plan/pro-98 []", "Offer/retain-10 []", "Campaign/winback-q2 [{Offer retain-10}]", "ContactPolicy/weekly-cap []"}},
		{"empty YAML documents are skipped", "---\n---\n" + planYAML + "---\n\n---\n# only a comment\n",
			[]string{"Plan/pro-98 []"}},
		{"JSON array", `[{"kind":"Plan","id":"p1","monthlyFee":1},{"kind":"Offer","id":"move","category":"tariff","value":1,"cost":0,"planId":"p1"}]`,
			[]string{"Plan/p1 []", "Offer/move [{Plan p1}]"}},
		{"same id in different kinds", "kind: Plan\nid: x\nmonthlyFee: 1\n---\nkind: Offer\nid: x\ncategory: care\nvalue: 0\ncost: 0\n",
			[]string{"Plan/x []", "Offer/x []"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := catalog.Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, fmt.Sprintf("%s/%s %v", d.Kind, d.ID, d.Refs))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("docs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParse_Rejects(t *testing.T) {
	offer := func(extra string) string {
		return "kind: Offer\nid: o1\ncategory: retention\nvalue: 10\ncost: 1\n" + extra
	}
	campaign := func(extra string) string {
		return "kind: Campaign\nid: c1\noffers: [o1]\n" + extra
	}
	policy := func(extra string) string {
		return "kind: ContactPolicy\nid: p1\nchannel: sms\nmaxContacts: 2\n" + extra
	}
	longRule := "profile.segment == \"" + strings.Repeat("a", catalog.MaxRuleLength) + "\""
	var manyYAML, manyJSON strings.Builder
	manyJSON.WriteString("[")
	for i := 0; i <= catalog.MaxDocuments; i++ {
		fmt.Fprintf(&manyYAML, "---\nkind: Plan\nid: p%d\nmonthlyFee: 1\n", i)
		if i > 0 {
			manyJSON.WriteString(",")
		}
		fmt.Fprintf(&manyJSON, `{"kind":"Plan","id":"p%d","monthlyFee":1}`, i)
	}
	manyJSON.WriteString("]")

	const noDoc = -1
	tests := []struct {
		name      string
		body      string
		wantCode  api.Code
		wantField string
		wantDoc   int
		wantMsg   string // part of the message, when it matters
	}{
		{"unknown field", offer("colour: red\n"), api.CodeUnknownField, "colour", 0, "colour"},
		{"unknown nested field", policy("window: 24h\nquietHours: {start: \"21:00\", end: \"08:00\", zone: UTC}\n"), api.CodeUnknownField, "quietHours.zone", 0, ""},
		{"field name in the wrong case (JSON)", `{"kind":"Offer","id":"o1","category":"care","VALUE":1,"cost":0}`, api.CodeUnknownField, "VALUE", 0, "case-sensitive"},
		{"field name in the wrong case (YAML)", "kind: Plan\nid: p1\nMonthlyFee: 1\n", api.CodeUnknownField, "MonthlyFee", 0, ""},
		{"repeated key in JSON", `{"kind":"Offer","id":"o1","category":"care","value":1,"value":2,"cost":0}`, api.CodeInvalidDocument, "value", 0, "twice"},
		{"id starting with a dot", "kind: Plan\nid: ..\nmonthlyFee: 1\n", api.CodeInvalidField, "id", 0, "start with"},
		{"empty offer id in a campaign", "kind: Campaign\nid: c1\noffers: [\"\"]\n", api.CodeInvalidField, "offers", 0, ""},
		{"window under a second", "kind: ContactPolicy\nid: p\nchannel: all\nmaxContacts: 1\nwindow: 1ms\n", api.CodeInvalidField, "window", 0, ""},
		{"wrong type", strings.Replace(offer(""), "value: 10", "value: \"sixty\"", 1), api.CodeInvalidField, "value", 0, ""},
		{"wrong type in JSON", `{"kind":"Offer","id":"o1","category":"care","value":"sixty","cost":0}`, api.CodeInvalidField, "value", 0, ""},
		{"number out of range", `{"kind":"Offer","id":"o1","category":"care","value":1e400,"cost":0}`, api.CodeInvalidField, "value", 0, ""},
		{"kind not a string", `{"kind":1,"id":"o1"}`, api.CodeInvalidField, "", 0, ""},
		{"missing kind", "id: o1\ncategory: care\n", api.CodeMissingField, "kind", 0, ""},
		{"empty kind", "kind: \"\"\nid: o1\n", api.CodeMissingField, "kind", 0, ""},
		{"missing id", "kind: Offer\ncategory: care\n", api.CodeMissingField, "id", 0, ""},
		{"empty id", "kind: Offer\nid: \"\"\ncategory: care\n", api.CodeMissingField, "id", 0, ""},
		{"bad id characters", "kind: Plan\nid: a b\nmonthlyFee: 1\n", api.CodeInvalidField, "id", 0, ""},
		{"id too long", "kind: Plan\nid: " + strings.Repeat("x", catalog.MaxIDLength+1) + "\nmonthlyFee: 1\n", api.CodeInvalidField, "id", 0, ""},
		{"unknown kind", "kind: Coupon\nid: c1\n", api.CodeUnknownKind, "kind", 0, "Coupon"},
		{"kind in the wrong case", "kind: offer\nid: c1\n", api.CodeUnknownKind, "kind", 0, ""},
		{"invalid rule", offer("eligibility: profile.tenureMonths >=\n"), api.CodeInvalidRule, "eligibility", 0, ""},
		{"rule not boolean", offer("suitability: \"'yes'\"\n"), api.CodeInvalidRule, "suitability", 0, ""},
		{"rule over the length limit", offer("applicability: '" + longRule + "'\n"), api.CodeInvalidRule, "applicability", 0, "limit"},
		{"invalid campaign segment", campaign("segment: profile.a ==\n"), api.CodeInvalidRule, "segment", 0, ""},
		{"duplicate document", planYAML + "---\n" + retainOfferYAML + "---\n" + planYAML, api.CodeDuplicateDocument, "id", 2, "document 0"},
		{"duplicate in JSON array", `[{"kind":"Plan","id":"p","monthlyFee":1},{"kind":"Plan","id":"p","monthlyFee":2}]`, api.CodeDuplicateDocument, "id", 1, ""},
		{"control group over 100", campaign("controlGroupPercent: 101\n"), api.CodeInvalidField, "controlGroupPercent", 0, ""},
		{"control group negative", campaign("controlGroupPercent: -1\n"), api.CodeInvalidField, "controlGroupPercent", 0, ""},
		{"negative value", strings.Replace(offer(""), "value: 10", "value: -10", 1), api.CodeInvalidField, "value", 0, ""},
		{"negative cost", strings.Replace(offer(""), "cost: 1", "cost: -0.5", 1), api.CodeInvalidField, "cost", 0, ""},
		{"propensity over 1", offer("propensity: 1.5\n"), api.CodeInvalidField, "propensity", 0, ""},
		{"negative volume cap", offer("volumeCap: -1\n"), api.CodeInvalidField, "volumeCap", 0, ""},
		{"fractional volume cap", offer("volumeCap: 1.5\n"), api.CodeInvalidField, "volumeCap", 0, ""},
		{"suppression without days", offer("suppression: {declines: 2, days: 0, pauseDays: 30}\n"), api.CodeInvalidField, "suppression", 0, ""},
		{"unknown category", strings.Replace(offer(""), "retention", "bribe", 1), api.CodeInvalidField, "category", 0, ""},
		{"missing category", "kind: Offer\nid: o1\nvalue: 1\ncost: 1\n", api.CodeMissingField, "category", 0, ""},
		{"tariff offer without plan", strings.Replace(offer(""), "retention", "tariff", 1), api.CodeMissingField, "planId", 0, ""},
		{"bad plan id", offer("planId: 'no spaces'\n"), api.CodeInvalidField, "planId", 0, ""},
		{"unknown channel", offer("channels: [kiosk, fax]\n"), api.CodeInvalidField, "channels", 0, "fax"},
		{"channel twice", campaign("channels: [sms, sms]\n"), api.CodeInvalidField, "channels", 0, ""},
		{"validUntil not a time", offer("validUntil: next week\n"), api.CodeInvalidField, "validUntil", 0, ""},
		{"validUntil before validFrom", offer("validFrom: 2026-02-01T00:00:00Z\nvalidUntil: 2026-01-01T00:00:00Z\n"), api.CodeInvalidField, "validUntil", 0, ""},
		{"campaign without offers", "kind: Campaign\nid: c1\n", api.CodeMissingField, "offers", 0, ""},
		{"campaign offer twice", "kind: Campaign\nid: c1\noffers: [o1, o1]\n", api.CodeInvalidField, "offers", 0, ""},
		{"campaign unknown status", campaign("status: running\n"), api.CodeInvalidField, "status", 0, ""},
		{"plan unknown status", "kind: Plan\nid: p\nmonthlyFee: 1\nstatus: gone\n", api.CodeInvalidField, "status", 0, ""},
		{"plan negative fee", "kind: Plan\nid: p\nmonthlyFee: -1\n", api.CodeInvalidField, "monthlyFee", 0, ""},
		{"window in days", policy("window: 7d\n"), api.CodeInvalidField, "window", 0, ""},
		{"window too long", policy("window: 8785h\n"), api.CodeInvalidField, "window", 0, ""},
		{"window missing", policy(""), api.CodeMissingField, "window", 0, ""},
		{"quiet hours past midnight", policy("window: 24h\nquietHours: {start: \"25:00\", end: \"08:00\"}\n"), api.CodeInvalidField, "quietHours.start", 0, ""},
		{"unknown time zone", policy("window: 24h\nquietHours: {start: \"21:00\", end: \"08:00\", timezone: Mars/Olympus}\n"), api.CodeInvalidField, "quietHours.timezone", 0, ""},
		{"the host's zone", policy("window: 24h\nquietHours: {start: \"21:00\", end: \"08:00\", timezone: Local}\n"), api.CodeInvalidField, "quietHours.timezone", 0, ""},
		{"empty quiet hours", policy("window: 24h\nquietHours: {start: \"14:00\", end: \"14:00\"}\n"), api.CodeInvalidField, "quietHours.end", 0, ""},
		{"quiet hours not HH:MM", policy("window: 24h\nquietHours: {start: \"9:00\", end: \"18:00\"}\n"), api.CodeInvalidField, "quietHours.start", 0, ""},
		{"policy unknown channel", "kind: ContactPolicy\nid: p1\nchannel: fax\nwindow: 24h\n", api.CodeInvalidField, "channel", 0, ""},
		{"policy negative max", policy("maxContacts: -1\nwindow: 24h\n"), api.CodeInvalidDocument, "", 0, "maxContacts"},
		{"YAML that does not parse says so once", "kind: Offer\nid: o\n  value: [\n", api.CodeInvalidDocument, "", 0, "YAML: line"},
		{"a number YAML cannot hold", "kind: Offer\nid: o\ncategory: care\nvalue: 1e400\n", api.CodeInvalidField, "value", 0, "expected a number within ±1.8e308, got 1e400"},
		{"a number given as text", "kind: Offer\nid: o\ncategory: care\nvalue: \"60\"\n", api.CodeInvalidField, "value", 0, "expected a number, got text"},
		{"policy without maxContacts", "kind: ContactPolicy\nid: p1\nchannel: all\nwindow: 24h\n", api.CodeMissingField, "maxContacts", 0, "0 stops every marketing contact"},
		{"policy unknown contact type", policy("window: 24h\ntypes: [offer, call]\n"), api.CodeInvalidField, "types", 0, "call"},
		{"policy contact type twice", policy("window: 24h\ntypes: [offer, offer]\n"), api.CodeInvalidField, "types", 0, "twice"},
		{"YAML alias", "kind: Campaign\nid: c1\noffers: &o [o1]\nchannels: *o\n", api.CodeInvalidDocument, "", 0, "alias"},
		{"YAML merge key", "base: &b {kind: Plan}\n<<: *b\nid: p\n", api.CodeInvalidDocument, "", 0, ""},
		{"non-string mapping key", "kind: Plan\nid: p\n1: x\n", api.CodeInvalidDocument, "", 0, "strings"},
		{"YAML key twice", "kind: Plan\nid: p\nid: q\n", api.CodeInvalidDocument, "", 0, ""},
		{"YAML syntax error in second document", planYAML + "---\nkind: [\n", api.CodeInvalidDocument, "", 1, ""},
		{"bad second document", planYAML + "---\nkind: Plan\nid: q\nmonthlyFee: -1\n", api.CodeInvalidField, "monthlyFee", 1, ""},
		{"YAML NaN", strings.Replace(offer(""), "value: 10", "value: .nan", 1), api.CodeInvalidDocument, "", 0, ""},
		{"YAML nested too deep", "kind: Plan\nid: p\nx: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n", api.CodeInvalidDocument, "", 0, "deeper"},
		{"array element not an object", `[{"kind":"Plan","id":"p","monthlyFee":1}, 3]`, api.CodeInvalidDocument, "", 1, ""},
		{"invalid JSON", `{"kind":"Plan",`, api.CodeInvalidJSON, "", noDoc, ""},
		{"JSON with trailing value", `{"kind":"Plan","id":"p","monthlyFee":1} {"kind":"Plan","id":"q","monthlyFee":1}`, api.CodeInvalidJSON, "", noDoc, ""},
		{"JSON with trailing brace", `{"kind":"Plan","id":"p","monthlyFee":1} }`, api.CodeInvalidJSON, "", noDoc, ""},
		{"JSON array with trailing bracket", `[{"kind":"Plan","id":"p","monthlyFee":1}]]`, api.CodeInvalidJSON, "", noDoc, ""},
		{"empty body", " \n\t", api.CodeInvalidDocument, "", noDoc, ""},
		{"empty JSON array", "[]", api.CodeInvalidDocument, "", noDoc, ""},
		{"only YAML separators", "---\n---\n", api.CodeInvalidDocument, "", noDoc, ""},
		{"too many YAML documents", manyYAML.String(), api.CodeInvalidDocument, "", noDoc, "5000"},
		{"too many JSON documents", manyJSON.String(), api.CodeInvalidDocument, "", noDoc, "5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := catalog.Parse([]byte(tt.body))
			if err == nil {
				t.Fatalf("accepted, parsed %d documents", len(docs))
			}
			if docs != nil {
				t.Errorf("returned documents with an error: %v", docs)
			}
			var ae *api.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %T %v is not an *api.Error", err, err)
			}
			if ae.Code != tt.wantCode {
				t.Errorf("code = %s (%v), want %s", ae.Code, ae, tt.wantCode)
			}
			if tt.wantField != "" && ae.Field != tt.wantField {
				t.Errorf("field = %q (%v), want %q", ae.Field, ae, tt.wantField)
			}
			switch {
			case tt.wantDoc == noDoc && ae.Document != nil:
				t.Errorf("located at document %d, want no document", *ae.Document)
			case tt.wantDoc != noDoc && (ae.Document == nil || *ae.Document != tt.wantDoc):
				t.Errorf("located at document %v (%v), want %d", ae.Document, ae, tt.wantDoc)
			}
			if !strings.Contains(ae.Message, tt.wantMsg) {
				t.Errorf("message %q does not mention %q", ae.Message, tt.wantMsg)
			}
		})
	}
}

func TestParse_AcceptsAtLimits(t *testing.T) {
	maxRule := "profile.segment == \"" + strings.Repeat("a", catalog.MaxRuleLength-len("profile.segment == \"\"")) + "\""
	var many strings.Builder
	for i := 0; i < catalog.MaxDocuments; i++ {
		fmt.Fprintf(&many, "---\nkind: Plan\nid: p%d\nmonthlyFee: 1\n", i)
	}
	tests := []struct {
		name  string
		body  string
		count int
	}{
		{"rule of exactly the maximum length", "kind: Offer\nid: o\ncategory: care\nvalue: 0\ncost: 0\neligibility: '" + maxRule + "'\n", 1},
		{"id of the maximum length", "kind: Plan\nid: " + strings.Repeat("x", catalog.MaxIDLength) + "\nmonthlyFee: 1\n", 1},
		{"control group of 100", "kind: Campaign\nid: c\noffers: [o]\ncontrolGroupPercent: 100\n", 1},
		{"window of 8784h", "kind: ContactPolicy\nid: p\nchannel: all\nmaxContacts: 3\nwindow: 8784h\n", 1},
		{"maxContacts 0 written", "kind: ContactPolicy\nid: p\nchannel: sms\nmaxContacts: 0\nwindow: 24h\n", 1},
		{"quiet hours across midnight", policyYAML, 1},
		{"huge but finite numbers", "kind: Plan\nid: p\nmonthlyFee: 99999999999999999999999\ndataMB: 1.7e308\n", 1},
		{"YAML timestamp kept as text", "kind: Plan\nid: p\nmonthlyFee: 1\ndescription: 2026-01-01\n", 1},
		{"anchor without alias", "kind: Plan\nid: p\nmonthlyFee: &fee 1\n", 1},
		{"maximum document count", many.String(), catalog.MaxDocuments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(maxRule) != catalog.MaxRuleLength {
				t.Fatalf("test rule is %d bytes", len(maxRule))
			}
			docs, err := catalog.Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != tt.count {
				t.Errorf("parsed %d documents, want %d", len(docs), tt.count)
			}
		})
	}
}

func TestParse_TimestampStaysAsWritten(t *testing.T) {
	d := parseOne(t, "kind: Plan\nid: p\nmonthlyFee: 1\ndescription: 2026-01-01\n")
	if !strings.Contains(string(d.JSON), `"description":"2026-01-01"`) {
		t.Errorf("canonical JSON %s lost the date as written", d.JSON)
	}
}

func TestCompileRule(t *testing.T) {
	tests := []struct {
		rule    string
		wantErr bool
	}{
		{"", false},
		{"profile.tenureMonths >= 6", false},
		// profile.* and context.* are dynamic: attributes nobody declared
		// still compile.
		{"profile.attributeNobodyDeclared == 'x' && context.channel in ['ivr', 'sms']", false},
		{"now.Hour() >= 9", false},
		{"profile.tenureMonths >=", true},
		{"1 + 1", true},
		{"unknownRoot.x > 1", true},
		// Arithmetic over untyped attributes passes the type check but can
		// never be true or false.
		{"profile.tenureMonths + 1", true},
		{"profile.a * profile.b", true},
		{"-profile.a", true},
		{"profile.isVip", false},
		{"profile.isVip ?? false", false},
		{"(profile.a + 1) > 2", false},
		{"not (profile.a - 1 > 0)", false},
		{strings.Repeat("profile.a > 1 && ", catalog.MaxRuleLength/16) + "true", true},
	}
	for _, tt := range tests {
		name := tt.rule
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			_, err := catalog.CompileRule(tt.rule)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CompileRule(%q) = %v, want error %v", tt.rule, err, tt.wantErr)
			}
			if err != nil && api.CodeOf(err) != api.CodeInvalidRule {
				t.Errorf("code = %s, want %s", api.CodeOf(err), api.CodeInvalidRule)
			}
		})
	}
}

// The CLI sends several -f files as one YAML stream; a JSON file among them
// (JSON is YAML) must not make the request look like broken JSON.
func TestParse_JSONAndYAMLFilesInOneStream(t *testing.T) {
	body := "{\"kind\":\"Plan\",\"id\":\"a\",\"monthlyFee\":1}\n---\nkind: Plan\nid: b\nmonthlyFee: 2\n"
	docs, err := catalog.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].ID != "a" || docs[1].ID != "b" {
		t.Fatalf("got %+v", docs)
	}
	// Broken JSON that is not YAML either keeps the JSON error.
	if _, err := catalog.Parse([]byte(`{"kind":"Plan",`)); api.CodeOf(err) != api.CodeInvalidJSON {
		t.Fatalf("broken JSON: %v", err)
	}
}

func TestParser_CachesRulesThatCompiled(t *testing.T) {
	p := catalog.NewParser()
	doc := "kind: Offer\nid: o1\ncategory: care\nvalue: 1\ncost: 0\neligibility: profile.tenureMonths >= 6\n"
	for i := 0; i < 3; i++ {
		if _, err := p.Parse([]byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	// A bad rule is never cached as good.
	bad := "kind: Offer\nid: o1\ncategory: care\nvalue: 1\ncost: 0\neligibility: profile.x >=\n"
	for i := 0; i < 2; i++ {
		if _, err := p.Parse([]byte(bad)); api.CodeOf(err) != api.CodeInvalidRule {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
}

// A document read back with get -o json carries the object's index: it
// applies as without it (the cluster sets the index), and the index must
// be a number.
func TestParse_IndexOfADocumentReadBackIsIgnored(t *testing.T) {
	docs, err := catalog.Parse([]byte(`{"kind":"Offer","id":"retain-10","category":"retention","value":60,"index":17}`))
	if err != nil || len(docs) != 1 || strings.Contains(string(docs[0].JSON), "index") {
		t.Fatalf("with its index: %v %+v", err, docs)
	}
	plain, err := catalog.Parse([]byte(`{"kind":"Offer","id":"retain-10","category":"retention","value":60}`))
	if err != nil || string(plain[0].JSON) != string(docs[0].JSON) {
		t.Fatalf("the same document without its index differs: %v %s %s", err, plain[0].JSON, docs[0].JSON)
	}
	if _, err := catalog.Parse([]byte(`{"kind":"Offer","id":"retain-10","category":"retention","value":60,"index":"17"}`)); api.CodeOf(err) != api.CodeInvalidField {
		t.Fatalf("a text index: %v", err)
	}
	if _, err := catalog.Parse([]byte("kind: Offer\nid: x\ncategory: retention\nvalue: 1\nsuppression: {declines: 1, days: 1, pauseDays: 1, index: 3}\n")); api.CodeOf(err) != api.CodeUnknownField {
		t.Fatalf("index inside a nested object: %v", err)
	}
}
