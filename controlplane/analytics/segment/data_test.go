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
// on one day only and 4,040 on two; 4,713 spent more than $133.95 and
// two (03770, 14704) exactly $133.95; 4,701 last bought after 1998-02-09
// and 18 on that day; value tiers by awk's cumulative sum over totals
// sorted descending (ties by id): 2,262 high, 5,433 medium, 15,875 low.
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
	for name, axis := range map[string]func(RFM) uint8{"R": func(s RFM) uint8 { return s.R }, "F": func(s RFM) uint8 { return s.F }, "M": func(s RFM) uint8 { return s.M }} {
		if sizes := bucketSizes(scores, axis); sizes != [6]int{0, 4714, 4714, 4714, 4714, 4714} {
			t.Errorf("%s bucket sizes %v, want 4714 each (23570/5)", name, sizes[1:])
		}
	}
	// Scores never fall as the value rises (rises as recency days fall).
	for i := range cs {
		for _, j := range []int{(i * 7919) % len(cs), (i * 104729) % len(cs)} {
			a, b := cs[i], cs[j]
			if a.Frequency < b.Frequency && scores[i].F > scores[j].F ||
				a.Monetary < b.Monetary && scores[i].M > scores[j].M ||
				a.RecencyDays > b.RecencyDays && scores[i].R > scores[j].R {
				t.Fatalf("%s (%+v, %s) vs %s (%+v, %s): a score falls as its value rises", a.ID, a, scores[i].Code(), b.ID, b, scores[j].Code())
			}
		}
	}
	// Frequency: 12,054 one-day buyers fill F=1 and F=2 (9,428) and the
	// first 2,626 places of F=3; the 4,040 two-day buyers take the other
	// 2,088 places of F=3 and 1,952 of F=4.
	perF := map[[2]int]int{} // (frequency capped at 3, F) → customers
	for i, c := range cs {
		perF[[2]int{int(min(c.Frequency, 3)), int(scores[i].F)}]++
	}
	wantF := map[[2]int]int{{1, 1}: 4714, {1, 2}: 4714, {1, 3}: 2626, {2, 3}: 2088, {2, 4}: 1952, {3, 4}: 2762, {3, 5}: 4714}
	if len(perF) != len(wantF) {
		t.Errorf("frequency × F cells %v, want %v", perF, wantF)
	}
	for k, n := range wantF {
		if perF[k] != n {
			t.Errorf("frequency %d with F=%d: %d customers, want %d", k[0], k[1], perF[k], n)
		}
	}
	// Monetary: the 4,713 above $133.95 and the larger id of the two at
	// $133.95 make up M=5.
	above := 0
	for i, c := range cs {
		if c.Monetary > 133.95 {
			above++
			if scores[i].M != 5 {
				t.Errorf("%s spent %v but M=%d", c.ID, c.Monetary, scores[i].M)
			}
		}
	}
	if above != 4713 || byID["14704"].M != 5 || byID["03770"].M != 4 {
		t.Errorf("%d above $133.95 (want 4713); M of 14704 = %d (want 5), of 03770 = %d (want 4)", above, byID["14704"].M, byID["03770"].M)
	}
	// Recency: 4,701 bought after 1998-02-09 (141 days before the end);
	// of the 18 who last bought that day the 5 smallest ids are R=4.
	var on0209 []string
	for i, c := range cs {
		switch {
		case c.RecencyDays < 141 && scores[i].R != 5:
			t.Errorf("%s last bought %v days ago but R=%d", c.ID, c.RecencyDays, scores[i].R)
		case c.RecencyDays == 141:
			on0209 = append(on0209, c.ID)
		}
	}
	if len(on0209) != 18 {
		t.Fatalf("%d customers last bought on 1998-02-09, want 18", len(on0209))
	}
	r4 := 0
	for _, id := range on0209 {
		if byID[id].R == 4 {
			r4++
			if id > "09674" {
				t.Errorf("%s (1998-02-09) is R=4; only ids up to 09674 should be", id)
			}
		}
	}
	if r4 != 5 || byID["09674"].R != 4 || byID["09709"].R != 5 {
		t.Errorf("%d of the 1998-02-09 customers are R=4, want 5 (09674 R=%d, 09709 R=%d)", r4, byID["09674"].R, byID["09709"].R)
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
