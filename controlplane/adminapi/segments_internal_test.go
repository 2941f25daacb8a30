package adminapi

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/analytics/segment"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// The run compares a million customers' scores without building their
// field maps: the shortcut must encode what the map would.
func TestSegments_ScoreOwnedEncodingIsTheFieldMapsEncoding(t *testing.T) {
	for _, c := range []struct {
		r    segmentScore
		v    lifetimeValue
		hasV bool
	}{
		{segmentScore{segment: segmentNone, tier: "low", stage: "new"}, lifetimeValue{}, false},
		{segmentScore{rfm: segment.RFM{R: 5, F: 4, M: 3}, segment: "loyal", tier: "high", stage: "mature"}, lifetimeValue{clv: 812.5, purchases: 2.1, alive: 0.8, hasCLV: true}, true},
		{segmentScore{rfm: segment.RFM{R: 5, F: 4, M: 3}, segment: "loyal", tier: "high", stage: "mature"}, lifetimeValue{purchases: 2.1, alive: 0.8}, true},
		{segmentScore{rfm: segment.RFM{R: 1, F: 1, M: 1}, segment: "lost", tier: "low", stage: "lapsed"}, lifetimeValue{}, true},
	} {
		want := ownedFields(scoreFields(&c.r, c.v, c.hasV))
		if got := string(appendScoreOwned(nil, &c.r, c.v, c.hasV)); got != want {
			t.Errorf("%+v: appendScoreOwned %q, ownedFields of the map %q", c, got, want)
		}
	}
	// A stored value of another type, or -0 against 0, compares as the
	// store's decoder would see it.
	if ownedFields(map[string]any{fieldCLV: 0.0}) != ownedFields(map[string]any{fieldCLV: math.Copysign(0, -1)}) {
		t.Error("-0 and 0 differ")
	}
	if ownedFields(map[string]any{fieldRFM: "545"}) == ownedFields(map[string]any{fieldRFM: 545.0}) {
		t.Error("a string and a number of the same digits compare equal")
	}
}

// With purchases but no customer back on a second day, BG/NBD would
// degenerate (everyone alive for sure, buying nothing): no lifetime value
// is written, and the summary says why.
func TestSegments_NoRepeatPurchaseFitsNoLifetimeValue(t *testing.T) {
	asOf := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var ps []segment.Customer
	acts := map[string]fsm.Activity{}
	for i := range 60 {
		id := fmt.Sprintf("C%d", i)
		ps = append(ps, segment.Customer{ID: id})
		day := asOf.AddDate(0, 0, -i-1)
		acts[id] = fsm.Activity{PurchaseDays: 1, FirstPurchase: day, LastPurchase: day, Spend: 10}
	}
	var sum api.CLVRunSummary
	if vs := fitLifetimeValue(ps, acts, asOf, 52, &sum); vs != nil || !strings.Contains(sum.Skipped, "second day") || sum.BGNBD != nil {
		t.Fatalf("no repeat purchase: %d values, summary %+v", len(vs), sum)
	}
	// Repeats without spend: BG/NBD is fitted, Gamma-Gamma is not, and
	// no customer gets a clv field.
	for i := range 30 {
		id := fmt.Sprintf("C%d", i)
		a := acts[id]
		a.PurchaseDays, a.FirstPurchase = 2+i%3, a.LastPurchase.AddDate(0, 0, -20-i)
		acts[id] = a
	}
	sum = api.CLVRunSummary{}
	vs := fitLifetimeValue(ps, acts, asOf, 52, &sum)
	if sum.BGNBD == nil || sum.GammaGamma != nil || !strings.Contains(sum.Skipped, "Gamma-Gamma") || len(vs) == 0 {
		t.Fatalf("repeats without spend: %d values, summary %+v", len(vs), sum)
	}
	for id, v := range vs {
		if _, ok := scoreFields(&segmentScore{segment: segmentNone}, v, true)[fieldCLV]; ok {
			t.Fatalf("%s got a clv though Gamma-Gamma was not fitted: %+v", id, v)
		}
	}
}

// contactLedger is a segmentState over events held in memory, each
// customer's in time order as the FSM's customer index gives them.
type contactLedger []protocol.ContactEvent

func (l contactLedger) Applied() uint64 { return 1 }

func (l contactLedger) EachProfile(func(p *protocol.Profile) error) error { return nil }

func (l contactLedger) EachContact(fn func(ev *protocol.ContactEvent) error) error {
	for i := range l {
		ev := l[i]
		if err := fn(&ev); err != nil {
			return err
		}
	}
	return nil
}

// The ledger a run reads is the ledger as of its date: a customer who
// bought before and after it enters RFM and BG/NBD with the purchases up
// to it only (t_x ≤ T), and one who bought only after it is not a
// purchaser at all.
func TestSegments_LedgerActivityStopsAtAsOf(t *testing.T) {
	asOf := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	at := func(days int, hour int) time.Time {
		return asOf.AddDate(0, 0, days).Add(time.Duration(hour) * time.Hour)
	}
	ev := func(id string, t time.Time, typ, outcome string, v float64) protocol.ContactEvent {
		return protocol.ContactEvent{CustomerID: id, Time: t, Type: typ, Outcome: outcome, Value: v}
	}
	buy := protocol.ContactTransaction
	ok := protocol.OutcomeAccepted
	ledger := contactLedger{
		ev("A", at(-30, 0), buy, ok, 10),
		ev("A", at(-10, 0), buy, ok, 20),
		ev("A", at(-10, 1), buy, ok, 5), // same day: one purchase
		ev("A", at(0, 0).Add(-time.Second), protocol.ContactOffer, protocol.OutcomePresented, 0), // just before asOf: counts
		ev("A", at(0, 0), buy, ok, 99), // at asOf: after it
		ev("A", at(0, 1), buy, ok, 99), // an hour after asOf
		ev("A", at(20, 0), buy, ok, 500),
		ev("B", at(-5, 0), buy, protocol.OutcomeHoldout, 40), // a holdout never counts
		ev("B", at(3, 0), buy, ok, 70),                       // only after asOf
	}
	acts, err := fsm.SumActivities(ledger.EachContact, asOf)
	if err != nil {
		t.Fatal(err)
	}
	midnight := func(days int) time.Time { return at(days, -12) }
	want := fsm.Activity{Transactions: 3, Spend: 35, PurchaseDays: 2, FirstPurchase: midnight(-30), LastPurchase: midnight(-10), RepeatSpend: 25, LastContact: asOf.Add(-time.Second)}
	if got := acts["A"]; got != want {
		t.Errorf("A: %+v\nwant %+v", got, want)
	}
	if b, ok := acts["B"]; ok {
		t.Errorf("B, with nothing counted by asOf: %+v", b)
	}
	cs := []segment.Customer{{ID: "A"}, {ID: "B"}}
	c, ranked, err := segmentInputs(&protocol.Profile{ID: "A"}, acts["A"], api.SegmentInputs{}, false, asOf)
	if err != nil || !ranked || c.RecencyDays != 10 || c.Frequency != 2 || c.Monetary != 35 || c.InactiveDays != 0 {
		t.Errorf("A's inputs %+v ranked %v, %v", c, ranked, err)
	}
	if _, ranked, _ := segmentInputs(&protocol.Profile{ID: "B"}, acts["B"], api.SegmentInputs{}, false, asOf); ranked {
		t.Error("B, who bought only after asOf, is ranked")
	}
	// Lifetime value sees one purchaser, A, a repeater (B's purchase
	// came after asOf).
	var sum api.CLVRunSummary
	fitLifetimeValue(cs, acts, asOf, 52, &sum)
	if sum.Customers != 1 || sum.Repeaters != 1 {
		t.Errorf("lifetime value: %+v", sum)
	}
}

// As of a date (its midnight), purchases imported with that date (stamped
// at its midnight) are after it: a customer whose first purchase is there
// is no purchaser yet. Counted, that customer's age T was 0 and the whole
// BG/NBD fit failed, so the run removed every customer's lifetime value.
func TestSegments_PurchasesStampedAtTheAsOfMidnightWaitForTheNextRun(t *testing.T) {
	asOf := time.Date(1997, 2, 15, 0, 0, 0, 0, time.UTC)
	var ledger contactLedger
	buy := func(id string, at time.Time, v float64) {
		ledger = append(ledger, protocol.ContactEvent{CustomerID: id, Time: at, Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted, Value: v})
	}
	var ps []segment.Customer
	for i := range 60 {
		id := fmt.Sprintf("C%02d", i)
		ps = append(ps, segment.Customer{ID: id})
		buy(id, asOf.AddDate(0, 0, -40-i), 10)
		if i%2 == 0 {
			buy(id, asOf.AddDate(0, 0, -10-i%7), 12+float64(i%5))
		}
	}
	ps = append(ps, segment.Customer{ID: "NEW"})
	buy("NEW", asOf, 30) // bought on the as-of day
	acts, err := fsm.SumActivities(ledger.EachContact, asOf)
	if err != nil {
		t.Fatal(err)
	}
	var sum api.CLVRunSummary
	vs := fitLifetimeValue(ps, acts, asOf, 52, &sum)
	if sum.BGNBD == nil || sum.GammaGamma == nil || sum.Skipped != "" || sum.Customers != 60 {
		t.Fatalf("summary %+v", sum)
	}
	if _, ok := vs["NEW"]; ok {
		t.Fatal("a customer whose first purchase is at the as-of instant was valued")
	}
}

// A negative horizon (the CLI's --clv-weeks 0) skips lifetime value, and
// the summary says so in the API's terms.
func TestSegments_NegativeHorizonSkipsLifetimeValue(t *testing.T) {
	var sum api.CLVRunSummary
	if vs := fitLifetimeValue(nil, nil, time.Now(), -1, &sum); vs != nil || sum.Skipped != clvNotAsked || strings.Contains(sum.Skipped, "< 0") {
		t.Errorf("values %v, summary %+v", vs, sum)
	}
}

// A config part written with fields is taken as written; one left out,
// null or {} is the defaults.
func TestSegments_ConfigPartWrittenIsTakenAsWritten(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		cfg  segment.Config
		want string // in the error; "" for none
	}{
		{``, segment.Config{}, ""},
		{`{"lifecycle":{},"tiers":null}`, segment.Config{}, ""},
		{`{"lifecycle":{"lapsedDays":0}}`, segment.Config{}, "lapsed days 0"},
		{`{"lifecycle":{"lapsedDays":-5}}`, segment.Config{Lifecycle: segment.LifecycleConfig{LapsedDays: -5}}, "lapsed days -5"},
		{`{"tiers":{"highShare":0}}`, segment.Config{}, "high share 0"},
		{`{"segments":{"rules":[]}}`, segment.Config{}, "no rule matches"},
		{`{"lifecycle":{"lapsedDays":30,"newMonths":1,"matureMonths":6,"decliningRatio":0.5,"growingRatio":2}}`,
			segment.Config{Lifecycle: segment.LifecycleConfig{LapsedDays: 30, NewMonths: 1, MatureMonths: 6, DecliningRatio: 0.5, GrowingRatio: 2}}, ""},
	} {
		err := validateSegmentConfig(tc.cfg, json.RawMessage(tc.raw))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.raw, err, tc.want)
		}
	}
}
