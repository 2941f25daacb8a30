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
// score is SQL's NTILE(5) over the whole slice, with equal values sharing
// the lowest bucket any of them gets:
//
//	R = MIN(NTILE(5) OVER (ORDER BY recency_days DESC)) OVER (PARTITION BY recency_days)
//	F = MIN(NTILE(5) OVER (ORDER BY frequency ASC))     OVER (PARTITION BY frequency)
//	M = MIN(NTILE(5) OVER (ORDER BY monetary ASC))      OVER (PARTITION BY monetary)
//
// so the most recent customers (fewest days since the last transaction;
// equivalently ORDER BY last_transaction_time ASC) and the largest
// frequency and spend land in bucket 5. NTILE numbers the ordered rows
// 1…n and gives bucket k (1 to 5) ⌊n/5⌋ rows, plus one for the first
// n mod 5 buckets. A customer's score is the bucket of row p+1, where p
// is the number of customers with a strictly worse value (SQL's RANK()):
// customers with equal values score the same, whatever their IDs, and
// with no ties the scores are plain NTILE's. Ties can leave a bucket
// empty: when every value is equal, everyone scores 1.
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
	var s uint8
	// Recency runs DESC on days: sort ascending on the negated days.
	sorted := byValue(order, items, scratch, func(i int) float64 { return -cs[i].RecencyDays })
	for pos, k := range sorted {
		out[k.idx].R = tiedNTILE(sorted, pos, &s)
	}
	sorted = byValue(order, items, scratch, func(i int) float64 { return cs[i].Frequency })
	for pos, k := range sorted {
		out[k.idx].F = tiedNTILE(sorted, pos, &s)
	}
	sorted = byValue(order, items, scratch, func(i int) float64 { return cs[i].Monetary })
	for pos, k := range sorted {
		out[k.idx].M = tiedNTILE(sorted, pos, &s)
	}
}

// tiedNTILE is the score of the customer at position pos of sorted
// (ascending by key), called for pos = 0, 1, 2… in turn: NTILE's bucket
// of the first customer with the same key, so equal values share a
// score. s holds the score of pos-1 between calls.
func tiedNTILE(sorted []item, pos int, s *uint8) uint8 {
	if pos == 0 || sorted[pos].key != sorted[pos-1].key {
		*s = ntile(pos, len(sorted))
	}
	return *s
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
