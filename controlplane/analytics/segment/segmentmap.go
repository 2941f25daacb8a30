package segment

import "fmt"

// ScoreRange is an inclusive range of scores. The zero ScoreRange matches
// any score (1 to 5).
type ScoreRange struct {
	Min uint8 `json:"min"`
	Max uint8 `json:"max"`
}

func (r ScoreRange) contains(s uint8) bool {
	return r == (ScoreRange{}) || r.Min <= s && s <= r.Max
}

func (r ScoreRange) check() error {
	if r == (ScoreRange{}) {
		return nil
	}
	if r.Min < 1 || r.Max > Buckets || r.Min > r.Max {
		return fmt.Errorf("score range %d–%d: want 1 ≤ min ≤ max ≤ %d, or both 0 for any", r.Min, r.Max, Buckets)
	}
	return nil
}

// SegmentRule names the customers whose R, F and M scores all fall in its
// ranges.
type SegmentRule struct {
	Name string     `json:"name"`
	R    ScoreRange `json:"r"`
	F    ScoreRange `json:"f"`
	M    ScoreRange `json:"m"`
}

// SegmentMap names RFM segments: the first rule that matches a score wins;
// Default names a score no rule matches. The zero SegmentMap means
// DefaultSegmentMap().
type SegmentMap struct {
	Rules   []SegmentRule `json:"rules"`
	Default string        `json:"default,omitempty"`
}

// RFM segment names of DefaultSegmentMap.
const (
	SegmentChampions         = "champions"
	SegmentLoyal             = "loyal"
	SegmentPotentialLoyalist = "potential_loyalist"
	SegmentNew               = "new"
	SegmentPromising         = "promising"
	SegmentNeedAttention     = "need_attention"
	SegmentAboutToSleep      = "about_to_sleep"
	SegmentCannotLose        = "cannot_lose"
	SegmentAtRisk            = "at_risk"
	SegmentHibernating       = "hibernating"
	SegmentLost              = "lost"
)

// DefaultSegmentMap is the widely used recency × frequency grid of RFM
// segments (M is not consulted), with its least recent, least frequent
// corner split off as lost. Every one of the 25 (R, F) cells is in
// exactly one rule:
//
//	R\F   1               2               3               4            5
//	5     new             potential_loy.  potential_loy.  champions    champions
//	4     promising       potential_loy.  potential_loy.  loyal        loyal
//	3     about_to_sleep  about_to_sleep  need_attention  loyal        loyal
//	2     hibernating     hibernating     at_risk         at_risk      cannot_lose
//	1     lost            lost            at_risk         at_risk      cannot_lose
func DefaultSegmentMap() SegmentMap {
	r := func(lo, hi uint8) ScoreRange { return ScoreRange{Min: lo, Max: hi} }
	return SegmentMap{Rules: []SegmentRule{
		{Name: SegmentChampions, R: r(5, 5), F: r(4, 5)},
		{Name: SegmentLoyal, R: r(3, 4), F: r(4, 5)},
		{Name: SegmentPotentialLoyalist, R: r(4, 5), F: r(2, 3)},
		{Name: SegmentNew, R: r(5, 5), F: r(1, 1)},
		{Name: SegmentPromising, R: r(4, 4), F: r(1, 1)},
		{Name: SegmentNeedAttention, R: r(3, 3), F: r(3, 3)},
		{Name: SegmentAboutToSleep, R: r(3, 3), F: r(1, 2)},
		{Name: SegmentCannotLose, R: r(1, 2), F: r(5, 5)},
		{Name: SegmentAtRisk, R: r(1, 2), F: r(3, 4)},
		{Name: SegmentHibernating, R: r(2, 2), F: r(1, 2)},
		{Name: SegmentLost, R: r(1, 1), F: r(1, 2)},
	}}
}

func (m SegmentMap) orDefault() SegmentMap {
	if len(m.Rules) == 0 && m.Default == "" {
		return DefaultSegmentMap()
	}
	return m
}

// Validate checks every rule and that every score from 111 to 555 gets a
// name: a rule matches it or Default is set.
func (m SegmentMap) Validate() error {
	for i, r := range m.Rules {
		if r.Name == "" {
			return fmt.Errorf("segment rule %d: empty name", i+1)
		}
		for _, c := range [...]struct {
			axis string
			r    ScoreRange
		}{{"r", r.R}, {"f", r.F}, {"m", r.M}} {
			if err := c.r.check(); err != nil {
				return fmt.Errorf("segment rule %d (%s) %s: %w", i+1, r.Name, c.axis, err)
			}
		}
	}
	if m.Default != "" {
		return nil
	}
	for s := range allScores() {
		if m.Name(s) == "" {
			return fmt.Errorf("segment map: no rule matches %s and no default is set", s.Code())
		}
	}
	return nil
}

// Name is the segment of score s: the first matching rule's name, else
// Default.
func (m SegmentMap) Name(s RFM) string {
	for i := range m.Rules {
		r := &m.Rules[i]
		if r.R.contains(s.R) && r.F.contains(s.F) && r.M.contains(s.M) {
			return r.Name
		}
	}
	return m.Default
}

// allScores yields every score from 111 to 555.
func allScores() func(func(RFM) bool) {
	return func(yield func(RFM) bool) {
		for r := uint8(1); r <= Buckets; r++ {
			for f := uint8(1); f <= Buckets; f++ {
				for mm := uint8(1); mm <= Buckets; mm++ {
					if !yield(RFM{R: r, F: f, M: mm}) {
						return
					}
				}
			}
		}
	}
}
