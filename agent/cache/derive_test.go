package cache_test

import (
	"fmt"
	"testing"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func deriveChange(idx uint64, id string, u protocol.DerivedUpdate) api.Change {
	return api.Change{Index: idx, Op: api.OpDerive, Kind: cache.KindCustomer, ID: id, Doc: u.AppendJSON(nil)}
}

func TestCache_DeriveChangesUpdateHeldProfilesOnly(t *testing.T) {
	c := open(t, t.TempDir())
	c.SetRegion("sh", false)
	held := customer(1, "C1", "sh", 12)
	if _, err := c.ApplyChanges(at(1), []api.Change{held}); err != nil {
		t.Fatal(err)
	}
	// C1 is held; C2 is not (and is not fetched for a derive); C3's copy,
	// prefetched at 9, already reflects the change at 2.
	if err := c.PutProfiles([]cache.Fetched{{Profile: protocol.Profile{ID: "C3", Region: "bj", Index: 9, Derived: map[string]any{"rfm": "555"}}}}); err != nil {
		t.Fatal(err)
	}
	u := protocol.DerivedUpdate{Set: map[string]any{"rfm": "545", "clv": 10.5}}
	if n, err := c.ApplyChanges(at(2), []api.Change{deriveChange(2, "C1", u), deriveChange(2, "C2", u), deriveChange(2, "C3", u)}); err != nil || n != 3 {
		t.Fatalf("applied %d: %v", n, err)
	}
	p, ok, err := c.Profile("C1")
	if err != nil || !ok || fmt.Sprint(p.Derived) != "map[clv:10.5 rfm:545]" || p.Attributes["tenureMonths"] != 12.0 || p.Index != 2 {
		t.Fatalf("C1 = %+v, %v, %v", p, ok, err)
	}
	if _, ok, _ := c.Profile("C2"); ok {
		t.Fatal("a derive change created a profile the cache did not hold")
	}
	if p, _, _ := c.Profile("C3"); fmt.Sprint(p.Derived) != "map[rfm:555]" {
		t.Fatalf("an older derive overwrote a newer copy: %v", p.Derived)
	}
	// The next run's update unsets what it no longer computes.
	next := protocol.DerivedUpdate{Set: map[string]any{"rfmSegment": "none"}, Unset: []string{"rfm", "clv"}}
	if _, err := c.ApplyChanges(at(3), []api.Change{deriveChange(3, "C1", next)}); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := c.Profile("C1"); fmt.Sprint(p.Derived) != "map[rfmSegment:none]" {
		t.Fatalf("after the second update C1 derived = %v", p.Derived)
	}
	bad := api.Change{Index: 4, Op: api.OpDerive, Kind: cache.KindCustomer, ID: "C1", Doc: []byte(`{"set":[]}`)}
	if _, err := c.ApplyChanges(at(4), []api.Change{bad}); err == nil {
		t.Fatal("a malformed derive change applied")
	}
}
