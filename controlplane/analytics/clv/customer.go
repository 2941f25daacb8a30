package clv

// Customer is one customer's purchase history summarised the way the
// models need it, in weeks.
type Customer struct {
	ID string
	// X (frequency) is the number of repeat purchases: purchase days after
	// the first.
	X float64
	// Tx (recency) is the time from the first purchase to the last.
	Tx float64
	// T (age) is the time from the first purchase to the end of the
	// calibration period.
	T float64
	// Zbar is the mean value of the repeat purchases (0 when X is 0 or no
	// spend is known).
	Zbar float64
}

// Dataset is the customers read from one input, and whether it carried
// spend (a zbar column or transaction values).
type Dataset struct {
	Customers []Customer
	HasSpend  bool
}

// Repeaters returns the customers the Gamma-Gamma model applies to: at
// least one repeat purchase with a positive mean value.
func Repeaters(cs []Customer) []Customer {
	var out []Customer
	for _, c := range cs {
		if c.X > 0 && c.Zbar > 0 {
			out = append(out, c)
		}
	}
	return out
}
