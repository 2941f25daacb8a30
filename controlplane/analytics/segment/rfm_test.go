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

// referenceRankedNTILE is the tie-aware score docs/SEGMENTS.md defines,
// written as its SQL reads: MIN(NTILE(5) OVER (ORDER BY value [DESC], id))
// OVER (PARTITION BY value), the lowest bucket any customer with the same
// value got.
func referenceRankedNTILE(values []float64, ids []string, desc bool) []uint8 {
	out := referenceNTILE(values, ids, desc)
	lowest := map[float64]uint8{}
	for i, v := range values {
		if b, ok := lowest[v]; !ok || out[i] < b {
			lowest[v] = out[i]
		}
	}
	for i, v := range values {
		out[i] = lowest[v]
	}
	return out
}

// referenceRFM scores cs with ntile (referenceNTILE, or
// referenceRankedNTILE), recency by days DESC.
func referenceRFM(cs []Customer, ntile func(values []float64, ids []string, desc bool) []uint8) []RFM {
	n := len(cs)
	ids := make([]string, n)
	rec, freq, mon := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, c := range cs {
		ids[i], rec[i], freq[i], mon[i] = c.ID, c.RecencyDays, c.Frequency, c.Monetary
	}
	r, f, m := ntile(rec, ids, true), ntile(freq, ids, false), ntile(mon, ids, false)
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

// distinctCustomers is tiedCustomers with no value tied: each axis is a
// random permutation of n distinct values.
func distinctCustomers(rng *rand.Rand, n int) []Customer {
	cs := tiedCustomers(rng, n)
	r, f, m := rng.Perm(n), rng.Perm(n), rng.Perm(n)
	for i := range cs {
		cs[i].RecencyDays, cs[i].Frequency, cs[i].Monetary = float64(r[i]), float64(f[i]+1), float64(m[i])*9.5
	}
	return cs
}

// testSizes are the base sizes the reference tests run: a few large
// ones, then every size 0..50 many times over.
func testSizes() []int {
	sizes := []int{33, 65, 1000, 1001, 4999, 20000}
	for seed := range 400 {
		sizes = append(sizes, seed%51)
	}
	return sizes
}

// checkAgainst scores customers drawn by draw for every test size and
// compares each score with the reference's.
func checkAgainst(t *testing.T, draw func(*rand.Rand, int) []Customer, ref func([]float64, []string, bool) []uint8) {
	t.Helper()
	for i, n := range testSizes() {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		cs := draw(rng, n)
		got, err := ScoreRFM(cs)
		if err != nil {
			t.Fatalf("seed %d n=%d: %v", i, n, err)
		}
		want := referenceRFM(cs, ref)
		if len(got) != n {
			t.Fatalf("seed %d: %d scores for %d customers", i, len(got), n)
		}
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("seed %d n=%d customer %q (r=%v f=%v m=%v): got %s, reference %s",
					i, n, cs[j].ID, cs[j].RecencyDays, cs[j].Frequency, cs[j].Monetary, got[j].Code(), want[j].Code())
			}
		}
	}
}

// Without ties the scores are SQL's plain NTILE(5), as they were before
// ties shared a score.
func TestScoreRFM_DistinctValuesMatchReferenceNTILE(t *testing.T) {
	checkAgainst(t, distinctCustomers, referenceNTILE)
}

// With ties, each score is the lowest NTILE bucket among the customers
// of the same value (docs/SEGMENTS.md's SQL).
func TestScoreRFM_TiedDataMatchesReferenceRankedNTILE(t *testing.T) {
	checkAgainst(t, tiedCustomers, referenceRankedNTILE)
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
	// Before ties shared a score, the customer id dealt equal values out
	// to buckets: 300 customers who all bought once, today, for the same
	// amount came out champions, loyal, need_attention, hibernating and
	// lost in equal shares.
	t.Run("300 identical customers share one score", func(t *testing.T) {
		cs := make([]Customer, 300)
		for i := range cs {
			cs[i] = Customer{ID: fmt.Sprintf("C%03d", i), RecencyDays: 0, Frequency: 1, Monetary: 25}
		}
		got, err := ScoreRFM(cs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != got[0] {
				t.Fatalf("%s scores %s, %s scores %s: identical customers must score alike", cs[i].ID, got[i].Code(), cs[0].ID, got[0].Code())
			}
		}
		// No one beats anyone: everyone gets the lowest bucket.
		if got[0].Code() != "111" {
			t.Errorf("identical customers score %s, want 111", got[0].Code())
		}
	})
	t.Run("a tie takes the bucket of the first row NTILE gives it", func(t *testing.T) {
		// Seven customers (buckets of 2,2,1,1,1 rows): frequencies
		// 1,1,1 | 2,2 | 3 | 4. The three 1s span rows 1–3 (buckets 1
		// and 2): all score 1. The two 2s span rows 4–5 (buckets 2 and
		// 3): both score 2. Bucket 3 stays empty.
		cs := ids(7)
		for i, f := range []float64{1, 1, 1, 2, 2, 3, 4} {
			cs[6-i].Frequency = f // ids in the reverse order of the values: ids decide nothing
		}
		got, _ := ScoreRFM(cs)
		want := map[float64]uint8{1: 1, 2: 2, 3: 4, 4: 5}
		for i := range cs {
			if got[i].F != want[cs[i].Frequency] {
				t.Errorf("%s (frequency %v): F=%d, want %d", cs[i].ID, cs[i].Frequency, got[i].F, want[cs[i].Frequency])
			}
		}
	})
	t.Run("recency ties share the score, DESC on days", func(t *testing.T) {
		// Six customers, buckets of 2,1,1,1,1 rows. Days 30,30 | 10,10,10
		// | 0: the 30s are rows 1–2 (R=1), the 10s rows 3–5 (buckets 2 to
		// 4: all R=2), the one who bought today row 6 (R=5).
		cs := ids(6)
		for i, d := range []float64{10, 30, 0, 10, 30, 10} {
			cs[i].RecencyDays = d
		}
		got, _ := ScoreRFM(cs)
		want := []uint8{2, 1, 5, 2, 1, 2}
		for i := range want {
			if got[i].R != want[i] {
				t.Errorf("%s (%v days): R=%d, want %d", cs[i].ID, cs[i].RecencyDays, got[i].R, want[i])
			}
		}
	})
	t.Run("-0 ties with 0", func(t *testing.T) {
		cs := ids(5)
		cs[0].Monetary = math.Copysign(0, -1)
		cs[4].Monetary = 1
		got, _ := ScoreRFM(cs)
		for i := range 4 {
			if got[i].M != 1 {
				t.Errorf("%s (monetary %v): M=%d, want 1", cs[i].ID, cs[i].Monetary, got[i].M)
			}
		}
		if got[4].M != 5 {
			t.Errorf("e: M=%d, want 5", got[4].M)
		}
	})
}

// Without ties, NTILE's bucket sizes: the first n mod 5 buckets hold one
// customer more.
func TestScoreRFM_BucketSizesOfDistinctValues(t *testing.T) {
	for n := range 60 {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		got, err := ScoreRFM(distinctCustomers(rng, n))
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

// On tied data: equal values score alike, a better value never scores
// lower, and a score is NTILE's bucket of the row after the customers
// with a strictly worse value.
func TestScoreRFM_TiesShareAScoreThatNeverFalls(t *testing.T) {
	for n := range 200 {
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		cs := tiedCustomers(rng, n)
		got, err := ScoreRFM(cs)
		if err != nil {
			t.Fatal(err)
		}
		for _, ax := range []struct {
			name  string
			value func(Customer) float64 // larger is better
			score func(RFM) uint8
		}{
			{"R", func(c Customer) float64 { return -c.RecencyDays }, func(s RFM) uint8 { return s.R }},
			{"F", func(c Customer) float64 { return c.Frequency }, func(s RFM) uint8 { return s.F }},
			{"M", func(c Customer) float64 { return c.Monetary }, func(s RFM) uint8 { return s.M }},
		} {
			for i := range cs {
				worse := 0
				for j := range cs {
					if ax.value(cs[j]) < ax.value(cs[i]) {
						worse++
					}
					if ax.value(cs[j]) == ax.value(cs[i]) && ax.score(got[j]) != ax.score(got[i]) ||
						ax.value(cs[j]) < ax.value(cs[i]) && ax.score(got[j]) > ax.score(got[i]) {
						t.Fatalf("n=%d %s: %q (%v) scores %d, %q (%v) scores %d", n, ax.name,
							cs[i].ID, ax.value(cs[i]), ax.score(got[i]), cs[j].ID, ax.value(cs[j]), ax.score(got[j]))
					}
				}
				if want := ntile(worse, n); ax.score(got[i]) != want {
					t.Fatalf("n=%d %s: %q has %d customers below it: score %d, want %d", n, ax.name, cs[i].ID, worse, ax.score(got[i]), want)
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
