package segment

import (
	"math"
	"strings"
	"testing"
)

func TestLifecycleStage_Table(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		tenure, recent, earlier, idle float64
		want                          Stage
	}{
		{"inactive 90 days is lapsed", 40, 100, 100, 90, StageLapsed},
		{"lapsed beats new", 1, 0, 0, 120, StageLapsed},
		{"inactive 89 days is not lapsed", 40, 100, 100, 89, StageMature},
		{"tenure under 3 months is new", 2.9, 10, 50, 0, StageNew},
		{"tenure 3 months is no longer new", 3, 100, 100, 0, StageGrowing},
		{"usage down to 0.8 is declining", 40, 80, 100, 5, StageDeclining},
		{"declining beats young tenure", 6, 50, 100, 5, StageDeclining},
		{"usage at 0.81 of before is mature", 40, 81, 100, 5, StageMature},
		{"usage up 1.2 is growing", 40, 120, 100, 5, StageGrowing},
		{"usage up 1.19 is mature", 40, 119, 100, 5, StageMature},
		{"flat under 12 months is growing", 11.9, 100, 100, 5, StageGrowing},
		{"flat at 12 months is mature", 12, 100, 100, 5, StageMature},
		{"usage from nothing is growing", 40, 10, 0, 5, StageGrowing},
		{"no usage in either period is flat", 40, 0, 0, 5, StageMature},
		{"usage stopped is declining", 40, 0, 10, 30, StageDeclining},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Customer{ID: "c", TenureMonths: tc.tenure, RecentUsage: tc.recent, EarlierUsage: tc.earlier, InactiveDays: tc.idle}
			got, err := LifecycleStage(c, LifecycleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("stage %s, want %s (trend %v)", got, tc.want, c.UsageTrend())
			}
		})
	}
}

func TestLifecycleStage_CustomThresholds(t *testing.T) {
	cfg := LifecycleConfig{LapsedDays: 30, NewMonths: 0, MatureMonths: 0, DecliningRatio: 0.5, GrowingRatio: 2}
	for _, tc := range []struct {
		c    Customer
		want Stage
	}{
		{Customer{ID: "a", InactiveDays: 30, RecentUsage: 1, EarlierUsage: 1}, StageLapsed},
		{Customer{ID: "b", TenureMonths: 0, RecentUsage: 1, EarlierUsage: 1}, StageMature}, // no new stage
		{Customer{ID: "c", RecentUsage: 0.7, EarlierUsage: 1}, StageMature},
		{Customer{ID: "d", RecentUsage: 0.5, EarlierUsage: 1}, StageDeclining},
		{Customer{ID: "e", RecentUsage: 2, EarlierUsage: 1}, StageGrowing},
	} {
		if got, err := LifecycleStage(tc.c, cfg); err != nil || got != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.c.ID, got, err, tc.want)
		}
	}
}

func TestLifecycleConfig_Validate(t *testing.T) {
	ok := DefaultLifecycleConfig()
	with := func(f func(*LifecycleConfig)) LifecycleConfig { c := ok; f(&c); return c }
	for _, tc := range []struct {
		cfg  LifecycleConfig
		want string
	}{
		{ok, ""},
		{with(func(c *LifecycleConfig) { c.LapsedDays = 0 }), "lapsed days 0"},
		{with(func(c *LifecycleConfig) { c.NewMonths = -1 }), "new months -1"},
		{with(func(c *LifecycleConfig) { c.MatureMonths = 2 }), "mature months 2"},
		{with(func(c *LifecycleConfig) { c.DecliningRatio = 1 }), "declining ratio 1"},
		{with(func(c *LifecycleConfig) { c.GrowingRatio = 1 }), "growing ratio 1"},
		{with(func(c *LifecycleConfig) { c.GrowingRatio = math.Inf(1) }), "growing ratio +Inf"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := LifecycleStage(Customer{ID: "a", TenureMonths: math.NaN()}, LifecycleConfig{}); err == nil {
		t.Error("LifecycleStage accepted NaN tenure")
	}
}
