package cache_test

import (
	"encoding/json"
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

// An entry's worth of changes can be larger than one badger transaction
// on the agent's small memtables (5,000 derive changes each rewriting a
// held profile came to 2.8 MB against badger's 2.4 MB): the page goes in
// parts, all of it applied, the position moved once.
func TestCache_APageLargerThanATransactionIsAppliedWhole(t *testing.T) {
	c := open(t, t.TempDir())
	c.SetRegion("sh", true)
	const n = 5000
	var puts, derives []api.Change
	u := protocol.DerivedUpdate{Set: map[string]any{"rfmRecency": 3.0, "rfmFrequency": 4.0, "rfmMonetary": 5.0, "rfm": "345", "rfmSegment": "loyal",
		"valueTier": "medium", "lifecycleStage": "mature", "clv": 812.5, "expectedPurchases": 2.1, "pAlive": 0.8}}
	for i := range n {
		p := protocol.Profile{ID: fmt.Sprintf("C%07d", i), Region: "sh", Index: 1, Attributes: map[string]any{
			"name": fmt.Sprintf("Customer %d", i), "phone": fmt.Sprintf("138%08d", i), "tenureMonths": float64(1 + i%120),
			"voiceMinutes": float64(i * 7 % 2000), "dataMB": float64(i * 13 % 30000), "sms": float64(i % 300), "plan": "family-88",
			"arpu": 38 + float64(i%9000)/100, "device": "Huawei Mate 60 Pro", "contract": "24-month family bundle with broadband",
			"address": "Room 1201, Building 7, Lane 88, Zhangjiang Road, Pudong New Area, Shanghai"}}
		doc, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		puts = append(puts, api.Change{Index: 1, Op: api.OpPut, Kind: cache.KindCustomer, ID: p.ID, Region: "sh", Doc: doc})
		derives = append(derives, deriveChange(2, p.ID, u))
	}
	if applied, err := c.ApplyChanges(at(1), puts); err != nil || applied != n {
		t.Fatalf("puts: %d applied, %v", applied, err)
	}
	if applied, err := c.ApplyChanges(at(2), derives); err != nil || applied != n {
		t.Fatalf("derives: %d applied, %v", applied, err)
	}
	for _, id := range []string{"C0000000", "C0002500", "C0004999"} {
		if p, ok, err := c.Profile(id); err != nil || !ok || p.Derived["rfm"] != "345" || p.Index != 2 {
			t.Fatalf("%s = %+v, %v, %v", id, p, ok, err)
		}
	}
	if pos := c.Position(); pos.Index != 2 {
		t.Fatalf("position %+v, want index 2", pos)
	}
}
