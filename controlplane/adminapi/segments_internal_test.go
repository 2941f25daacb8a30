package adminapi

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/analytics/segment"
	"touchpoint.dev/touchpoint/controlplane/fsm"
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
