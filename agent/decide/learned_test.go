package decide

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

// A learned table ranks by the segment's posterior means; an arm with few
// contacts is Thompson-sampled when the decision has a random source; an
// explicit Input.Propensities still wins; a segment without arms uses the
// offers' priors.
func TestDecide_LearnedPropensities(t *testing.T) {
	a, b, fresh := offer("a", protocol.CategoryUpsell, 10), offer("b", protocol.CategoryUpsell, 10), offer("fresh", protocol.CategoryUpsell, 10)
	a.Propensity, b.Propensity, fresh.Propensity = 0.2, 0.2, 0.2
	cat := Catalog{Offers: []protocol.Offer{a, b, fresh}, Campaigns: []protocol.Campaign{campaign("k", "a", "b", "fresh")},
		Propensities: &protocol.PropensityTable{Kind: protocol.KindPropensities, ID: "default", SegmentField: "rfmSegment",
			ExploreBelow: 50, PriorStrength: 2, Arms: []propensity.Arm{
				{OfferID: "a", Segment: "champions", Alpha: 30.4, Beta: 471.6, N: 500, Accepted: 30},   // mean ≈ 0.06
				{OfferID: "b", Segment: "champions", Alpha: 150.4, Beta: 351.6, N: 500, Accepted: 150}, // mean ≈ 0.30
				{OfferID: "fresh", Segment: "champions", Alpha: 1.4, Beta: 3.6, N: 3, Accepted: 1},     // few contacts: sampled
				{OfferID: "gone", Segment: "champions", Alpha: 1, Beta: 1, N: 0},                       // not in the catalogue
			}}}
	e := Compile(cat)
	champ := &protocol.Profile{ID: "C1", Derived: map[string]any{"rfmSegment": "champions"}}

	d := e.Decide(input(champ, "kiosk"))
	if got := order(d); got[0] != "b" || got[len(got)-1] != "a" {
		t.Fatalf("champions order %v: want b first (0.30) and a last (0.06)", got)
	}
	if r := ranked(t, d, "b"); !near(r.Propensity, 150.4/502) || !strings.Contains(r.Reason, "learned from 500 contacts") {
		t.Errorf("b: %+v", r)
	}
	// Without a random source the fresh arm takes its mean, 1.4/5.
	if r := ranked(t, d, "fresh"); !near(r.Propensity, 0.28) || !strings.Contains(r.Reason, "learned from 3 contacts") {
		t.Errorf("fresh without Rand: %+v", r)
	}
	// With one it is drawn: draws differ between decisions and stay in
	// (0, 1); b and a, past ExploreBelow, keep their means.
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[float64]bool{}
	for range 20 {
		in := input(champ, "kiosk")
		in.Rand = r
		d := e.Decide(in)
		f := ranked(t, d, "fresh")
		if f.Propensity <= 0 || f.Propensity >= 1 || !strings.Contains(f.Reason, "Thompson draw, 3 contacts so far") {
			t.Fatalf("fresh drawn: %+v", f)
		}
		// The reason shows the draw as a person reads it, the field
		// keeps every digit.
		if shown := ", propensity " + strconv.FormatFloat(f.Propensity, 'g', 4, 64) + " (Thompson"; !strings.Contains(f.Reason, shown) {
			t.Fatalf("fresh drawn: reason %q, want %q in it", f.Reason, shown)
		}
		seen[f.Propensity] = true
		if !near(ranked(t, d, "b").Propensity, 150.4/502) {
			t.Fatal("a well-known arm was sampled")
		}
	}
	if len(seen) < 15 {
		t.Errorf("20 draws gave %d distinct propensities", len(seen))
	}
	// An explicit propensity wins over the table.
	in := input(champ, "kiosk")
	in.Propensities = map[string]float64{"a": 0.9}
	if r := ranked(t, e.Decide(in), "a"); !near(r.Propensity, 0.9) || !strings.Contains(r.Reason, "(model)") {
		t.Errorf("explicit propensity: %+v", r)
	}
	// A segment the table has no arm for: the priors (0.2), learned from 0.
	other := &protocol.Profile{ID: "C2", Derived: map[string]any{"rfmSegment": "lost"}}
	if r := ranked(t, e.Decide(input(other, "kiosk")), "a"); !near(r.Propensity, 0.2) {
		t.Errorf("segment without arms: %+v", r)
	}
}

func order(d api.Decision) []string {
	var ids []string
	for _, o := range d.Offers {
		ids = append(ids, o.OfferID)
	}
	return ids
}
