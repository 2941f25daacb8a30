package segment

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDefaultSegmentMap_EveryRFCellInExactlyOneRule(t *testing.T) {
	m := DefaultSegmentMap()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	for r := uint8(1); r <= 5; r++ {
		for f := uint8(1); f <= 5; f++ {
			var hits []string
			for _, rule := range m.Rules {
				if rule.R.contains(r) && rule.F.contains(f) {
					hits = append(hits, rule.Name)
				}
			}
			if len(hits) != 1 {
				t.Errorf("R=%d F=%d matches %v, want exactly one rule", r, f, hits)
			}
		}
	}
	for code, want := range map[string]string{
		"555": SegmentChampions, "541": SegmentChampions, "345": SegmentLoyal, "421": SegmentPotentialLoyalist,
		"515": SegmentNew, "411": SegmentPromising, "333": SegmentNeedAttention, "325": SegmentAboutToSleep,
		"155": SegmentCannotLose, "231": SegmentAtRisk, "221": SegmentHibernating, "111": SegmentLost, "125": SegmentLost,
	} {
		s := RFM{R: code[0] - '0', F: code[1] - '0', M: code[2] - '0'}
		if got := m.Name(s); got != want {
			t.Errorf("%s is %q, want %q", code, got, want)
		}
	}
}

func TestSegmentMap_ValidateAndConfigure(t *testing.T) {
	// Only champions named: the rest needs a default.
	m := SegmentMap{Rules: []SegmentRule{{Name: "vip", R: ScoreRange{5, 5}, F: ScoreRange{5, 5}, M: ScoreRange{4, 5}}}}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "no rule matches 111") {
		t.Errorf("uncovered map: error %v", err)
	}
	m.Default = "other"
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.Name(RFM{5, 5, 4}) != "vip" || m.Name(RFM{5, 5, 3}) != "other" {
		t.Error("custom map names wrongly")
	}
	for _, bad := range []SegmentMap{
		{Rules: []SegmentRule{{Name: ""}}},
		{Rules: []SegmentRule{{Name: "x", R: ScoreRange{0, 3}}}, Default: "d"},
		{Rules: []SegmentRule{{Name: "x", F: ScoreRange{4, 2}}}, Default: "d"},
		{Rules: []SegmentRule{{Name: "x", M: ScoreRange{1, 6}}}, Default: "d"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
		if _, err := Score([]Customer{{ID: "a"}}, Config{Segments: bad}); err == nil {
			t.Errorf("Score accepted %+v", bad)
		}
	}
	res, err := Score([]Customer{{ID: "a"}, {ID: "b", Monetary: 1}}, Config{Segments: SegmentMap{Default: "everyone"}})
	if err != nil || res[0].Segment != "everyone" {
		t.Errorf("default-only map: %v, %v", res, err)
	}
}

func TestScore_RefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		cs   []Customer
		cfg  Config
		want string
	}{
		{[]Customer{{ID: "a", InactiveDays: -1}}, Config{}, "inactive days -1"},
		{[]Customer{{ID: "a"}, {ID: "a"}}, Config{}, "given twice"},
		{[]Customer{{ID: "a"}}, Config{Tiers: TierConfig{HighShare: 0.9, MediumShare: 0.2}}, "exceed 1"},
		{[]Customer{{ID: "a"}}, Config{Lifecycle: LifecycleConfig{LapsedDays: 30}}, "growing ratio 0"},
	} {
		if _, err := Score(tc.cs, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cs, err, tc.want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}

// syntheticCustomers is a deterministic base of n customers with many
// ties: recency in whole days up to a year, a geometric-ish frequency,
// spend in whole yuan, tenure and usage for the lifecycle.
func syntheticCustomers(n int) []Customer {
	rng := rand.New(rand.NewPCG(20261201, 5))
	cs := make([]Customer, n)
	for i := range cs {
		freq := 1 + rng.IntN(1+rng.IntN(40))
		earlier := float64(rng.IntN(300))
		cs[i] = Customer{
			ID:           fmt.Sprintf("C%010d", uint32(i)*2654435761), // distinct, not in order
			RecencyDays:  float64(rng.IntN(366)),
			Frequency:    float64(freq),
			Monetary:     float64(freq * (5 + rng.IntN(200))),
			TenureMonths: float64(rng.IntN(120)),
			RecentUsage:  earlier * (0.5 + rng.Float64()),
			EarlierUsage: earlier,
			InactiveDays: float64(rng.IntN(200)),
		}
	}
	return cs
}

// BenchmarkRFM1M scores a million customers: RFM, segment names, value
// tiers and lifecycle stages (Score), inputs generated outside the timer.
func BenchmarkRFM1M(b *testing.B) {
	cs := syntheticCustomers(1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Score(cs, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
