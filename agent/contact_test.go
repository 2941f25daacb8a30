package agent

import (
	"encoding/json"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

func TestDecodeContact(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		code  api.Code
		field string
	}{
		{"minimal", `{"customerId":"13800138000","type":"offer","outcome":"presented"}`, "", ""},
		{"all fields", `{"customerId":"c1","channel":"ivr","type":"service","outcome":"holdout","offerId":"o1","campaignId":"k1","decisionId":"d1","value":12.5}`, "", ""},
		{"any pair", `{"customerId":"c1","type":"complaint","outcome":"accepted"}`, "", ""},
		{"empty body", ``, api.CodeInvalidJSON, ""},
		{"not json", `{customerId:1}`, api.CodeInvalidJSON, ""},
		{"trailing data", `{"customerId":"c1","type":"offer","outcome":"presented"} {}`, api.CodeInvalidJSON, ""},
		{"unknown field", `{"customerId":"c1","type":"offer","outcome":"presented","phone":"138"}`, api.CodeUnknownField, "phone"},
		{"wrong type", `{"customerId":7,"type":"offer","outcome":"presented"}`, api.CodeInvalidField, "customerId"},
		{"no customer", `{"type":"offer","outcome":"presented"}`, api.CodeMissingField, "customerId"},
		{"no type", `{"customerId":"c1","outcome":"presented"}`, api.CodeMissingField, "type"},
		{"no outcome", `{"customerId":"c1","type":"offer"}`, api.CodeMissingField, "outcome"},
		{"bad type", `{"customerId":"c1","type":"spam","outcome":"presented"}`, api.CodeInvalidField, "type"},
		{"bad outcome", `{"customerId":"c1","type":"offer","outcome":"maybe"}`, api.CodeInvalidField, "outcome"},
		{"bad channel", `{"customerId":"c1","channel":"all","type":"offer","outcome":"presented"}`, api.CodeInvalidField, "channel"},
		{"negative value", `{"customerId":"c1","type":"offer","outcome":"accepted","value":-1}`, api.CodeInvalidField, "value"},
		{"huge value", `{"customerId":"c1","type":"offer","outcome":"accepted","value":1e300}`, api.CodeInvalidField, "value"},
		{"control character", `{"customerId":"c\u0001","type":"offer","outcome":"presented"}`, api.CodeInvalidField, "customerId"},
		{"long id", `{"customerId":"c1","offerId":"` + strings.Repeat("x", 129) + `","type":"offer","outcome":"presented"}`, api.CodeInvalidField, "offerId"},
		{"padded id", `{"customerId":" c1","type":"offer","outcome":"presented"}`, api.CodeInvalidField, "customerId"},
		{"array", `[]`, api.CodeInvalidField, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := decodeContact([]byte(tc.body), "kiosk")
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if ev.Channel == "" || ev.CustomerID == "" {
					t.Fatalf("event: %+v", ev)
				}
				return
			}
			if err == nil || err.Code != tc.code || err.Field != tc.field {
				t.Fatalf("got %v (field %q), want %s (field %q)", err, fieldOf(err), tc.code, tc.field)
			}
		})
	}
	ev, _ := decodeContact([]byte(`{"customerId":"c1","type":"offer","outcome":"presented"}`), "terminal")
	if ev.Channel != "terminal" {
		t.Fatalf("channel default: %q", ev.Channel)
	}
}

func fieldOf(e *api.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

// FuzzDecodeContact: the decoder never panics; what it accepts is a valid
// contact event that survives its own encoding.
func FuzzDecodeContact(f *testing.F) {
	for _, s := range []string{
		`{"customerId":"c1","type":"offer","outcome":"presented"}`,
		`{"customerId":"c1","channel":"ivr","type":"service","outcome":"holdout","offerId":"o1","campaignId":"k1","decisionId":"d1","value":12.5}`,
		`{"customerId":"c1","type":"offer","outcome":"presented","x":1}`,
		`{"customerId":"\u4e2d\u6587","type":"inquiry","outcome":"ignored","value":0}`,
		`null`, `[]`, `{}`, `{"value":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, aerr := decodeContact(body, "kiosk")
		if aerr != nil {
			if aerr.Code == "" || aerr.Message == "" {
				t.Fatalf("error without code or message: %+v", aerr)
			}
			return
		}
		ev.AgentID, ev.Seq = "a1", 1
		if err := ev.Validate(); err != nil {
			t.Fatalf("accepted an invalid event: %v", err)
		}
		req := ContactRequest{CustomerID: ev.CustomerID, Channel: ev.Channel, Type: ev.Type, Outcome: ev.Outcome,
			OfferID: ev.OfferID, CampaignID: ev.CampaignID, DecisionID: ev.DecisionID, Value: &ev.Value}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, aerr := decodeContact(b, "kiosk")
		if aerr != nil {
			t.Fatalf("re-encoded request refused: %v\n%s", aerr, b)
		}
		again.AgentID, again.Seq = "a1", 1
		if again != ev {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, again)
		}
	})
}
