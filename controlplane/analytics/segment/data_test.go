package segment

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
)

// cdnowCustomers reads CDNOW_master.txt (customer id, YYYYMMDD, CDs,
// dollars) into one Customer per customer, as of the log's last day
// (1998-06-30): recency in days since the last purchase day, frequency as
// the number of distinct purchase days, monetary as the total spent.
func cdnowCustomers(t *testing.T) []Customer {
	t.Helper()
	f, err := os.Open(filepath.Join(analyticstest.SharedData(t), "CDNOW_master.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type hist struct {
		days  map[string]bool
		last  time.Time
		total float64
	}
	byID := map[string]*hist{}
	var order []string
	var asOf time.Time
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fs := strings.Fields(sc.Text())
		if line == 1 || len(fs) == 0 {
			continue // header
		}
		if len(fs) != 4 {
			t.Fatalf("line %d: %q", line, sc.Text())
		}
		day, err := time.Parse("20060102", fs[1])
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		v, err := strconv.ParseFloat(fs[3], 64)
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		h := byID[fs[0]]
		if h == nil {
			h = &hist{days: map[string]bool{}}
			byID[fs[0]] = h
			order = append(order, fs[0])
		}
		h.days[fs[1]] = true
		h.total += v
		if day.After(h.last) {
			h.last = day
		}
		if day.After(asOf) {
			asOf = day
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	cs := make([]Customer, len(order))
	for i, id := range order {
		h := byID[id]
		cs[i] = Customer{
			ID: id, RecencyDays: asOf.Sub(h.last).Hours() / 24, Frequency: float64(len(h.days)), Monetary: h.total,
			// Lifecycle inputs are not in the log; a flat, active base.
			TenureMonths: 18, RecentUsage: 1, EarlierUsage: 1,
		}
	}
	return cs
}

// The expected figures below were counted from the file with awk and
// sort, independently of this package: 23,570 customers; 12,054 bought
// on one day only, 4,040 on two, 2,205 on three, 1,436 on four and
// 3,835 on more; 4,713 spent more than $133.95 and two (03770, 14704)
// exactly $133.95; 4,701 last bought after 1998-02-09 and 18 on that
// day; value tiers by awk's cumulative sum over totals sorted descending
// (ties by id): 2,262 high, 5,433 medium, 15,875 low. The counts of
// three-, four- and more-day buyers and the bucket sizes come from a short
// Python script over the same file (a customer's bucket is NTILE's for
// the row after those with a strictly worse value; 23,570/5 = 4,714 rows
// per bucket).
func TestScoreRFM_CDNOW(t *testing.T) {
	cs := cdnowCustomers(t)
	if len(cs) != 23570 {
		t.Fatalf("%d customers, want 23570", len(cs))
	}
	scores, err := ScoreRFM(cs)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]RFM{}
	for i, s := range scores {
		byID[cs[i].ID] = s
	}
	for _, ax := range []struct {
		name  string
		score func(RFM) uint8
		want  [6]int
	}{
		{"R", func(s RFM) uint8 { return s.R }, [6]int{0, 4735, 4712, 4702, 4720, 4701}},
		{"F", func(s RFM) uint8 { return s.F }, [6]int{0, 12054, 0, 4040, 3641, 3835}},
		{"M", func(s RFM) uint8 { return s.M }, [6]int{0, 4817, 4615, 4710, 4715, 4713}},
	} {
		if sizes := bucketSizes(scores, ax.score); sizes != ax.want {
			t.Errorf("%s bucket sizes %v, want %v", ax.name, sizes[1:], ax.want[1:])
		}
	}
	// Scores never fall as the value rises (rises as recency days fall),
	// and equal values score alike.
	for i := range cs {
		for _, j := range []int{(i * 7919) % len(cs), (i * 104729) % len(cs)} {
			a, b := cs[i], cs[j]
			if a.Frequency < b.Frequency && scores[i].F > scores[j].F ||
				a.Monetary < b.Monetary && scores[i].M > scores[j].M ||
				a.RecencyDays > b.RecencyDays && scores[i].R > scores[j].R {
				t.Fatalf("%s (%+v, %s) vs %s (%+v, %s): a score falls as its value rises", a.ID, a, scores[i].Code(), b.ID, b, scores[j].Code())
			}
			if a.Frequency == b.Frequency && scores[i].F != scores[j].F ||
				a.Monetary == b.Monetary && scores[i].M != scores[j].M ||
				a.RecencyDays == b.RecencyDays && scores[i].R != scores[j].R {
				t.Fatalf("%s (%+v, %s) vs %s (%+v, %s): equal values score differently", a.ID, a, scores[i].Code(), b.ID, b, scores[j].Code())
			}
		}
	}
	// Frequency: the 12,054 one-day buyers all score F=1 (with the id
	// deciding ties, a third of them got F=2 or 3); the 4,040 two-day
	// buyers start at row 12,055, in bucket 3; the three- and four-day
	// buyers at rows 16,095 and 18,300, in bucket 4; the rest at row
	// 19,736, in bucket 5. F=2 is empty.
	perF := map[[2]int]int{} // (frequency capped at 5, F) → customers
	for i, c := range cs {
		perF[[2]int{int(min(c.Frequency, 5)), int(scores[i].F)}]++
	}
	wantF := map[[2]int]int{{1, 1}: 12054, {2, 3}: 4040, {3, 4}: 2205, {4, 4}: 1436, {5, 5}: 3835}
	if len(perF) != len(wantF) {
		t.Errorf("frequency × F cells %v, want %v", perF, wantF)
	}
	for k, n := range wantF {
		if perF[k] != n {
			t.Errorf("frequency %d with F=%d: %d customers, want %d", k[0], k[1], perF[k], n)
		}
	}
	// Monetary: the 4,713 above $133.95 make up M=5; the two at $133.95
	// (rows 18,856 and 18,857, across buckets 4 and 5) both score 4.
	above := 0
	for i, c := range cs {
		if c.Monetary > 133.95 {
			above++
			if scores[i].M != 5 {
				t.Errorf("%s spent %v but M=%d", c.ID, c.Monetary, scores[i].M)
			}
		}
	}
	if above != 4713 || byID["14704"].M != 4 || byID["03770"].M != 4 {
		t.Errorf("%d above $133.95 (want 4713); M of 14704 = %d, of 03770 = %d (want 4 both)", above, byID["14704"].M, byID["03770"].M)
	}
	// Recency: 4,701 bought after 1998-02-09 (141 days before the end),
	// all R=5; the 18 who last bought that day (rows 18,852 to 18,869,
	// across buckets 4 and 5) are all R=4.
	var on0209 []string
	for i, c := range cs {
		switch {
		case c.RecencyDays < 141 && scores[i].R != 5:
			t.Errorf("%s last bought %v days ago but R=%d", c.ID, c.RecencyDays, scores[i].R)
		case c.RecencyDays == 141:
			on0209 = append(on0209, c.ID)
			if scores[i].R != 4 {
				t.Errorf("%s last bought on 1998-02-09 but R=%d, want 4", c.ID, scores[i].R)
			}
		}
	}
	if len(on0209) != 18 {
		t.Fatalf("%d customers last bought on 1998-02-09, want 18", len(on0209))
	}
	// The top spender ($13,990.93 over 146 days, last on 1998-06-29).
	if got := byID["07592"].Code(); got != "555" {
		t.Errorf("07592 scores %s, want 555", got)
	}
}

func TestScore_CDNOWTiersAndConsistency(t *testing.T) {
	cs := cdnowCustomers(t)
	res, err := Score(cs, Config{})
	if err != nil {
		t.Fatal(err)
	}
	rfm, _ := ScoreRFM(cs)
	tiers, _ := ValueTiers(cs, TierConfig{})
	count := map[Tier]int{}
	seg := DefaultSegmentMap()
	for i, r := range res {
		if r.ID != cs[i].ID || r.RFM != rfm[i] || r.Tier != tiers[i] || r.Segment != seg.Name(r.RFM) || r.Stage != StageMature {
			t.Fatalf("customer %d: Score says %s; ScoreRFM %s, ValueTiers %s, segment %s", i, r, rfm[i].Code(), tiers[i], seg.Name(rfm[i]))
		}
		count[r.Tier]++
	}
	if count[TierHigh] != 2262 || count[TierMedium] != 5433 || count[TierLow] != 15875 {
		t.Errorf("tiers %v, want high 2262, medium 5433, low 15875", count)
	}
	if got := res[indexOf(cs, "07592")].String(); got != "07592 555 champions high mature" {
		t.Errorf("07592: %s", got)
	}
}

func indexOf(cs []Customer, id string) int {
	for i := range cs {
		if cs[i].ID == id {
			return i
		}
	}
	return -1
}
