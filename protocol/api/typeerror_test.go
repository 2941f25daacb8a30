package api_test

import (
	"encoding/json"
	"errors"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

// TestTypeError_SaysWhatTheFieldTakesInUsersWords: an analyst who wrote
// value: "60" or value: 1e400 read "expected float64, got string" for
// both; the message names what the field takes and, for a number it
// cannot hold, why.
func TestTypeError_SaysWhatTheFieldTakesInUsersWords(t *testing.T) {
	var doc struct {
		Value    float64           `json:"value"`
		Count    int               `json:"count"`
		Seq      uint64            `json:"seq"`
		Name     string            `json:"name"`
		Active   bool              `json:"active"`
		Channels []string          `json:"channels"`
		Quiet    *struct{ A int }  `json:"quiet"`
		Labels   map[string]string `json:"labels"`
	}
	for body, want := range map[string]string{
		`{"value":"60"}`:       "value: expected a number, got text",
		`{"value":1e400}`:      "value: expected a number within ±1.8e308, got 1e400",
		`{"count":1.5}`:        "count: expected a whole number in range, got 1.5",
		`{"seq":-1}`:           "seq: expected a whole number ≥ 0 in range, got -1",
		`{"name":3}`:           "name: expected text, got number",
		`{"active":"yes"}`:     "active: expected true or false, got text",
		`{"channels":"kiosk"}`: "channels: expected a list, got text",
		`{"quiet":[1]}`:        "quiet: expected an object, got a list",
		`{"labels":{"a":1}}`:   "labels: expected text, got number",
	} {
		err := json.Unmarshal([]byte(body), &doc)
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			t.Fatalf("%s: %v is no type error", body, err)
		}
		e := api.TypeError(te)
		if got := e.Field + ": " + e.Message; got != want || e.Code != api.CodeInvalidField {
			t.Errorf("%s: %q (%s), want %q", body, got, e.Code, want)
		}
	}
}
