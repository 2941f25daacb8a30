package fsm

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
)

func sampleProfiles() []protocol.Profile {
	return []protocol.Profile{
		{ID: "C1", Region: "sh-pudong", Consents: map[string]bool{"sms": true, "all": false}, DoNotDisturb: true,
			Attributes: map[string]any{"name": "Li Wei", "phone": "13800000001", "tenureMonths": 12.0, "vip": true, "churned": false,
				"note": "<b>\"quoted\" & 王芳\u2028</b>", "tiny": 1e-7, "huge": 1e21, "neg": -0.5, "zero": 0.0},
			Derived: map[string]any{"valueTier": "gold", "clv": 1234.5}},
		{ID: "C2"},
		{ID: "C3", Region: "bj", Attributes: map[string]any{"big": 12345678901234567.0, "e": 3.0e-5, "int": 9007199254740993.0}},
	}
}

func TestCustomersUpsert_BinaryRoundTrip(t *testing.T) {
	p := CustomersUpsert{Profiles: sampleProfiles()}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got CustomersUpsert
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
	}
	// The same batch always encodes to the same bytes (names are sorted).
	for range 5 {
		b2, _ := p.MarshalBinary()
		if string(b2) != string(b) {
			t.Fatal("encoding is not stable")
		}
	}
	for cut := 0; cut < len(b); cut++ {
		var q CustomersUpsert
		if err := q.UnmarshalBinary(b[:cut]); err == nil {
			t.Fatalf("a payload cut at %d of %d decoded", cut, len(b))
		}
	}
}

func TestCustomersUpsert_RefusesValuesJSONCannotCarry(t *testing.T) {
	for name, v := range map[string]any{"NaN": math.NaN(), "Inf": math.Inf(1), "int": 1, "nil": nil, "slice": []any{}} {
		p := CustomersUpsert{Profiles: []protocol.Profile{{ID: "C1", Attributes: map[string]any{"x": v}}}}
		if _, err := p.MarshalBinary(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	// A NaN smuggled into the bytes is refused by the decoder.
	p := CustomersUpsert{Profiles: []protocol.Profile{{ID: "C1", Attributes: map[string]any{"x": 1.0}}}}
	b, _ := p.MarshalBinary()
	nan := math.Float64bits(math.NaN())
	for i := range 8 {
		b[len(b)-8-2+i] = byte(nan >> (56 - 8*i))
	}
	var q CustomersUpsert
	if err := q.UnmarshalBinary(b); err == nil {
		t.Fatalf("NaN decoded: %+v", q)
	}
}

func mustCustomersBinary(p CustomersUpsert) []byte {
	b, err := p.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzCustomersUpsertPayload: the binary customer payload decoder never
// panics, and what it accepts survives an encode/decode round trip and
// encodes to JSON (protocol.AppendProfileJSON, as the FSM stores it) as
// encoding/json would.
func FuzzCustomersUpsertPayload(f *testing.F) {
	f.Add(mustCustomersBinary(CustomersUpsert{Profiles: sampleProfiles()}))
	f.Add(mustCustomersBinary(CustomersUpsert{}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 1, 1, 'C', 0, 0, 0, 1, 1, 'x', 'n', 0x7f, 0xf8, 0, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p CustomersUpsert
		if err := p.UnmarshalBinary(b); err != nil {
			return
		}
		b2, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode %+v: %v", p, err)
		}
		var p2 CustomersUpsert
		if err := p2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("decode re-encoded %+v: %v", p, err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip changed %+v into %+v", p, p2)
		}
		for i := range p.Profiles {
			want, err := json.Marshal(&p.Profiles[i])
			if err != nil {
				t.Fatal(err)
			}
			if got := protocol.AppendProfileJSON(nil, &p.Profiles[i]); string(got) != string(want) {
				t.Fatalf("JSON of profile %d:\n got %s\nwant %s", i, got, want)
			}
		}
	})
}

func FuzzCustomersDerivePayload(f *testing.F) {
	seed, err := CustomersDerive{ReadIndex: 7, Customers: []DerivedFields{
		{ID: "C1", DerivedUpdate: protocol.DerivedUpdate{Set: map[string]any{"rfm": "545", "clv": 12.5, "vip": true}}},
		{ID: "C2", DerivedUpdate: protocol.DerivedUpdate{Set: map[string]any{"rfmSegment": "none"}, Unset: []string{"rfm", "clv"}}},
	}}.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{2, 0, 0, 0})
	f.Add([]byte{2, 1, 1, 1, 'a', 1, 2, 'C', '1', 1, 5, 'n', 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p CustomersDerive
		if err := p.UnmarshalBinary(b); err != nil {
			return
		}
		b2, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode %+v: %v", p, err)
		}
		var p2 CustomersDerive
		if err := p2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("decode re-encoded %+v: %v", p, err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip changed %+v into %+v", p, p2)
		}
	})
}
