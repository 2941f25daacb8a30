package adminapi

import (
	"math"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/analytics/segment"
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
		{segmentScore{rfm: segment.RFM{R: 5, F: 4, M: 3}, segment: "loyal", tier: "high", stage: "mature"}, lifetimeValue{clv: 812.5, purchases: 2.1, alive: 0.8}, true},
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
