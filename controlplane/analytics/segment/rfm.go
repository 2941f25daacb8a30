package segment

import "fmt"

// Buckets is the number of RFM score buckets: scores run 1 to 5.
const Buckets = 5

// RFM is one customer's recency, frequency and monetary scores, each 1 to
// 5 (5 is best: most recent, most frequent, highest spend). With fewer
// than five customers the scores run 1 to n only, as NTILE's do.
type RFM struct {
	R, F, M uint8
}

// Code is the three scores as one string, recency first: "545".
func (s RFM) Code() string {
	return string([]byte{'0' + s.R, '0' + s.F, '0' + s.M})
}

// ScoreRFM scores every customer, result i belonging to cs[i]. Each
// score is exactly SQL's NTILE(5) over the whole slice:
//
//	R = NTILE(5) OVER (ORDER BY recency_days DESC, id ASC)
//	F = NTILE(5) OVER (ORDER BY frequency ASC, id ASC)
//	M = NTILE(5) OVER (ORDER BY monetary ASC, id ASC)
//
// so the most recent customers (fewest days since the last transaction;
// equivalently ORDER BY last_transaction_time ASC) and the largest
// frequency and spend land in bucket 5. NTILE numbers the ordered rows
// 1…n and gives bucket k (1 to 5) ⌊n/5⌋ rows, plus one for the first
// n mod 5 buckets. Equal values may fall in different buckets: the ID
// decides, in byte order.
func ScoreRFM(cs []Customer) ([]RFM, error) {
	order, err := checkRFM(cs)
	if err != nil {
		return nil, err
	}
	out := make([]RFM, len(cs))
	scoreRFM(cs, order, make([]item, len(cs)), make([]item, len(cs)), out)
	return out, nil
}

// checkRFM checks the RFM inputs and returns the customers in ID order.
func checkRFM(cs []Customer) ([]int32, error) {
	for i := range cs {
		c := &cs[i]
		if err := checkNumber(c.ID, "recency days", c.RecencyDays); err != nil {
			return nil, err
		}
		if err := checkNumber(c.ID, "frequency", c.Frequency); err != nil {
			return nil, err
		}
		if err := checkNumber(c.ID, "monetary", c.Monetary); err != nil {
			return nil, err
		}
	}
	order, err := idOrder(cs)
	if err != nil {
		return nil, fmt.Errorf("rfm: %w", err)
	}
	return order, nil
}

// scoreRFM writes the scores of cs into out; order lists the customers
// in ID order, items and scratch are len(cs) working space.
func scoreRFM(cs []Customer, order []int32, items, scratch []item, out []RFM) {
	n := len(cs)
	// Recency runs DESC on days: sort ascending on the negated days, ties
	// still by ascending ID.
	for pos, k := range byValue(order, items, scratch, func(i int) float64 { return -cs[i].RecencyDays }) {
		out[k.idx].R = ntile(pos, n)
	}
	for pos, k := range byValue(order, items, scratch, func(i int) float64 { return cs[i].Frequency }) {
		out[k.idx].F = ntile(pos, n)
	}
	for pos, k := range byValue(order, items, scratch, func(i int) float64 { return cs[i].Monetary }) {
		out[k.idx].M = ntile(pos, n)
	}
}

// ntile is NTILE(5)'s bucket (1 to 5) of the row at 0-based position pos
// of n ordered rows: the first n mod 5 buckets hold ⌊n/5⌋+1 rows, the
// others ⌊n/5⌋.
func ntile(pos, n int) uint8 {
	q, rem := n/Buckets, n%Buckets
	big := rem * (q + 1) // rows in the larger buckets
	if pos < big {
		return uint8(pos/(q+1) + 1)
	}
	return uint8(rem + (pos-big)/q + 1)
}
