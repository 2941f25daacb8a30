package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeSimpleRequest: what the fast path accepts, the full decoder
// accepts and decodes to the same request.
func FuzzDecodeSimpleRequest(f *testing.F) {
	for _, s := range []string{
		`{"customerId":"C1","channel":"kiosk"}`,
		` { "channel" : "ivr" , "customerId":"C9", "intent":"cancel" } `,
		`{}`, `{"customerId":"C1","customerId":"C2"}`, `{"customerId":"C\u0031"}`,
		`{"customerId":"C1","channel":"kiosk","context":{}}`, `{"customerId":"C1"}x`, `{"customerId":"é"}`,
		`{"customerId":"C1","dryRun":true}`, `{"dryRun":false,"channel":"ivr"}`, `{"dryRun":truex}`, `{"dryRun":"true"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeSimpleRequest(b)
		if !ok {
			return
		}
		p := requestParser{dec: json.NewDecoder(bytes.NewReader(b))}
		full, err := p.request()
		if err != nil {
			t.Fatalf("fast path accepted %q, the full decoder refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(fast, full) {
			t.Fatalf("%q: fast %#v, full %#v", b, fast, full)
		}
	})
}

func TestDecodeSimpleRequest_TakesTheUsualShapeOnly(t *testing.T) {
	for in, want := range map[string]bool{
		`{"customerId":"C1","channel":"kiosk"}`:                                     true,
		"{\n \"customerId\": \"C1\",\t\"channel\":\"ivr\",\"intent\":\"cancel\"}\n": true,
		`{"customerId":"C1","channel":"kiosk","context":{"a":1}}`:                   false,
		`{"customerId":"C1","channel":"kiosk","extra":"x"}`:                         false,
		`{"customerId":"C\"1"}`:                                                     false,
		`{"customerId":"C1",}`:                                                      false,
		`{"customerId":"C1"} {}`:                                                    false,
		`{"customerId":null}`:                                                       false,
		`{"customerId":"C1","channel":"kiosk","dryRun":true}`:                       true,
		`{"dryRun": false ,"customerId":"C1"}`:                                      true,
		`{"customerId":"C1","dryRun":"true"}`:                                       false,
		`{"customerId":"C1","dryRun":tru}`:                                          false,
		`{"customerId":"C1","dryRun":true,"dryRun":false}`:                          false,
	} {
		if _, ok := decodeSimpleRequest([]byte(in)); ok != want {
			t.Errorf("decodeSimpleRequest(%s) ok = %v, want %v", in, ok, want)
		}
	}
}
