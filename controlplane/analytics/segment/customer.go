package segment

import (
	"fmt"
	"math"
)

// Customer is one customer's inputs. RFM reads ID, RecencyDays, Frequency
// and Monetary; value tiers read ID and Monetary; the lifecycle stage
// reads TenureMonths, RecentUsage, EarlierUsage and InactiveDays. Every
// number must be finite and ≥ 0.
type Customer struct {
	// ID identifies the customer. Value tiers break ties by ID:
	// customers with equal revenue are ordered by ID, compared byte by
	// byte (SQL's binary or "C" collation). RFM scores ignore it: equal
	// values share a score. IDs must be non-empty and distinct.
	ID string
	// RecencyDays is the number of days from the customer's last
	// transaction to the as-of date the caller scores at (0 = today).
	// Smaller is more recent; the most recent customers get R = 5.
	RecencyDays float64
	// Frequency is the number of transactions in the analysis window.
	Frequency float64
	// Monetary is the customer's total spend in the analysis window, in
	// yuan (not the average per transaction). It is also the revenue that
	// value tiers share out.
	Monetary float64
	// TenureMonths is the time since the customer joined, in months.
	TenureMonths float64
	// RecentUsage and EarlierUsage are the customer's usage (any one
	// measure: spend, minutes, MB…) in the recent period and in the
	// earlier period of the same length just before it, e.g. the last
	// three months and the three before. Their ratio is the usage trend.
	RecentUsage  float64
	EarlierUsage float64
	// InactiveDays is the number of days from the customer's last
	// activity of any kind (usage, recharge, purchase) to the as-of date.
	InactiveDays float64
}

// checkNumber refuses NaN, ±Inf and negative values.
func checkNumber(id, name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("customer %q: %s %v: want a finite number ≥ 0", id, name, v)
	}
	return nil
}
