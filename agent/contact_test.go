package agent

import (
	"encoding/json"
	"errors"
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
		{"a member twice", `{"customerId":"c1","type":"offer","type":"inquiry","outcome":"presented"}`, api.CodeInvalidJSON, "type"},
		{"the customer twice", `{"customerId":"c1","customerId":"c2","type":"offer","outcome":"presented"}`, api.CodeInvalidJSON, "customerId"},
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

// TestDecodeContact_CustomerIDFollowsTheProtocolRule: a contact's customer
// id is refused exactly where a decision's is (protocol.ValidAgentID, the
// rule imports and erasure use too), with the same code and message; the
// other ids keep their looser rule.
func TestDecodeContact_CustomerIDFollowsTheProtocolRule(t *testing.T) {
	body := func(field, id string) string {
		b, _ := json.Marshal(map[string]string{"customerId": "C1", "type": "offer", "outcome": "presented", field: id})
		return string(b)
	}
	tests := []struct {
		name, field, id string
		ok              bool
	}{
		{"phone number", "customerId", "13800138000", true},
		{"letters digits and punctuation", "customerId", "C-1_a.B", true},
		{"128 bytes", "customerId", strings.Repeat("c", 128), true},
		{"inner space", "customerId", "a b", false},
		{"the erased bucket", "customerId", "~erased", false},
		{"dot", "customerId", ".", false},
		{"dot dot", "customerId", "..", false},
		{"slash", "customerId", "a/b", false},
		{"colon", "customerId", "a:b", false},
		{"non-ASCII", "customerId", "客户1", false},
		{"129 bytes", "customerId", strings.Repeat("c", 129), false},
		{"offer with a space", "offerId", "retain 10", true},
		{"campaign in Chinese", "campaignId", "冬季挽留", true},
		{"decision id", "decisionId", "d-0123456789abcdef01234567", true},
		{"offer with a newline", "offerId", "retain\n10", false},
		{"padded campaign", "campaignId", " winback", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, aerr := decodeContact([]byte(body(tc.field, tc.id)), "kiosk")
			switch {
			case tc.ok && aerr != nil:
				t.Fatalf("%s %q refused: %v", tc.field, tc.id, aerr)
			case tc.ok && ev.CustomerID == "":
				t.Fatalf("event: %+v", ev)
			case !tc.ok && (aerr == nil || aerr.Code != api.CodeInvalidField || aerr.Field != tc.field):
				t.Fatalf("%s %q: got %v (field %q), want %s (field %q)", tc.field, tc.id, aerr, fieldOf(aerr), api.CodeInvalidField, tc.field)
			}
			if tc.field != "customerId" {
				return
			}
			// The decision API says the same of the same id.
			derr := (&api.DecisionRequest{CustomerID: tc.id, Channel: "kiosk"}).Validate()
			if (derr == nil) != tc.ok {
				t.Fatalf("decision API: %v, contact API: %v", derr, aerr)
			}
			var de *api.Error
			if !tc.ok && (!errors.As(derr, &de) || de.Code != aerr.Code || de.Field != aerr.Field || de.Message != aerr.Message) {
				t.Fatalf("decision API says %v, contact API says %v", derr, aerr)
			}
		})
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
