package segment

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// The sorts behind NTILE and the tiers. A million customers are sorted
// by ID once and then by three or four values; comparison sorts through
// the Customer slice cost most of the time, so both sorts work on small
// (key, index) items instead: IDs by their bytes eight at a time (MSD),
// values by a stable LSD radix sort over items already in ID order, which
// leaves equal values in ID order — exactly ORDER BY value, id (the tiers'
// order; RFM gives equal values one score, so their order does not
// matter there).

// item is one customer in a sort: a 64-bit key and its index in cs.
type item struct {
	key uint64
	idx int32
}

// idOrder checks the IDs and returns the customers' indexes in ascending
// byte order of ID.
func idOrder(cs []Customer) ([]int32, error) {
	if len(cs) > math.MaxInt32 {
		return nil, fmt.Errorf("%d customers: at most %d", len(cs), math.MaxInt32)
	}
	items := make([]item, len(cs))
	for i := range cs {
		if cs[i].ID == "" {
			return nil, fmt.Errorf("customer %d: empty id", i)
		}
		items[i].idx = int32(i)
	}
	sortByID(cs, items, make([]item, len(cs)), 0)
	order := make([]int32, len(cs))
	for r, it := range items {
		if r > 0 && cs[items[r-1].idx].ID == cs[it.idx].ID {
			return nil, fmt.Errorf("customer %q: id given twice", cs[it.idx].ID)
		}
		order[r] = it.idx
	}
	return order, nil
}

// sortByID sorts items by ID, all of whose first off bytes are equal.
func sortByID(cs []Customer, items, scratch []item, off int) {
	if len(items) <= 32 {
		slices.SortFunc(items, func(a, b item) int { return strings.Compare(tail(cs[a.idx].ID, off), tail(cs[b.idx].ID, off)) })
		return
	}
	for i := range items {
		items[i].key = word(cs[items[i].idx].ID, off)
	}
	radixSort(items, scratch)
	// Runs of equal words: the IDs agree on 8 more bytes (or end, padded
	// with zeros, which sort before any byte); go on with the next 8.
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].key == items[i].key {
			j++
		}
		if j-i > 1 {
			run := items[i:j]
			longer := false
			for _, it := range run {
				longer = longer || len(cs[it.idx].ID) > off+8
			}
			if longer {
				sortByID(cs, run, scratch[:len(run)], off+8)
			} else {
				slices.SortFunc(run, func(a, b item) int { return strings.Compare(cs[a.idx].ID, cs[b.idx].ID) })
			}
		}
		i = j
	}
}

func tail(s string, off int) string {
	if off >= len(s) {
		return ""
	}
	return s[off:]
}

// word is bytes off to off+8 of s, big-endian, zero-padded past the end.
func word(s string, off int) uint64 {
	if off+8 <= len(s) {
		return binary.BigEndian.Uint64([]byte(s[off : off+8]))
	}
	var b [8]byte
	copy(b[:], tail(s, off))
	return binary.BigEndian.Uint64(b[:])
}

// floatKey maps v to a uint64 whose unsigned order is v's numeric order,
// with -0 equal to 0. v is never NaN here.
func floatKey(v float64) uint64 {
	if v == 0 {
		v = 0 // -0 → +0
	}
	b := math.Float64bits(v)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}

// byValue returns the items ordered by (value, ID) ascending: order lists
// the customers in ID order, items and scratch are len(order) scratch.
func byValue(order []int32, items, scratch []item, value func(i int) float64) []item {
	for r, i := range order {
		items[r] = item{key: floatKey(value(int(i))), idx: i}
	}
	radixSort(items, scratch)
	return items
}

// radixSort sorts a by key, stably, in place (scratch is len(a) working
// space): LSD radix in 16-bit digits, skipping digits all keys share.
func radixSort(a, scratch []item) {
	if len(a) < 2 {
		return
	}
	if len(a) <= 64 {
		slices.SortStableFunc(a, func(x, y item) int { return cmp.Compare(x.key, y.key) })
		return
	}
	src, dst := a, scratch[:len(a)]
	count := make([]int, 1<<16)
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count)
		for _, it := range src {
			count[(it.key>>shift)&0xffff]++
		}
		if count[(src[0].key>>shift)&0xffff] == len(src) {
			continue // every key has this digit
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, it := range src {
			d := (it.key >> shift) & 0xffff
			dst[count[d]] = it
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}
