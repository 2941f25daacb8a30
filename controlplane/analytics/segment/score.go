package segment

import "fmt"

// Config gathers the settings of Score. Its zero value is every default.
type Config struct {
	Tiers     TierConfig      `json:"tiers"`
	Lifecycle LifecycleConfig `json:"lifecycle"`
	Segments  SegmentMap      `json:"segments"`
}

// DefaultConfig is every default, spelled out for editing.
func DefaultConfig() Config {
	return Config{Tiers: DefaultTierConfig(), Lifecycle: DefaultLifecycleConfig(), Segments: DefaultSegmentMap()}
}

// Validate checks each part (zero parts stand for their defaults).
func (c Config) Validate() error {
	if err := c.Tiers.orDefault().Validate(); err != nil {
		return err
	}
	if err := c.Lifecycle.orDefault().Validate(); err != nil {
		return err
	}
	return c.Segments.orDefault().Validate()
}

// Result is everything Score derives for one customer.
type Result struct {
	ID      string
	RFM     RFM
	Segment string // the RFM segment's name from Config.Segments
	Tier    Tier
	Stage   Stage
}

// Score derives RFM scores and segment, value tier and lifecycle stage
// for every customer, result i belonging to cs[i]. It is ScoreRFM,
// ValueTiers and LifecycleStage over the same slice, sharing one ID sort.
// It fails, naming the customer, on an empty or repeated ID or on a
// number that is not finite and ≥ 0, and on an invalid Config.
func Score(cs []Customer, cfg Config) ([]Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tiers, life, seg := cfg.Tiers.orDefault(), cfg.Lifecycle.orDefault(), cfg.Segments.orDefault()
	for i := range cs {
		if err := checkLifecycle(&cs[i]); err != nil {
			return nil, err
		}
	}
	order, err := checkRFM(cs)
	if err != nil {
		return nil, err
	}
	items, scratch := make([]item, len(cs)), make([]item, len(cs))
	scores := make([]RFM, len(cs))
	scoreRFM(cs, order, items, scratch, scores)
	tierOf := make([]Tier, len(cs))
	valueTiers(cs, order, items, scratch, tiers, tierOf)
	// The names of all 125 scores, looked up once rather than per customer.
	var names [Buckets + 1][Buckets + 1][Buckets + 1]string
	for s := range allScores() {
		names[s.R][s.F][s.M] = seg.Name(s)
	}
	out := make([]Result, len(cs))
	for i := range cs {
		s := scores[i]
		out[i] = Result{ID: cs[i].ID, RFM: s, Segment: names[s.R][s.F][s.M], Tier: tierOf[i], Stage: lifecycleStage(&cs[i], &life)}
	}
	return out, nil
}

// String prints a result for logs and tests: "C1 545 champions high mature".
func (r Result) String() string {
	return fmt.Sprintf("%s %s %s %s %s", r.ID, r.RFM.Code(), r.Segment, r.Tier, r.Stage)
}
