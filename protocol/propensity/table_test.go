package propensity

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestPrior(t *testing.T) {
	for _, tc := range []struct {
		p0, n0      float64
		alpha, beta float64
		err         string
	}{
		{0.1, 2, 0.2, 1.8, ""},
		{0.25, 20, 5, 15, ""},
		{0, 2, 0.2, 1.8, ""},          // 0 is the catalogue's default, 0.1
		{1, 2, 1.998, 0.002, ""},      // moved to 0.999
		{0.0001, 10, 0.01, 9.99, ""},  // moved to 0.001
		{-0.1, 2, 0, 0, "propensity"}, // out of range
		{1.5, 2, 0, 0, "propensity"},
		{math.NaN(), 2, 0, 0, "propensity"},
		{0.1, 0, 0, 0, "strength 0"},
		{0.1, math.Inf(1), 0, 0, "strength +Inf"},
	} {
		got, err := Prior(tc.p0, tc.n0)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Prior(%v, %v): error %v, want %q", tc.p0, tc.n0, err, tc.err)
			}
			continue
		}
		if err != nil || math.Abs(got.Alpha-tc.alpha) > 1e-12 || math.Abs(got.Beta-tc.beta) > 1e-12 {
			t.Errorf("Prior(%v, %v) = %+v, %v; want Beta(%v, %v)", tc.p0, tc.n0, got, err, tc.alpha, tc.beta)
		}
	}
}

func TestTable_JSONFieldNamesAreStable(t *testing.T) {
	tab := &Table{PriorStrength: 2, Arms: []Arm{{OfferID: "retain-10", Segment: "champions", Alpha: 12.2, Beta: 89.8, N: 100, Accepted: 12}}}
	b, err := json.Marshal(tab)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"priorStrength":2,"arms":[{"offerId":"retain-10","segment":"champions","alpha":12.2,"beta":89.8,"n":100,"accepted":12}]}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
	back, err := DecodeTable(b)
	if err != nil || back.Arms[0] != tab.Arms[0] || back.PriorStrength != 2 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	for _, bad := range []string{
		`{"priorStrength":2,"arms":[],"extra":1}`,
		`{"priorStrength":2,"arms":[]} {}`,
		`{"priorStrength":2,"arms":[{"offerId":"a","alpha":-1,"beta":1}]}`,
		`[]`,
	} {
		if _, err := DecodeTable([]byte(bad)); err == nil {
			t.Errorf("DecodeTable(%s) accepted", bad)
		}
	}
}

// FuzzDecodeTable: decoding never panics, and a table it accepts
// encodes and decodes back to itself.
func FuzzDecodeTable(f *testing.F) {
	f.Add([]byte(`{"priorStrength":2,"arms":[{"offerId":"retain-10","segment":"champions","alpha":12.2,"beta":89.8,"n":100,"accepted":12}]}`))
	f.Add([]byte(`{"priorStrength":0.5,"arms":[{"offerId":"a","alpha":1,"beta":1},{"offerId":"a","segment":"x","alpha":1e-3,"beta":1e9,"n":5}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := DecodeTable(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(tab)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeTable(b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if back.PriorStrength != tab.PriorStrength || len(back.Arms) != len(tab.Arms) {
			t.Fatalf("round trip changed %+v into %+v", tab, back)
		}
		for i := range tab.Arms {
			if back.Arms[i] != tab.Arms[i] {
				t.Fatalf("arm %d: %+v became %+v", i, tab.Arms[i], back.Arms[i])
			}
		}
	})
}

func TestTable_Validate(t *testing.T) {
	arm := func(o, s string, a, b float64, n, acc int64) Arm {
		return Arm{OfferID: o, Segment: s, Alpha: a, Beta: b, N: n, Accepted: acc}
	}
	for _, tc := range []struct {
		tab  Table
		want string
	}{
		{Table{PriorStrength: 0, Arms: nil}, "strength"},
		{Table{PriorStrength: 2, Arms: []Arm{arm("", "s", 1, 1, 0, 0)}}, "empty offer id"},
		{Table{PriorStrength: 2, Arms: []Arm{arm("b", "s", 1, 1, 0, 0), arm("a", "s", 1, 1, 0, 0)}}, "sorted"},
		{Table{PriorStrength: 2, Arms: []Arm{arm("a", "s", 1, 1, 0, 0), arm("a", "s", 1, 1, 0, 0)}}, "once each"},
		{Table{PriorStrength: 2, Arms: []Arm{arm("a", "s", 1, 1, 3, 4)}}, "accepted 4 of n 3"},
		{Table{PriorStrength: 2, Arms: []Arm{arm("a", "s", 0, 1, 0, 0)}}, "> 0"},
		{Table{PriorStrength: 2, Arms: []Arm{arm("a", "s", math.NaN(), 1, 0, 0)}}, "> 0"},
	} {
		if err := tc.tab.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.tab, err, tc.want)
		}
	}
}
