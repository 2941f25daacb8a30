package segment

import (
	"fmt"
	"math"
)

// Tier is a customer's value tier.
type Tier string

// Value tiers.
const (
	TierHigh   Tier = "high"
	TierMedium Tier = "medium"
	TierLow    Tier = "low"
)

// TierConfig sets the revenue shares of the value tiers. The zero
// TierConfig means DefaultTierConfig(); any other value is taken as given
// and validated.
type TierConfig struct {
	// HighShare is the share of total revenue, in (0, 1], that the high
	// tier covers: the top customers, by revenue, until their revenue
	// reaches this share.
	HighShare float64 `json:"highShare"`
	// MediumShare is the next share of revenue, in [0, 1 − HighShare],
	// that the medium tier covers. The low tier covers the rest.
	MediumShare float64 `json:"mediumShare"`
}

// DefaultTierConfig splits revenue 50% high, 30% medium, 20% low.
func DefaultTierConfig() TierConfig { return TierConfig{HighShare: 0.5, MediumShare: 0.3} }

// Validate reports the first field out of range.
func (c TierConfig) Validate() error {
	switch {
	case math.IsNaN(c.HighShare) || c.HighShare <= 0 || c.HighShare > 1:
		return fmt.Errorf("value tiers: high share %v: want a fraction in (0, 1]", c.HighShare)
	case math.IsNaN(c.MediumShare) || c.MediumShare < 0 || c.MediumShare > 1:
		return fmt.Errorf("value tiers: medium share %v: want a fraction in [0, 1]", c.MediumShare)
	case c.HighShare+c.MediumShare > 1:
		return fmt.Errorf("value tiers: high share %v plus medium share %v exceed 1", c.HighShare, c.MediumShare)
	}
	return nil
}

func (c TierConfig) orDefault() TierConfig {
	if c == (TierConfig{}) {
		return DefaultTierConfig()
	}
	return c
}

// ValueTiers assigns each customer a tier by its share of the revenue
// (Monetary), result i belonging to cs[i]. Customers are ordered by
// revenue, largest first, ties by ID ascending; a customer is high when
// the revenue of the customers before it is less than HighShare of the
// total, medium when it is less than HighShare + MediumShare of the total,
// and low otherwise. So the high tier is the shortest run of top
// customers whose revenue reaches HighShare of the total (the customer
// who crosses the line is in it), and a customer with no revenue is low.
// When the total is 0 every customer is low.
func ValueTiers(cs []Customer, cfg TierConfig) ([]Tier, error) {
	cfg = cfg.orDefault()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for i := range cs {
		if err := checkNumber(cs[i].ID, "monetary", cs[i].Monetary); err != nil {
			return nil, err
		}
	}
	order, err := idOrder(cs)
	if err != nil {
		return nil, fmt.Errorf("value tiers: %w", err)
	}
	out := make([]Tier, len(cs))
	valueTiers(cs, order, make([]item, len(cs)), make([]item, len(cs)), cfg, out)
	return out, nil
}

// valueTiers writes the tiers of cs into out; order lists the customers
// in ID order, items and scratch are len(cs) working space.
func valueTiers(cs []Customer, order []int32, items, scratch []item, cfg TierConfig, out []Tier) {
	// Revenue DESC, ID ASC: sort ascending on the negated revenue.
	keys := byValue(order, items, scratch, func(i int) float64 { return -cs[i].Monetary })
	total := 0.0
	for _, k := range keys {
		total += cs[k.idx].Monetary // summed in the order the loop below adds
	}
	high, medium := cfg.HighShare*total, (cfg.HighShare+cfg.MediumShare)*total
	before := 0.0
	for _, k := range keys {
		switch {
		case before < high:
			out[k.idx] = TierHigh
		case before < medium:
			out[k.idx] = TierMedium
		default:
			out[k.idx] = TierLow
		}
		before += cs[k.idx].Monetary
	}
}
