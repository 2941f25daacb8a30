package segment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// referenceNTILE is SQL's NTILE(5) OVER (ORDER BY value [DESC], id ASC)
// written out plainly: sort the rows, then deal them into buckets 1 to 5,
// the first n mod 5 buckets taking one row more.
func referenceNTILE(values []float64, ids []string, desc bool) []uint8 {
	n := len(values)
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	sort.Slice(rows, func(a, b int) bool {
		va, vb := values[rows[a]], values[rows[b]]
		if va != vb {
			if desc {
				return va > vb
			}
			return va < vb
		}
		return ids[rows[a]] < ids[rows[b]]
	})
	out := make([]uint8, n)
	next := 0
	for bucket := 1; bucket <= 5; bucket++ {
		size := n / 5
		if bucket <= n%5 {
			size++
		}
		for range size {
			out[rows[next]] = uint8(bucket)
			next++
		}
	}
	return out
}

// referenceRFM scores cs with referenceNTILE, recency by days DESC.
func referenceRFM(cs []Customer) []RFM {
	n := len(cs)
	ids := make([]string, n)
	rec, freq, mon := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, c := range cs {
		ids[i], rec[i], freq[i], mon[i] = c.ID, c.RecencyDays, c.Frequency, c.Monetary
	}
	r, f, m := referenceNTILE(rec, ids, true), referenceNTILE(freq, ids, false), referenceNTILE(mon, ids, false)
	out := make([]RFM, n)
	for i := range out {
		out[i] = RFM{R: r[i], F: f[i], M: m[i]}
	}
	return out
}

// tiedCustomers draws n customers with distinct random IDs (of varying
// length over a small alphabet with a NUL byte, so prefixes and byte
// order matter; for one seed in three after a shared 10-byte prefix) and
// values from a handful of levels, so most values are tied.
func tiedCustomers(rng *rand.Rand, n int) []Customer {
	seen := map[string]bool{}
	prefix := ""
	if rng.IntN(3) == 0 {
		prefix = "customer-0"
	}
	cs := make([]Customer, 0, n)
	levels := 1 + rng.IntN(4)
	maxLen := 4 // 2800 possible ids
	if n > 200 {
		maxLen = 7
	}
	for len(cs) < n {
		var b strings.Builder
		b.WriteString(prefix)
		for range 1 + rng.IntN(maxLen) {
			b.WriteByte("aAb0Z_\x00"[rng.IntN(7)])
		}
		id := b.String()
		if seen[id] {
			continue
		}
		seen[id] = true
		cs = append(cs, Customer{
			ID:          id,
			RecencyDays: float64(rng.IntN(levels)) * 30,
			Frequency:   float64(rng.IntN(levels + 1)),
			Monetary:    float64(rng.IntN(levels)) * 9.5,
		})
	}
	return cs
}

func TestScoreRFM_MatchesReferenceNTILEOnTiedData(t *testing.T) {
	sizes := []int{33, 65, 1000, 1001, 4999, 20000}
	for seed := range uint64(400) {
		sizes = append(sizes, int(seed%51)) // every size 0..50, many times over
	}
	for i, n := range sizes {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		cs := tiedCustomers(rng, n)
		got, err := ScoreRFM(cs)
		if err != nil {
			t.Fatalf("seed %d n=%d: %v", i, n, err)
		}
		want := referenceRFM(cs)
		if len(got) != n {
			t.Fatalf("seed %d: %d scores for %d customers", i, len(got), n)
		}
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("seed %d n=%d customer %q (r=%v f=%v m=%v): got %s, reference NTILE %s",
					i, n, cs[j].ID, cs[j].RecencyDays, cs[j].Frequency, cs[j].Monetary, got[j].Code(), want[j].Code())
			}
		}
	}
}

// bucketSizes counts the customers per score 1..5 of one axis.
func bucketSizes(scores []RFM, axis func(RFM) uint8) [6]int {
	var n [6]int
	for _, s := range scores {
		n[axis(s)]++
	}
	return n
}

func TestScoreRFM_HandCases(t *testing.T) {
	ids := func(n int) []Customer {
		cs := make([]Customer, n)
		for i := range cs {
			cs[i].ID = string(rune('a' + i))
		}
		return cs
	}
	t.Run("empty", func(t *testing.T) {
		got, err := ScoreRFM(nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want no scores and no error", got, err)
		}
	})
	t.Run("one customer scores 111", func(t *testing.T) {
		got, err := ScoreRFM([]Customer{{ID: "x", RecencyDays: 3, Frequency: 9, Monetary: 100}})
		if err != nil || got[0].Code() != "111" {
			t.Fatalf("got %v, %v; want 111", got, err)
		}
	})
	t.Run("n=3 scores 1 to 3 only", func(t *testing.T) {
		cs := ids(3)
		cs[0].RecencyDays, cs[1].RecencyDays, cs[2].RecencyDays = 0, 50, 10 // a most recent
		cs[0].Frequency, cs[1].Frequency, cs[2].Frequency = 1, 3, 2
		cs[0].Monetary, cs[1].Monetary, cs[2].Monetary = 30, 10, 20
		got, err := ScoreRFM(cs)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"313", "131", "222"}
		for i := range want {
			if got[i].Code() != want[i] {
				t.Errorf("%s: got %s, want %s", cs[i].ID, got[i].Code(), want[i])
			}
		}
	})
	t.Run("n=7 buckets of 2,2,1,1,1 in id order when all values tie", func(t *testing.T) {
		cs := ids(7)
		for i := range cs {
			cs[i].RecencyDays, cs[i].Frequency, cs[i].Monetary = 5, 2, 40
		}
		got, err := ScoreRFM(cs)
		if err != nil {
			t.Fatal(err)
		}
		want := []uint8{1, 1, 2, 2, 3, 4, 5} // a,b | c,d | e | f | g
		for i := range want {
			if got[i] != (RFM{want[i], want[i], want[i]}) {
				t.Errorf("%s: got %s, want all %d", cs[i].ID, got[i].Code(), want[i])
			}
		}
	})
	t.Run("n=7 distinct values, larger groups at the bottom", func(t *testing.T) {
		cs := ids(7)
		for i := range cs {
			// g is the most recent, most frequent, biggest spender.
			cs[i].RecencyDays, cs[i].Frequency, cs[i].Monetary = float64(70-10*i), float64(i), float64(100*i)
		}
		got, _ := ScoreRFM(cs)
		want := []string{"111", "111", "222", "222", "333", "444", "555"}
		for i := range want {
			if got[i].Code() != want[i] {
				t.Errorf("%s: got %s, want %s", cs[i].ID, got[i].Code(), want[i])
			}
		}
	})
	t.Run("recency ties break by ascending id, not reversed", func(t *testing.T) {
		// Six customers all 10 days ago: DESC on days, ASC on id, so a and
		// b (the smallest ids) share bucket 1 and f alone is in bucket 5.
		cs := ids(6)
		for i := range cs {
			cs[i].RecencyDays = 10
		}
		got, _ := ScoreRFM(cs)
		want := []uint8{1, 1, 2, 3, 4, 5}
		for i := range want {
			if got[i].R != want[i] {
				t.Errorf("%s: R=%d, want %d", cs[i].ID, got[i].R, want[i])
			}
		}
	})
	t.Run("ids compare byte-wise", func(t *testing.T) {
		// "B" < "a" < "aa" < "b" in byte order; all values tie.
		cs := []Customer{{ID: "b"}, {ID: "aa"}, {ID: "a"}, {ID: "B"}, {ID: "c"}}
		got, _ := ScoreRFM(cs)
		want := []uint8{4, 3, 2, 1, 5}
		for i := range want {
			if got[i].F != want[i] {
				t.Errorf("%q: F=%d, want %d", cs[i].ID, got[i].F, want[i])
			}
		}
	})
}

func TestScoreRFM_BucketSizes(t *testing.T) {
	for n := range 60 {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		got, err := ScoreRFM(tiedCustomers(rng, n))
		if err != nil {
			t.Fatal(err)
		}
		for _, axis := range []func(RFM) uint8{func(s RFM) uint8 { return s.R }, func(s RFM) uint8 { return s.F }, func(s RFM) uint8 { return s.M }} {
			sizes := bucketSizes(got, axis)
			for b := 1; b <= 5; b++ {
				want := n / 5
				if b <= n%5 {
					want++
				}
				if sizes[b] != want {
					t.Fatalf("n=%d: bucket %d holds %d, want %d (sizes %v)", n, b, sizes[b], want, sizes[1:])
				}
			}
		}
	}
}

func TestScoreRFM_RefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		cs   []Customer
		want string
	}{
		{"empty id", []Customer{{ID: "a"}, {ID: ""}}, "empty id"},
		{"repeated id", []Customer{{ID: "a"}, {ID: "b"}, {ID: "a"}}, `"a": id given twice`},
		{"NaN recency", []Customer{{ID: "a", RecencyDays: math.NaN()}}, "recency days NaN"},
		{"negative frequency", []Customer{{ID: "a", Frequency: -1}}, "frequency -1"},
		{"infinite monetary", []Customer{{ID: "a", Monetary: math.Inf(1)}}, "monetary +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ScoreRFM(tc.cs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRFM_Code(t *testing.T) {
	if got := (RFM{5, 4, 5}).Code(); got != "545" {
		t.Errorf("Code = %q, want 545", got)
	}
	if got := fmt.Sprint((RFM{1, 2, 3}).Code()); got != "123" {
		t.Errorf("Code = %q, want 123", got)
	}
}
