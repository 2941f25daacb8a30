package agent

import (
	"encoding/json"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

// TestDecodeTMFQuery_AcceptsAndIgnoresTMFFields: the TMF common and
// polymorphism members and the TMF680 members the agent does not use are
// accepted at every level, whatever their value, and change nothing.
func TestDecodeTMFQuery_AcceptsAndIgnoresTMFFields(t *testing.T) {
	tests := []struct{ name, body string }{
		{"TMF680 v4 shapes: channel an array, relatedParty one object", `{
			"@type":"QueryProductRecommendation","@baseType":"QueryProductRecommendation",
			"@schemaLocation":"https://example.com/qpr.json","id":"q-1","href":"/x/q-1",
			"name":"kiosk","description":"retention at the kiosk","recommendationType":"retention",
			"state":"acknowledged","validFor":{"startDateTime":"2025-01-01T00:00:00Z","endDateTime":"2025-12-31T00:00:00Z"},
			"place":{"id":"store-042","role":"store","@referredType":"GeographicSite"},
			"productOrder":[{"id":"po-1"}],"productOrderItem":[{"itemId":"1","entityId":"po-1"}],
			"shoppingCart":[{"id":"sc-1"}],"shoppingCartItem":[{"itemId":"1"}],"recommendationItem":[],
			"instantSyncRecommendation":true,
			"channel":[{"id":"ivr","name":"IVR","href":"/ch/ivr","@type":"ChannelRef","@referredType":"Channel"}],
			"relatedParty":{"id":"C1","role":"Customer","name":"Li","href":"/customer/C1","@type":"RelatedParty",
				"@baseType":"EntityRef","@schemaLocation":"https://example.com/rp.json","@referredType":"Customer"},
			"category":[{"id":"cancel","name":"Cancel","version":"1","href":"/cat/cancel","@type":"CategoryRef","@referredType":"Category"}]}`},
		{"this API's shapes: channel one object, relatedParty an array", `{"instantSyncRecommendation":true,
			"channel":{"id":"ivr","@type":"ChannelRef"},
			"relatedParty":[{"id":"C1","role":"customer","@type":"RelatedParty","@referredType":"Customer"}],
			"category":{"id":"cancel","@type":"CategoryRef"},"characteristic":[{"name":"x","value":1}]}`},
		{"unknown members of any type, top level and nested", `{"instantSyncRecommendation":true,"x-vendor":{"a":[1,2]},"priority":"high",
			"channel":{"id":"ivr","extra":5},"relatedParty":[{"id":"C1","extra":[true]}],"category":[{"id":"cancel","version":2}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, cat, aerr := decodeTMFQuery([]byte(tc.body), "kiosk")
			if aerr != nil {
				t.Fatalf("refused: %v", aerr)
			}
			if req.CustomerID != "C1" || req.Channel != "ivr" || req.Intent != "cancel" || len(cat) != 1 || cat[0].ID != "cancel" {
				t.Fatalf("got %+v, categories %+v", req, cat)
			}
		})
	}
}

// TestDecodeTMFQuery_RefusesWithThePathAtFault: what the agent reads must
// have the right type and value, and the error names where it is.
func TestDecodeTMFQuery_RefusesWithThePathAtFault(t *testing.T) {
	tests := []struct {
		name, body string
		code       api.Code
		field      string
		message    string // a part of it (the wording of type errors may change)
	}{
		{"not instant", `{"instantSyncRecommendation":false,"relatedParty":[{"id":"C1"}]}`, api.CodeInvalidField, "instantSyncRecommendation", "set it to true"},
		{"instant a string", `{"instantSyncRecommendation":"yes","relatedParty":[{"id":"C1"}]}`, api.CodeInvalidField, "instantSyncRecommendation", "expected"},
		{"a party id a number", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"C1"},{"id":5}]}`, api.CodeInvalidField, "relatedParty[1].id", "expected"},
		{"the one party's role a number", `{"instantSyncRecommendation":true,"relatedParty":{"id":"C1","role":1}}`, api.CodeInvalidField, "relatedParty.role", "expected"},
		{"a party a string", `{"instantSyncRecommendation":true,"relatedParty":["C1"]}`, api.CodeInvalidField, "relatedParty[0]", "expected an object, got string"},
		{"relatedParty a string", `{"instantSyncRecommendation":true,"relatedParty":"C1"}`, api.CodeInvalidField, "relatedParty", "an object or an array of objects, got string"},
		{"channel id a number", `{"instantSyncRecommendation":true,"channel":[{"id":7}],"relatedParty":[{"id":"C1"}]}`, api.CodeInvalidField, "channel[0].id", "expected"},
		{"category name an object", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"C1"}],"category":[{"name":{}}]}`, api.CodeInvalidField, "category[0].name", "expected"},
		{"no relatedParty", `{"instantSyncRecommendation":true}`, api.CodeMissingField, "relatedParty", `role "customer"`},
		{"no party with role customer", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"O1","role":"owner"},{"id":"A1","role":"agent"}]}`, api.CodeMissingField, "relatedParty", `a party with role "customer"`},
		{"the customer has no id", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"O1","role":"owner"},{"role":"customer"}]}`, api.CodeMissingField, "relatedParty[1].id", "required"},
		{"two customers", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"C1","role":"customer"},{"id":"O1","role":"owner"},{"id":"C2","role":"Customer"}]}`, api.CodeInvalidField, "relatedParty[2]", `relatedParty[0] and relatedParty[2] both have role "customer"`},
		{"two parties without a role", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"C1"},{"id":"C2"}]}`, api.CodeInvalidField, "relatedParty[1]", "both have no role"},
		{"a bad customer id", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"a b","role":"customer"}]}`, api.CodeInvalidField, "relatedParty[0].id", "ASCII letters"},
		{"a bad customer id, one party", `{"instantSyncRecommendation":true,"relatedParty":{"id":"~erased"}}`, api.CodeInvalidField, "relatedParty.id", "ASCII letters"},
		{"an unknown channel", `{"instantSyncRecommendation":true,"channel":{"id":"fax"},"relatedParty":[{"id":"C1"}]}`, api.CodeInvalidField, "channel.id", "must be one of"},
		{"an unknown channel by name", `{"instantSyncRecommendation":true,"channel":[{"name":"fax"}],"relatedParty":[{"id":"C1"}]}`, api.CodeInvalidField, "channel[0].name", "must be one of"},
		{"a bad intent", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"C1"}],"category":[{"id":"cancel now"}]}`, api.CodeInvalidField, "category[0].id", "ASCII letters"},
		{"empty", ``, api.CodeInvalidJSON, "", "empty"},
		{"an array", `[]`, api.CodeInvalidJSON, "", "JSON object"},
		{"null", `null`, api.CodeInvalidJSON, "", "JSON object"},
		{"trailing data", `{"instantSyncRecommendation":true,"relatedParty":[{"id":"C1"}]} {}`, api.CodeInvalidJSON, "", "trailing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, aerr := decodeTMFQuery([]byte(tc.body), "kiosk")
			if aerr == nil {
				t.Fatal("accepted")
			}
			if aerr.Code != tc.code || aerr.Field != tc.field || !strings.Contains(aerr.Message, tc.message) {
				t.Fatalf("got %s %q %q, want %s %q (…%s…)", aerr.Code, aerr.Field, aerr.Message, tc.code, tc.field, tc.message)
			}
		})
	}
}

// TestDecodeTMFQuery_PicksTheCustomerChannelAndIntent: the customer is the
// party with role customer even after one without a role; the channel
// defaults to the agent's; ids win over names.
func TestDecodeTMFQuery_PicksTheCustomerChannelAndIntent(t *testing.T) {
	req, cat, aerr := decodeTMFQuery([]byte(`{"instantSyncRecommendation":true,
		"relatedParty":[{"id":"R1"},{"id":"C1","role":"CUSTOMER"}],"category":[{"name":"billing"},{"id":"cancel"}]}`), "kiosk")
	if aerr != nil {
		t.Fatal(aerr)
	}
	if req.CustomerID != "C1" || req.Channel != "kiosk" || req.Intent != "billing" || len(cat) != 2 {
		t.Fatalf("got %+v, categories %+v", req, cat)
	}
	req, _, aerr = decodeTMFQuery([]byte(`{"instantSyncRecommendation":true,"channel":[{"id":"ivr","name":"web"}],
		"relatedParty":[{"id":"O1","role":"owner"},{"id":"R1"}]}`), "kiosk")
	if aerr != nil {
		t.Fatal(aerr)
	}
	if req.CustomerID != "R1" || req.Channel != "ivr" || req.Intent != "" {
		t.Fatalf("got %+v", req)
	}
}

// TestTMFAnswer_NothingOfferedIsAnEmptyList: an answer without offers
// carries "recommendationItem": [], not no member.
func TestTMFAnswer_NothingOfferedIsAnEmptyList(t *testing.T) {
	for _, d := range []api.Decision{
		{DecisionID: "d-1", CustomerID: "C2", Channel: "kiosk"},
		{DecisionID: "d-2", CustomerID: "C2", Channel: "kiosk", Offers: []api.DecisionOffer{}},
	} {
		b, err := json.Marshal(tmfAnswer(d, nil))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"recommendationItem":[]`) {
			t.Fatalf("%s", b)
		}
	}
}

// FuzzDecodeTMFQuery: the decoder never panics; what it accepts is a valid
// decision request, and every refusal has a code and a message.
func FuzzDecodeTMFQuery(f *testing.F) {
	for _, s := range []string{
		`{"instantSyncRecommendation":true,"channel":{"id":"kiosk"},"relatedParty":[{"id":"C1","role":"customer"}]}`,
		`{"instantSyncRecommendation":true,"channel":[{"name":"ivr"}],"relatedParty":{"id":"C1"},"category":[{"id":"cancel"}],"@type":"X"}`,
		`{"instantSyncRecommendation":true,"relatedParty":[{"id":5}]}`,
		`{"instantSyncRecommendation":true,"relatedParty":[null, "x"]}`,
		`{"INSTANTSYNCRECOMMENDATION":true,"RelatedParty":[{"ID":"C1"}]}`,
		`null`, `[]`, `{}`, `{"instantSyncRecommendation":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, _, aerr := decodeTMFQuery(body, "kiosk")
		if aerr != nil {
			if aerr.Code == "" || aerr.Message == "" {
				t.Fatalf("error without code or message: %+v", aerr)
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("accepted an invalid request %+v: %v", req, err)
		}
	})
}
