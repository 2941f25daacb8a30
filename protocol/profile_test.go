package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMaskPII_KeepsEndsOnly(t *testing.T) {
	for in, want := range map[string]string{
		"13800000001": "13*******01",
		"Li Wei":      "L****i",
		"ab":          "**",
		"":            "",
		"王芳":          "**",
	} {
		if got := MaskPII(in); got != want {
			t.Errorf("MaskPII(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsPII_IgnoresCaseAndSeparators(t *testing.T) {
	for _, n := range []string{"name", "Phone", "id_number", "ID-Card", "e-mail"[0:0] + "email"} {
		if !IsPII(n) {
			t.Errorf("IsPII(%q) = false", n)
		}
	}
	for _, n := range []string{"tenureMonths", "dataMB", "plan"} {
		if IsPII(n) {
			t.Errorf("IsPII(%q) = true", n)
		}
	}
}

func TestProfileValidate_RefusesBadIDsTypesAndChannels(t *testing.T) {
	ok := Profile{ID: "C1", Region: "sh", Consents: map[string]bool{"all": true, "sms": false},
		Attributes: map[string]any{"tenureMonths": 12.0, "vip": true, "plan": "basic-38"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]Profile{
		"empty id":     {},
		"bad id":       {ID: "a/b"},
		"bad region":   {ID: "C1", Region: "a b"},
		"int value":    {ID: "C1", Attributes: map[string]any{"n": 1}},
		"nested value": {ID: "C1", Attributes: map[string]any{"n": map[string]any{}}},
		"bad channel":  {ID: "C1", Consents: map[string]bool{"fax": true}},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDecodeProfileJSON_AgreesWithEncodingJSON(t *testing.T) {
	p := Profile{ID: "C1", Region: "sh", Consents: map[string]bool{"all": true}, DoNotDisturb: true, Index: 7,
		Attributes: map[string]any{"name": "Li Wei", "tenureMonths": 12.0, "vip": false}, Derived: map[string]any{"churnRisk": 0.25}}
	b := AppendProfileJSON(nil, &p)
	got, ok := DecodeProfileJSON(b)
	if !ok {
		t.Fatalf("not decoded: %s", b)
	}
	var want Profile
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, ok := DecodeProfileJSON(append(b, 'x')); ok {
		t.Fatal("trailing data accepted")
	}
}
