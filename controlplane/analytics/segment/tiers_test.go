package segment

import (
	"strings"
	"testing"
)

func TestValueTiers_Table(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     TierConfig
		ids     string // one letter per customer
		revenue []float64
		want    string // h, m, l per customer
	}{
		{"defaults 50/30/20 on exact shares", TierConfig{}, "abc", []float64{50, 30, 20}, "hml"},
		{"the customer crossing 50% is high", TierConfig{}, "abcd", []float64{40, 30, 20, 10}, "hhml"},
		{"one whale holds most revenue", TierConfig{}, "abc", []float64{90, 5, 5}, "hll"},
		{"input order does not matter", TierConfig{}, "cab", []float64{20, 50, 30}, "lhm"},
		{"equal revenue: ascending id decides", TierConfig{}, "dcba", []float64{25, 25, 25, 25}, "mmhh"},
		{"no revenue is low", TierConfig{}, "abcd", []float64{60, 40, 0, 0}, "hmll"},
		{"zero total: all low", TierConfig{}, "ab", []float64{0, 0}, "ll"},
		{"no customers", TierConfig{}, "", nil, ""},
		{"two tiers 80/0", TierConfig{HighShare: 0.8}, "abcde", []float64{50, 20, 15, 10, 5}, "hhhll"},
		{"everything high at share 1", TierConfig{HighShare: 1}, "abc", []float64{5, 3, 0}, "hhl"},
		{"high+medium = 1 leaves only zero revenue low", TierConfig{HighShare: 0.5, MediumShare: 0.5}, "abcd", []float64{50, 30, 20, 0}, "hmml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := make([]Customer, len(tc.ids))
			for i := range cs {
				cs[i] = Customer{ID: tc.ids[i : i+1], Monetary: tc.revenue[i]}
			}
			got, err := ValueTiers(cs, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, tier := range got {
				b.WriteByte(string(tier)[0])
			}
			if b.String() != tc.want {
				t.Errorf("tiers %s, want %s", b.String(), tc.want)
			}
		})
	}
}

func TestTierConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		cfg  TierConfig
		want string // "" = valid
	}{
		{DefaultTierConfig(), ""},
		{TierConfig{HighShare: 1}, ""},
		{TierConfig{HighShare: 0, MediumShare: 0.3}, "high share 0"},
		{TierConfig{HighShare: 1.5}, "high share 1.5"},
		{TierConfig{HighShare: 0.5, MediumShare: -0.1}, "medium share -0.1"},
		{TierConfig{HighShare: 0.7, MediumShare: 0.4}, "exceed 1"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := ValueTiers([]Customer{{ID: "a"}}, TierConfig{HighShare: 2}); err == nil {
		t.Error("ValueTiers accepted an invalid config")
	}
	if _, err := ValueTiers([]Customer{{ID: "a", Monetary: -3}}, TierConfig{}); err == nil {
		t.Error("ValueTiers accepted negative revenue")
	}
}
