package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDerivedUpdate_JSONAgreesWithEncodingJSONAndRoundTrips(t *testing.T) {
	for _, u := range []DerivedUpdate{
		{},
		{Set: map[string]any{"rfm": "534", "clv": 12.5, "vip": true, "tier": "hi\"gh\u00e9"}},
		{Unset: []string{"rfm", "clv"}},
		{Set: map[string]any{"rfmSegment": "none"}, Unset: []string{"rfmRecency", "pAlive"}},
	} {
		got := u.AppendJSON(nil)
		want, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("AppendJSON = %s, encoding/json = %s", got, want)
		}
		back, err := DecodeDerivedUpdate(got)
		if err != nil {
			t.Fatalf("decode %s: %v", got, err)
		}
		if len(u.Set) == 0 {
			u.Set = nil
		}
		if len(back.Set) == 0 {
			back.Set = nil
		}
		if !reflect.DeepEqual(back, u) {
			t.Errorf("round trip of %s = %+v, want %+v", got, back, u)
		}
	}
}

func TestDerivedUpdate_DecodeRefusesWhatIsNotAnUpdate(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"set":[1]}`, `{"set":{"a":null}}`, `{"set":{"a":{"b":1}}}`, `{"unset":"a"}`, `{"set":{"a":1}}x`} {
		if u, err := DecodeDerivedUpdate([]byte(in)); err == nil {
			t.Errorf("DecodeDerivedUpdate(%s) = %+v, want an error", in, u)
		}
	}
	// Fields this version does not know are ignored (encoding/json).
	if u, err := DecodeDerivedUpdate([]byte(`{"set":{"a":1},"note":"x"}`)); err != nil || u.Set["a"] != 1.0 {
		t.Errorf("with an unknown field: %+v, %v", u, err)
	}
}

func TestDerivedUpdate_ApplyToSetsAndHidesFields(t *testing.T) {
	p := Profile{ID: "C1", Derived: map[string]any{"rfm": "111", "clv": 3.0, "imported": "x"}}
	u := DerivedUpdate{Set: map[string]any{"rfmSegment": "none"}, Unset: []string{"rfm", "clv"}}
	u.ApplyTo(&p)
	want := map[string]any{"rfmSegment": "none", "imported": "x"}
	if !reflect.DeepEqual(p.Derived, want) {
		t.Errorf("Derived = %v, want %v", p.Derived, want)
	}
	q := Profile{ID: "C2", Derived: map[string]any{"rfm": "111"}}
	(&DerivedUpdate{Unset: []string{"rfm"}}).ApplyTo(&q)
	if q.Derived != nil {
		t.Errorf("every field unset: Derived = %v, want nil", q.Derived)
	}
}

func TestDerivedUpdate_ValidateRefusesBadNamesValuesAndClashes(t *testing.T) {
	for _, u := range []DerivedUpdate{
		{Set: map[string]any{"": 1.0}},
		{Set: map[string]any{"a": []int{1}}},
		{Unset: []string{""}},
		{Unset: []string{"\xff"}},
		{Set: map[string]any{"a": 1.0}, Unset: []string{"a"}},
	} {
		if err := u.Validate("C1"); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", u)
		}
	}
	ok := DerivedUpdate{Set: map[string]any{"a": 1.0}, Unset: []string{"b"}}
	if err := ok.Validate("C1"); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
}

func FuzzDecodeDerivedUpdate(f *testing.F) {
	f.Add([]byte(`{"set":{"a":1,"b":"x","c":true},"unset":["d"]}`))
	f.Add([]byte(`{"unset":[]}`))
	f.Add([]byte(`{"set":{"a":"\u00e9\n"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := DecodeDerivedUpdate(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to JSON that decodes to the same.
		back, err := DecodeDerivedUpdate(u.AppendJSON(nil))
		if err != nil {
			t.Fatalf("re-decode of %s: %v", u.AppendJSON(nil), err)
		}
		if len(back.Set) != len(u.Set) || len(back.Unset) != len(u.Unset) {
			t.Fatalf("%+v re-decoded as %+v", u, back)
		}
	})
}
