package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

func TestDecodeDecisionRequest(t *testing.T) {
	deep := `{"customerId":"C1","channel":"kiosk","context":{"a":{"b":{"c":{"d":1}}}}}`
	tooDeep := `{"customerId":"C1","channel":"kiosk","context":{"a":{"b":{"c":{"d":{}}}}}}`
	many := `{"customerId":"C1","channel":"kiosk","context":{"a":[` + strings.TrimSuffix(strings.Repeat("1,", api.MaxContextValues), ",") + `]}}`
	for _, tc := range []struct {
		name, body string
		limit      int64
		code       api.Code
		field      string
	}{
		{name: "a full request", body: `{"customerId":"C1","channel":"kiosk","intent":"cancel","context":{"store":"sh-01","basket":[1,"a",true,null],"n":{"x":2.5}}}`},
		{name: "the least request", body: `{"customerId":"13800138000","channel":"ivr"}`},
		{name: "null context", body: `{"customerId":"C1","channel":"ivr","context":null}`},
		{name: "nested to the limit", body: deep},
		{name: "empty body", body: ``, code: api.CodeInvalidJSON},
		{name: "whitespace body", body: "  \n", code: api.CodeInvalidJSON},
		{name: "not an object", body: `["C1"]`, code: api.CodeInvalidJSON},
		{name: "a string", body: `"C1"`, code: api.CodeInvalidJSON},
		{name: "broken JSON", body: `{"customerId":"C1",`, code: api.CodeInvalidJSON},
		{name: "missing colon", body: `{"customerId" "C1"}`, code: api.CodeInvalidJSON},
		{name: "trailing data", body: `{"customerId":"C1","channel":"kiosk"} {}`, code: api.CodeInvalidJSON},
		{name: "a key twice", body: `{"customerId":"C1","customerId":"C2","channel":"kiosk"}`, code: api.CodeInvalidJSON, field: "customerId"},
		{name: "a context key twice", body: `{"customerId":"C1","channel":"kiosk","context":{"a":1,"a":2}}`, code: api.CodeInvalidJSON, field: "context.a"},
		{name: "unknown field", body: `{"customerId":"C1","channel":"kiosk","customer":"x"}`, code: api.CodeUnknownField, field: "customer"},
		{name: "customerId not a string", body: `{"customerId":5,"channel":"kiosk"}`, code: api.CodeInvalidField, field: "customerId"},
		{name: "channel an object", body: `{"customerId":"C1","channel":{"a":1}}`, code: api.CodeInvalidField, field: "channel"},
		{name: "context an array", body: `{"customerId":"C1","channel":"kiosk","context":[1]}`, code: api.CodeInvalidField, field: "context"},
		{name: "context a string", body: `{"customerId":"C1","channel":"kiosk","context":"x"}`, code: api.CodeInvalidField, field: "context"},
		{name: "missing customerId", body: `{"channel":"kiosk"}`, code: api.CodeMissingField, field: "customerId"},
		{name: "missing channel", body: `{"customerId":"C1"}`, code: api.CodeMissingField, field: "channel"},
		{name: "unknown channel", body: `{"customerId":"C1","channel":"fax"}`, code: api.CodeInvalidField, field: "channel"},
		{name: "channel all is not a request channel", body: `{"customerId":"C1","channel":"all"}`, code: api.CodeInvalidField, field: "channel"},
		{name: "customerId with a space", body: `{"customerId":"C 1","channel":"kiosk"}`, code: api.CodeInvalidField, field: "customerId"},
		{name: "intent with a slash", body: `{"customerId":"C1","channel":"kiosk","intent":"a/b"}`, code: api.CodeInvalidField, field: "intent"},
		{name: "context sets channel", body: `{"customerId":"C1","channel":"kiosk","context":{"channel":"ivr"}}`, code: api.CodeInvalidField, field: "context.channel"},
		{name: "context sets intent", body: `{"customerId":"C1","channel":"kiosk","context":{"intent":"x"}}`, code: api.CodeInvalidField, field: "context.intent"},
		{name: "nested too deep", body: tooDeep, code: api.CodeInvalidField, field: "context.a.b.c.d"},
		{name: "deeply nested arrays", body: `{"customerId":"C1","channel":"kiosk","context":{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}}`, code: api.CodeInvalidField},
		{name: "too many values", body: many, code: api.CodeInvalidField, field: "context"},
		{name: "a long context string", body: `{"customerId":"C1","channel":"kiosk","context":{"a":"` + strings.Repeat("x", api.MaxContextString+1) + `"}}`, code: api.CodeInvalidField, field: "context.a"},
		{name: "an empty context key", body: `{"customerId":"C1","channel":"kiosk","context":{"":1}}`, code: api.CodeInvalidField},
		{name: "a number out of range", body: `{"customerId":"C1","channel":"kiosk","context":{"a":1e400}}`, code: api.CodeInvalidJSON},
		{name: "larger than the limit", body: `{"customerId":"C1","channel":"kiosk","context":{"a":"` + strings.Repeat("x", 100) + `"}}`, limit: 64, code: api.CodeBodyTooLarge},
		{name: "larger than the default limit", body: `{"customerId":"C1","channel":"kiosk","context":{"a":"` + strings.Repeat("x", api.DefaultDecisionBodyLimit) + `"}}`, code: api.CodeBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := api.DecodeDecisionRequest(strings.NewReader(tc.body), tc.limit)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if req.CustomerID == "" || req.Channel == "" {
					t.Fatalf("decoded %+v", req)
				}
				return
			}
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != tc.code || (tc.field != "" && ae.Field != tc.field) {
				t.Fatalf("got %v (%#v), want code %s field %q", err, ae, tc.code, tc.field)
			}
			if ae.Code.HTTPStatus() >= 500 {
				t.Fatalf("a bad request is a server error: %v", ae)
			}
		})
	}
}

func TestDecisionRequest_ValidateRefusesValuesJSONCannotCarry(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]any
	}{
		{"an integer", map[string]any{"a": 3}},
		{"a struct", map[string]any{"a": struct{}{}}},
		{"a typed slice", map[string]any{"a": []string{"x"}}},
		{"infinity", map[string]any{"a": []any{math.Inf(1)}}},
		{"not a number", map[string]any{"a": math.NaN()}},
		{"invalid UTF-8", map[string]any{"a": "\xff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.DecisionRequest{CustomerID: "C1", Channel: "kiosk", Context: tc.ctx}
			if err := r.Validate(); api.CodeOf(err) != api.CodeInvalidField {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// The decision's JSON field names are part of the agent API.
func TestDecision_JSONFieldNamesArePinned(t *testing.T) {
	bill, saving, risk := 147.44, 89.44, 0.8
	d := api.Decision{
		DecisionID: "d", CustomerID: "C1", Channel: "kiosk", Intent: "cancel", ConfigIndex: 7, Time: time.Unix(0, 0).UTC(),
		Offers: []api.DecisionOffer{{OfferID: "o", CampaignID: "k", Name: "n", Category: "tariff", Rank: 1, Score: 1, Propensity: 0.1,
			Value: 10, Weight: 1, ContextWeight: 1, LeverWeight: 1, Transactional: true, PlanID: "p", Reason: "r"}},
		Suppressed: []api.SuppressedOffer{{OfferID: "o", CampaignID: "k", Code: api.SuppressedContactCap, Reason: "r"}},
		Holdout:    []api.Holdout{{CampaignID: "k", OfferIDs: []string{"o"}}},
		ChurnRisk:  &risk, ChurnLevel: "high", Segment: "s",
		Tariff: &api.TariffAdvice{CurrentPlanID: "p", CurrentBill: &bill, CurrentBillSource: "plan", Usage: api.TariffUsage{VoiceMinutes: 1, DataMB: 2, SMS: 3},
			Plans: []api.PlanBill{{PlanID: "p", Name: "n", Bill: 58, Saving: &saving, Current: true}}},
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) string {
		var ks []string
		for k := range v.(map[string]any) {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return strings.Join(ks, ",")
	}
	for _, tc := range []struct{ what, got, want string }{
		{"decision", keys(m), "channel,churnLevel,churnRisk,configIndex,customerId,decisionId,holdout,intent,offers,segment,suppressed,tariff,time"},
		{"offer", keys(m["offers"].([]any)[0]), "campaignId,category,contextWeight,leverWeight,name,offerId,planId,propensity,rank,reason,score,transactional,value,weight"},
		{"suppressed", keys(m["suppressed"].([]any)[0]), "campaignId,code,offerId,reason"},
		{"holdout", keys(m["holdout"].([]any)[0]), "campaignId,offerIds"},
		{"tariff", keys(m["tariff"]), "currentBill,currentBillSource,currentPlanId,plans,usage"},
		{"usage", keys(m["tariff"].(map[string]any)["usage"]), "dataMB,sms,voiceMinutes"},
		{"plan bill", keys(m["tariff"].(map[string]any)["plans"].([]any)[0]), "bill,current,name,planId,saving"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s fields\n got %s\nwant %s", tc.what, tc.got, tc.want)
		}
	}
	// Empty lists are lists, and an unknown current bill is null.
	b, _ = json.Marshal(api.Decision{Offers: []api.DecisionOffer{}, Suppressed: []api.SuppressedOffer{}, Holdout: []api.Holdout{}, Tariff: &api.TariffAdvice{Plans: []api.PlanBill{}}})
	for _, want := range []string{`"offers":[]`, `"suppressed":[]`, `"holdout":[]`, `"currentBill":null`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s does not hold %s", b, want)
		}
	}
}

// FuzzDecodeDecisionRequest: the decoder never panics; it refuses with a
// stable client-error code, or accepts a request that re-encodes and
// decodes to the same request.
func FuzzDecodeDecisionRequest(f *testing.F) {
	for _, s := range []string{
		`{"customerId":"C1","channel":"kiosk","intent":"cancel","context":{"store":"sh-01","basket":[1,"a",true,null],"n":{"x":2.5}}}`,
		`{"customerId":"C1","channel":"ivr"}`,
		`{"customerId":"C1","channel":"ivr","context":null}`,
		`{"customerId":"C1","channel":"kiosk","context":{"a":{"b":{"c":{"d":{}}}}}}`,
		`{"customerId":"C1","customerId":"C2"}`,
		`{"customerId":5}`, `[]`, `""`, `{`, `{"context":[[[[[[[[[[]]]]]]]]]]}`, `{"context":{"a":1e400}}`,
		"{\"customerId\":\"C1\",\"channel\":\"kiosk\",\"context\":{\"\xff\":\"\xfe\"}}",
		`{"customerId":"C1","channel":"kiosk","context":{"channel":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	known := []api.Code{api.CodeInvalidJSON, api.CodeUnknownField, api.CodeInvalidField, api.CodeMissingField, api.CodeBodyTooLarge, api.CodeBadRequest}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := api.DecodeDecisionRequest(bytes.NewReader(body), 4096)
		if err != nil {
			var ae *api.Error
			if !errors.As(err, &ae) || !slices.Contains(known, ae.Code) {
				t.Fatalf("error %v is not a client error with a known code", err)
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("accepted a request that does not validate: %v", err)
		}
		out, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("accepted a request that does not encode: %v", err)
		}
		again, err := api.DecodeDecisionRequest(bytes.NewReader(out), int64(len(out))+1)
		if err != nil {
			t.Fatalf("re-encoded %s is refused: %v", out, err)
		}
		if !reflect.DeepEqual(req, again) && !(len(req.Context) == 0 && len(again.Context) == 0) {
			t.Fatalf("round trip:\n%#v\n%#v", req, again)
		}
	})
}
