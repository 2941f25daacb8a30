package segment

import (
	"fmt"
	"math"
)

// Stage is a customer's lifecycle stage.
type Stage string

// Lifecycle stages.
const (
	StageNew       Stage = "new"
	StageGrowing   Stage = "growing"
	StageMature    Stage = "mature"
	StageDeclining Stage = "declining"
	StageLapsed    Stage = "lapsed"
)

// LifecycleConfig holds the lifecycle thresholds. The zero
// LifecycleConfig means DefaultLifecycleConfig(); any other value is taken
// as given and validated.
type LifecycleConfig struct {
	// LapsedDays: a customer inactive for at least this many days is
	// lapsed, whatever else holds (> 0).
	LapsedDays float64 `json:"lapsedDays"`
	// NewMonths: a customer with less tenure than this is new (≥ 0).
	NewMonths float64 `json:"newMonths"`
	// MatureMonths: a customer with less tenure than this whose usage is
	// not declining is still growing (≥ NewMonths).
	MatureMonths float64 `json:"matureMonths"`
	// DecliningRatio: a usage trend (recent ÷ earlier usage) at or below
	// it is declining (in [0, 1)).
	DecliningRatio float64 `json:"decliningRatio"`
	// GrowingRatio: a usage trend at or above it is growing (> 1).
	GrowingRatio float64 `json:"growingRatio"`
}

// DefaultLifecycleConfig is lapsed after 90 days without activity, new for
// the first 3 months, mature from 12 months, declining at a usage trend
// of 0.8 or less, growing at 1.2 or more.
func DefaultLifecycleConfig() LifecycleConfig {
	return LifecycleConfig{LapsedDays: 90, NewMonths: 3, MatureMonths: 12, DecliningRatio: 0.8, GrowingRatio: 1.2}
}

// Validate reports the first field out of range.
func (c LifecycleConfig) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(c.LapsedDays) || c.LapsedDays <= 0:
		return fmt.Errorf("lifecycle: lapsed days %v: want a number > 0", c.LapsedDays)
	case !finite(c.NewMonths) || c.NewMonths < 0:
		return fmt.Errorf("lifecycle: new months %v: want a number ≥ 0", c.NewMonths)
	case !finite(c.MatureMonths) || c.MatureMonths < c.NewMonths:
		return fmt.Errorf("lifecycle: mature months %v: want a number ≥ new months (%v)", c.MatureMonths, c.NewMonths)
	case !finite(c.DecliningRatio) || c.DecliningRatio < 0 || c.DecliningRatio >= 1:
		return fmt.Errorf("lifecycle: declining ratio %v: want a number in [0, 1)", c.DecliningRatio)
	case !finite(c.GrowingRatio) || c.GrowingRatio <= 1:
		return fmt.Errorf("lifecycle: growing ratio %v: want a number > 1", c.GrowingRatio)
	}
	return nil
}

func (c LifecycleConfig) orDefault() LifecycleConfig {
	if c == (LifecycleConfig{}) {
		return DefaultLifecycleConfig()
	}
	return c
}

// UsageTrend is RecentUsage ÷ EarlierUsage: 1 when both are 0 (flat),
// +Inf when only the earlier period had none.
func (c *Customer) UsageTrend() float64 {
	if c.EarlierUsage == 0 {
		if c.RecentUsage == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return c.RecentUsage / c.EarlierUsage
}

// LifecycleStage places one customer; the first rule that holds wins:
//
//  1. lapsed    — InactiveDays ≥ LapsedDays
//  2. new       — TenureMonths < NewMonths
//  3. declining — usage trend ≤ DecliningRatio
//  4. growing   — usage trend ≥ GrowingRatio, or TenureMonths < MatureMonths
//  5. mature    — otherwise (tenure ≥ MatureMonths, trend in between)
func LifecycleStage(c Customer, cfg LifecycleConfig) (Stage, error) {
	cfg = cfg.orDefault()
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	if err := checkLifecycle(&c); err != nil {
		return "", err
	}
	return lifecycleStage(&c, &cfg), nil
}

func checkLifecycle(c *Customer) error {
	for _, f := range [...]struct {
		name string
		v    float64
	}{
		{"tenure months", c.TenureMonths}, {"recent usage", c.RecentUsage},
		{"earlier usage", c.EarlierUsage}, {"inactive days", c.InactiveDays},
	} {
		if err := checkNumber(c.ID, f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// lifecycleStage applies the rules to checked inputs and configuration.
func lifecycleStage(c *Customer, cfg *LifecycleConfig) Stage {
	switch trend := c.UsageTrend(); {
	case c.InactiveDays >= cfg.LapsedDays:
		return StageLapsed
	case c.TenureMonths < cfg.NewMonths:
		return StageNew
	case trend <= cfg.DecliningRatio:
		return StageDeclining
	case trend >= cfg.GrowingRatio || c.TenureMonths < cfg.MatureMonths:
		return StageGrowing
	}
	return StageMature
}
